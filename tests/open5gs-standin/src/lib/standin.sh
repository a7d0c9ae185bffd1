# standin.sh: the body shared by the nf-deploy Open5GS STAND-IN daemons (open5gs-pgwd, open5gs-smfd, open5gs-upfd).
# NOT Open5GS: these daemons speak no GTP, PFCP, SBI or Diameter. They do what the real daemons do at start-up
# that a deployer can observe: read /etc/default/<daemon>, check the configuration file against the keys the chosen
# Open5GS version reads (keys/<nf>-<version>.txt), open the log file, optionally daemonize with a pid file,
# and then stay up (sleep) until TERM.
#
# Sourced (POSIX sh) by /usr/bin/open5gs-<nf>d after it set:
#   STANDIN_NF        pgw | smf | upf              (config section, log file and key-list name)
#   STANDIN_DAEMON    open5gs-pgwd ...             (command name = process name that init scripts match)
#   STANDIN_VERSION   default Open5GS version whose keys are checked (overridden by OPEN5GS_STANDIN_VERSION)
#   STANDIN_SUMMARY   "label=path ..." values named in the start-up log line (paths without [])
#   STANDIN_CHECK     keys | exists                ("exists": only check that the file is there and readable)

STANDIN_LIB=${STANDIN_LIB:-/usr/lib/open5gs-standin}
STANDIN_KEYS=${STANDIN_KEYS:-/usr/share/open5gs-standin/keys}
STANDIN_PACKAGE_VERSION=${STANDIN_PACKAGE_VERSION:-@PACKAGE_VERSION@}

standin_usage() {
  cat <<EOF
Usage: $STANDIN_DAEMON [options]
STAND-IN for nf-deploy lab tests, not Open5GS: checks the configuration like Open5GS $STANDIN_VERSION would
read it, then idles. It does NOT speak GTP, PFCP, SBI or Diameter and opens no socket.
Options (those of the real daemon, plus -P and --check):
   -c filename    : set configuration file (default: /etc/open5gs/$STANDIN_NF.yaml)
   -l filename    : set logging file (default: logger.file from the configuration, else /var/log/open5gs/$STANDIN_NF.log)
   -e level       : set global log-level (accepted, ignored)
   -m domain      : set log-domain (accepted, ignored)
   -d             : print lots of debugging information (accepted, ignored)
   -t             : print tracing information for developer (accepted, ignored)
   -D             : start as a daemon: check, fork to the background, write the pid file
   -P filename    : pid file (stand-in only; default with -D: /run/$STANDIN_DAEMON/${STANDIN_NF}d.pid)
   --check        : check the configuration and exit (stand-in only; Open5GS has no such flag)
   -v             : show version number and exit
   -h, --help     : show this message and exit
Environment: OPEN5GS_STANDIN_VERSION (else from /etc/default/$STANDIN_DAEMON, else $STANDIN_VERSION) picks the
Open5GS version whose configuration keys are checked; known: $(standin_known_versions)
EOF
}

standin_known_versions() {
  known=
  for f in "$STANDIN_KEYS/$STANDIN_NF"-*.txt; do
    [ -e "$f" ] || continue
    f=${f##*/}; f=${f#"$STANDIN_NF"-}; known="${known:-}${known:+ }${f%.txt}"
  done
  printf "%s" "${known:-none}"
}

standin_log() { # message: appends one Open5GS-style line to the log file
  [ -n "${standin_logfile:-}" ] || return 0
  { printf '%s: [%s] INFO: %s\n' "$(date '+%m/%d %H:%M:%S.%3N')" "$STANDIN_NF" "$*" >>"$standin_logfile"; } 2>/dev/null || true
}

standin_fail() { # message...: one line on stderr (and in the log file when known), exit 1 like the real daemon
  for m in "$@"; do printf '%s\n' "$m" >&2; done
  if [ -n "${standin_logfile:-}" ]; then
    for m in "$@"; do
      { printf '%s: [%s] ERROR: %s\n' "$(date '+%m/%d %H:%M:%S.%3N')" "$STANDIN_NF" "$m" >>"$standin_logfile"; } 2>/dev/null || true
    done
  fi
  exit 1
}

# Sets standin_version and standin_keyfile; fails for a version without a key list.
standin_pick_version() {
  standin_version=${OPEN5GS_STANDIN_VERSION:-}
  if [ -z "$standin_version" ] && [ -r "/etc/default/$STANDIN_DAEMON" ]; then
    standin_version=$(OPEN5GS_STANDIN_VERSION=; . "/etc/default/$STANDIN_DAEMON" >/dev/null 2>&1; printf '%s' "${OPEN5GS_STANDIN_VERSION:-}")
  fi
  standin_version=${standin_version:-$STANDIN_VERSION}
  if [ "$STANDIN_CHECK" = exists ]; then standin_keyfile=$STANDIN_KEYS/$STANDIN_NF.txt; return 0; fi
  major=${standin_version%%.*}; rest=${standin_version#*.}; minor=${rest%%[!0-9]*}
  case "$major.$minor" in
    *[!0-9.]*|.*|*.) mm= ;;
    *) mm=$major.$minor ;;
  esac
  [ "$rest" != "$standin_version" ] || mm=
  standin_keyfile=$STANDIN_KEYS/$STANDIN_NF-$mm.txt
  if [ -z "$mm" ] || [ ! -r "$standin_keyfile" ]; then
    standin_fail "$STANDIN_DAEMON: OPEN5GS_STANDIN_VERSION '$standin_version' has no key list (stand-in knows: $(standin_known_versions))"
  fi
}

