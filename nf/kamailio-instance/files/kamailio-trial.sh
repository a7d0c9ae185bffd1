#!/bin/sh
# kamailio-trial CFG [PATH=NEW]...: validates a Kamailio instance's files before they replace the running ones.
# `kamailio -c` does not run module init, so it misses a tls.cfg naming a certificate that does not exist, an
# unknown tls.cfg key, a KEMI script that fails to load... A real start catches them: a copy of CFG (and of its
# tls.cfg) is started for a few seconds where it cannot disturb the running instance: its listen lines moved to
# 127.0.0.1 on free ports, its own runtime dir (-Y), pid file and control socket, and each file PATH replaced by NEW
# (the new tls.cfg, KEMI script or certificate being validated). Installed by nf-deploy.
cfg="$1"; shift
# a set of files that change together (nf-deploy's NFD_SET, "PATH=NEW ..."): all of them in place, the config too
live_cfg="$cfg"
for r in $NFD_SET; do
  [ "${r#*=}" = "$cfg" ] && live_cfg=${r%%=*}
  if [ "${r%%=*}" = "$cfg" ]; then cfg=${r#*=}; else set -- "$@" "$r"; fi
done
# the set's trial of this instance already passed (each file of the set asks for the same trial)
stamp=
if [ -n "$NFD_SET_DIR" ] && [ -d "$NFD_SET_DIR" ]; then
  stamp="$NFD_SET_DIR/trial.$(printf '%s' "$live_cfg" | cksum | cut -d' ' -f1)"
  [ -e "$stamp" ] && exit 0
fi
what="$*"
if [ ! -r "$cfg" ]; then
  # first rollout: the file being validated is tried again with the config, which is written last
  echo "kamailio-trial: $cfg is not there yet; the trial runs when it is written" >&2; exit 0
fi
command -v kamailio >/dev/null 2>&1 || { echo "kamailio-trial: kamailio is not installed" >&2; exit 2; }
dir=$(mktemp -d /tmp/kamailio-trial.XXXXXX)
pid=
# Stopping the trial is bounded: its copy says exit_timeout=3 (Kamailio's main process otherwise waits up to 60 s for a
# child that does not end on SIGTERM, a child still in its start-up on a loaded host), and after 5 s it is killed.
cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null
    i=0; while [ $i -lt 50 ] && kill -0 "$pid" 2>/dev/null; do sleep 0.1; i=$((i+1)); done
    kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
owner=
id kamailio >/dev/null 2>&1 && owner=kamailio

# the replacements, each in its own folder under its own name (app_python3 imports a script by its file name)
subst="-e s/^//"   # a no-op, so that sed always has a script
i=0
for r in "$@"; do
  path=${r%%=*}; new=${r#*=}
  i=$((i+1)); mkdir -p "$dir/r$i"; cp "$new" "$dir/r$i/$(basename "$path")"
  subst="$subst -e s|$path|$dir/r$i/$(basename "$path")|g"
done

# free ports (not bound on this host), one per listen line
used=" $(ss -Hlntu 2>/dev/null | awk '{n=split($5,a,":"); printf "%s ", a[n]}')"
n=$(grep -c '^[[:space:]]*listen[[:space:]]*=' "$cfg")
ports=
p=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 30000 ))
while [ "$n" -gt 0 ]; do
  case "$used" in *" $p "*) ;; *) ports="$ports $p"; n=$((n-1)) ;; esac
  p=$((p+1))
done

sed $subst "$cfg" | awk -v ports="$ports" -v dir="$dir" '
  BEGIN { np = split(ports, port, " "); k = 0 }
  NR == 1 && /^#!(KAMAILIO|OPENSER|SER|ALL|MAXCOMPAT)/ { print; print "exit_timeout=3"; next }
  NR == 1 { print "exit_timeout=3" }
  /^[ \t]*listen[ \t]*=/ {
    v = $0; sub(/^[ \t]*listen[ \t]*=[ \t]*/, "", v); split(v, w, /[ \t]/); proto = ""
    if (w[1] ~ /^(udp|tcp|tls|sctp):/) proto = substr(w[1], 1, index(w[1], ":"))
    print "listen=" proto "127.0.0.1:" port[++k]; next }
  /^[ \t]*modparam\("ctl",[ \t]*"binrpc"/ { print "modparam(\"ctl\", \"binrpc\", \"unix:" dir "/kamailio_ctl\")"; next }
  /^[ \t]*modparam\("jsonrpcs",[ \t]*"(fifo_name|dgram_socket)"/ { next }
  { print }' > "$dir/kamailio.cfg"

# its tls.cfg, copied with the same replacements
tls=$(sed -n 's/^[[:space:]]*modparam("tls",[[:space:]]*"config",[[:space:]]*"\([^"]*\)").*/\1/p' "$dir/kamailio.cfg" | head -n1)
if [ -n "$tls" ]; then
  case "$tls" in /*) ;; *) tls="$(dirname "$cfg")/$tls" ;; esac
  if [ ! -r "$tls" ]; then echo "tls.cfg $tls does not exist" >&2; exit 1; fi
  sed $subst "$tls" > "$dir/tls.cfg"
  sed -i "s|^\([[:space:]]*modparam(\"tls\",[[:space:]]*\"config\",[[:space:]]*\"\)[^\"]*|\1$dir/tls.cfg|" "$dir/kamailio.cfg"
fi
[ -n "$owner" ] && chown -R "$owner:$owner" "$dir"

set -- -f "$dir/kamailio.cfg" -DD -E -Y "$dir" -P "$dir/kamailio.pid" -m 32 -M 8
[ -n "$owner" ] && set -- "$@" -u "$owner" -g "$owner"
kamailio "$@" > "$dir/log" 2>&1 &
pid=$!
t=0
while [ $t -lt 30 ]; do
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid"; rc=$?; pid=
    echo "kamailio refuses to start with $cfg${what:+ and $what} (trial run, exit $rc):" >&2
    grep -E 'ERROR|CRITICAL|error' "$dir/log" | sed -e 's/^ *[0-9(): ]*//' -e "s|$dir/r[0-9]*/||g" | head -n 8 >&2
    exit 1
  fi
  sleep 0.1; t=$((t+1))
done
[ -n "$stamp" ] && : > "$stamp"
exit 0
