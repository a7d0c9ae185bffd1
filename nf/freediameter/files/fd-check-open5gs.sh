#!/bin/sh
# fd-check-open5gs conf CONF DAEMON       validates a freeDiameter config for an Open5GS daemon's embedded freeDiameter
# fd-check-open5gs key KEY CONF DAEMON    validates a new TLS key (as it will be: owner, group, mode) for that config
# Open5GS daemons have no check mode and run as user open5gs: for open5gs-smfd a trial smfd is started as open5gs on a
# copy of the config with no Diameter ports and no peers (and on loopback test ports for PFCP/GTP), and must reach
# "SMF initialize...done" (dictionaries, TLS credentials readable by open5gs, CA and Identity are checked then).
# For other daemons (open5gs-pcrfd needs its MongoDB) only the key's readability by open5gs is checked.
# Installed by nf-deploy.
mode=$1
case "$mode" in
  conf) conf=$2; key=; daemon=$3 ;;
  key) key=$2; conf=$3; daemon=$4 ;;
  *) echo "usage: fd-check-open5gs conf CONF DAEMON | key KEY CONF DAEMON" >&2; exit 2 ;;
esac
# A file of the set being written (NFD_SET: "PATH=TEMP ..."): its new content, else the live file.
staged() {
  for r in ${NFD_SET:-}; do [ "${r%%=*}" = "$1" ] && { printf '%s\n' "${r#*=}"; return; }; done
  printf '%s\n' "$1"
}
[ -n "$key" ] && conf=$(staged "$conf")
user=open5gs
getent passwd "$user" >/dev/null || { echo "fd-check-open5gs: no user $user: Open5GS is not installed here" >&2; exit 1; }
as_user() { runuser -u "$user" -- "$@"; }
if [ -n "$key" ]; then
  as_user test -r "$key" || {
    echo "the Diameter TLS key would be $(stat -c '%U:%G %a' "$key"): user $user cannot read it, and $daemon's freeDiameter fails to parse its config (Unable to open private key file: Permission denied)" >&2
    exit 1; }
  [ -r "$conf" ] || exit 0 # first rollout: the config comes next and is checked then
fi
[ -r "$conf" ] || { echo "fd-check-open5gs: cannot read $conf" >&2; exit 2; }
# the credentials the config names, as they will be once the set is in place
cred_cert=$(sed -n 's/^[[:space:]]*TLS_Cred[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$conf" | tail -n 1)
cred_key=$(sed -n 's/^[[:space:]]*TLS_Cred[[:space:]]*=[[:space:]]*"[^"]*"[[:space:]]*,[[:space:]]*"\([^"]*\)".*/\1/p' "$conf" | tail -n 1)
cred_ca=$(sed -n 's/^[[:space:]]*TLS_CA[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$conf" | tail -n 1)
if [ -z "$key" ] && [ -n "$cred_key" ]; then
  key=$(staged "$cred_key")
  if ! as_user test -r "$key"; then
    echo "TLS_Cred's key $cred_key is $(stat -c '%U:%G %a' "$key" 2>/dev/null || echo missing): user $user cannot read it" >&2; exit 1
  fi
fi
[ -n "$cred_cert" ] && cred_cert=$(staged "$cred_cert")
[ -n "$cred_ca" ] && cred_ca=$(staged "$cred_ca")
[ "$daemon" = open5gs-smfd ] && [ -x /usr/bin/open5gs-smfd ] || exit 0

# the trial smfd is stopped and gone (its test ports free again) before this check ends: a set runs two checks in a row
stop_trial() {
  [ -n "${pid:-}" ] || return 0
  kill "$pid" 2>/dev/null
  i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
  kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
}
pid=
dir=$(mktemp -d); trap 'stop_trial; rm -rf "$dir"' EXIT
chown "$user" "$dir"; chmod 755 "$dir"
sed -e 's/^[[:space:]]*Port[[:space:]]*=.*/Port = 0;/' -e 's/^[[:space:]]*SecPort[[:space:]]*=.*/SecPort = 0;/' \
    -e '/^[[:space:]]*ConnectPeer/d' "$conf" > "$dir/fd.conf"
grep -q '^Port = 0;' "$dir/fd.conf" || echo 'Port = 0;' >> "$dir/fd.conf"
grep -q '^SecPort = 0;' "$dir/fd.conf" || echo 'SecPort = 0;' >> "$dir/fd.conf"
# the trial reads the new credentials (paths passed as data, through the environment)
if [ -n "$cred_cert" ]; then
  CERT=$cred_cert KEY=$key CA=$cred_ca awk '
    /^[[:space:]]*TLS_Cred[[:space:]]*=/ { print "TLS_Cred = \"" ENVIRON["CERT"] "\", \"" ENVIRON["KEY"] "\";"; next }
    /^[[:space:]]*TLS_CA[[:space:]]*=/ && ENVIRON["CA"] != "" { print "TLS_CA = \"" ENVIRON["CA"] "\";"; next }
    { print }' "$dir/fd.conf" > "$dir/fd.conf.new" && mv "$dir/fd.conf.new" "$dir/fd.conf"
fi
version=$(dpkg-query -W -f '${Version}' open5gs-smf 2>/dev/null)
case "$version" in
  2.[0-6].*|2.[0-6])
    printf 'logger:\n    file: %s/smf.log\nsmf:\n    freeDiameter: %s/fd.conf\n    pfcp:\n      - addr: 127.0.0.1\n        port: 38805\n    gtpc:\n      - addr: 127.0.0.1\n        port: 32123\n    gtpu:\n      - addr: 127.0.0.1\n        port: 32152\n    subnet:\n      - addr: 10.253.0.1/16\n    dns:\n      - 127.0.0.1\n' "$dir" "$dir" > "$dir/smf.yaml" ;;
  *)
    printf 'logger:\n  file:\n    path: %s/smf.log\nsmf:\n  freeDiameter: %s/fd.conf\n  pfcp:\n    server:\n      - address: 127.0.0.1\n        port: 38805\n  gtpc:\n    server:\n      - address: 127.0.0.1\n        port: 32123\n  gtpu:\n    server:\n      - address: 127.0.0.1\n        port: 32152\n  session:\n    - subnet: 10.253.0.0/16\n      gateway: 10.253.0.1\n  dns:\n    - 127.0.0.1\n' "$dir" "$dir" > "$dir/smf.yaml" ;;
esac
chmod 644 "$dir/fd.conf" "$dir/smf.yaml"
# setpriv execs smfd itself as open5gs (no wrapping process): $pid is the daemon the trap stops
setpriv --reuid="$user" --regid="$user" --init-groups /usr/bin/open5gs-smfd -c "$dir/smf.yaml" -l "$dir/smf.log" > "$dir/out" 2>&1 &
pid=$!
i=0
while [ $i -lt 100 ]; do
  if grep -q 'SMF initialize...done' "$dir/smf.log" 2>/dev/null; then exit 0; fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1; i=$((i+1))
done
echo "open5gs-smfd (as $user) refuses $conf:" >&2
cat "$dir/smf.log" "$dir/out" 2>/dev/null | grep -E 'FATAL|ERROR|error|fail' | sed 's/^[0-9/]* [0-9:.]*: //' | head -n 6 >&2
exit 1