# Checks the configuration; on success sets standin_logfile and standin_summary.
standin_check() {
  standin_pick_version
  [ -f "$standin_conf" ] && [ -r "$standin_conf" ] \
    || standin_fail "$STANDIN_DAEMON: cannot read configuration file '$standin_conf'"
  want=logger.file
  for pair in $STANDIN_SUMMARY; do want="$want ${pair#*=}"; done
  others=
  if [ "$STANDIN_CHECK" = keys ]; then
    for f in "$STANDIN_KEYS/$STANDIN_NF"-*.txt; do
      [ "$f" = "$standin_keyfile" ] || [ ! -r "$f" ] && continue
      v=${f##*/}; v=${v#"$STANDIN_NF"-}; others="$others ${v%.txt}=$f"
    done
    lenient=0
  else
    lenient=1
  fi
  # problems come on stdout with exit 1; on success the values of $want, one "path=v1,v2" line each
  if ! values=$(awk -f "$STANDIN_LIB/check-config.awk" -v keys="$standin_keyfile" -v ver="$standin_version" \
                  -v others="$others" -v want="$want" -v lenient="$lenient" -v errto=/dev/stdout "$standin_conf"); then
    [ -n "$standin_logfile" ] || standin_logfile=$(standin_default_log)
    standin_fail "$values" "$STANDIN_DAEMON stand-in: configuration check failed ($standin_conf, Open5GS $standin_version keys from $standin_keyfile)"
  fi
  cfg_log=
  standin_summary=
  while IFS= read -r kv; do
    k=${kv%%=*}; v=${kv#*=}
    [ "$k" = logger.file ] && cfg_log=${v%%,*}
    for pair in $STANDIN_SUMMARY; do
      [ "${pair#*=}" = "$k" ] && standin_summary="$standin_summary${standin_summary:+ }${pair%%=*} ${v:--}"
    done
  done <<EOF
$values
EOF
  # logger.file from the configuration unless -l was given
  [ -n "$standin_logfile" ] || standin_logfile=${cfg_log:-$(standin_default_log)}
  case "$standin_logfile" in
    */*) [ -d "${standin_logfile%/*}" ] || mkdir -p "${standin_logfile%/*}" 2>/dev/null || true ;;
  esac
  if ! { true >>"$standin_logfile"; } 2>/dev/null; then # not ":": a redirection error on a special built-in ends sh
    bad=$standin_logfile; standin_logfile=
    standin_fail "$STANDIN_DAEMON: cannot open log file '$bad'"
  fi
}

standin_default_log() { echo "/var/log/open5gs/$STANDIN_NF.log"; }

# The idle loop: stays up until TERM/INT, removes its pid file on the way out.
standin_idle() {
  sleeper=
  trap 'standin_log "$STANDIN_DAEMON stand-in: signal received, exiting"; [ -n "$sleeper" ] && kill "$sleeper" 2>/dev/null && wait "$sleeper" 2>/dev/null;
        [ -n "$standin_pidfile" ] && [ "$(cat "$standin_pidfile" 2>/dev/null)" = "$$" ] && rm -f "$standin_pidfile"; exit 0' TERM INT
  trap 'standin_log "$STANDIN_DAEMON stand-in: HUP received (nothing to reload)"; [ -n "$sleeper" ] && kill "$sleeper" 2>/dev/null && wait "$sleeper" 2>/dev/null' HUP
  while :; do
    sleep 3600 &
    sleeper=$!
    wait "$sleeper" || true
    sleeper=
  done
}

standin_running_pid() { # pidfile: prints the pid when a process of this daemon holds it
  [ -r "$1" ] || return 1
  p=$(cat "$1" 2>/dev/null)
  case "$p" in ''|*[!0-9]*) return 1 ;; esac
  [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$STANDIN_DAEMON" ] || return 1
  [ "$(sed -n 's/^.*) \(.\).*$/\1/p' "/proc/$p/stat" 2>/dev/null)" != Z ] || return 1 # a zombie is gone
  printf '%s' "$p"
}

standin_main() {
  standin_conf=/etc/open5gs/$STANDIN_NF.yaml
  standin_logfile=
  standin_pidfile=
  daemonize=0
  check_only=0
  while [ $# -gt 0 ]; do
    case "$1" in
      -c|-l|-e|-m|-P)
        [ $# -ge 2 ] || standin_fail "$STANDIN_DAEMON: option $1 needs an argument (see -h)"
        case "$1" in
          -c) standin_conf=$2 ;; -l) standin_logfile=$2 ;; -P) standin_pidfile=$2 ;;
        esac
        shift 2 ;;
      -c*) standin_conf=${1#-c}; shift ;;
      -l*) standin_logfile=${1#-l}; shift ;;
      -P*) standin_pidfile=${1#-P}; shift ;;
      -e*|-m*|-d|-t) shift ;;
      -D) daemonize=1; shift ;;
      --check) check_only=1; shift ;;
      -v|--version)
        echo "$STANDIN_DAEMON stand-in $STANDIN_PACKAGE_VERSION (nf-deploy lab; checks Open5GS configuration keys, not Open5GS)"
        exit 0 ;;
      -h|--help) standin_usage; exit 0 ;;
      *) standin_fail "$STANDIN_DAEMON: unknown option '$1' (see -h)" ;;
    esac
  done

  # The background child of -D: the parent has checked everything already.
  if [ "${OPEN5GS_STANDIN_CHILD:-}" = 1 ]; then
    unset OPEN5GS_STANDIN_CHILD
    cd / || true
    standin_idle
  fi

  standin_check
  if [ "$check_only" = 1 ]; then
    if [ "$STANDIN_CHECK" = keys ]; then
      echo "$STANDIN_DAEMON stand-in: configuration $standin_conf ok (Open5GS $standin_version keys)"
    else
      echo "$STANDIN_DAEMON stand-in: configuration $standin_conf exists (not checked further)"
    fi
    exit 0
  fi

  if [ "$STANDIN_CHECK" = keys ]; then
    okline="$STANDIN_DAEMON stand-in: config ok, $standin_summary"
  else
    okline="$STANDIN_DAEMON stand-in: config ok ($standin_conf exists; not checked further)"
  fi

  if [ "$daemonize" = 1 ]; then
    standin_pidfile=${standin_pidfile:-/run/$STANDIN_DAEMON/${STANDIN_NF}d.pid}
    mkdir -p "$(dirname "$standin_pidfile")" || standin_fail "$STANDIN_DAEMON: cannot create $(dirname "$standin_pidfile")"
    if running=$(standin_running_pid "$standin_pidfile"); then
      standin_fail "$STANDIN_DAEMON: already running (pid $running, pid file $standin_pidfile)"
    fi
    standin_log "$okline"
    # the child runs in /: hand it absolute paths
    case "$standin_logfile" in /*) ;; *) standin_logfile=$PWD/$standin_logfile ;; esac
    case "$standin_pidfile" in /*) ;; *) standin_pidfile=$PWD/$standin_pidfile ;; esac
    case "$standin_conf" in /*) ;; *) standin_conf=$PWD/$standin_conf ;; esac
    self=$0
    case "$self" in */*) ;; *) self=/usr/bin/$STANDIN_DAEMON ;; esac
    OPEN5GS_STANDIN_CHILD=1 setsid "$self" -c "$standin_conf" -l "$standin_logfile" -P "$standin_pidfile" \
      </dev/null >/dev/null 2>&1 &
    child=$!
    printf '%s\n' "$child" >"$standin_pidfile.tmp" && mv -f "$standin_pidfile.tmp" "$standin_pidfile" \
      || { kill "$child" 2>/dev/null; standin_fail "$STANDIN_DAEMON: cannot write pid file $standin_pidfile"; }
    exit 0
  fi

  # Foreground (how systemd runs it)
  if [ -n "$standin_pidfile" ]; then
    mkdir -p "$(dirname "$standin_pidfile")" && printf '%s\n' "$$" >"$standin_pidfile" \
      || standin_fail "$STANDIN_DAEMON: cannot write pid file $standin_pidfile"
  fi
  standin_log "$okline"
  echo "$okline"
  standin_idle
}
