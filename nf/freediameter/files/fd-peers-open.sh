#!/bin/sh
# fd-peers-open LOG PEER...            every PEER's last state change in freeDiameterd's LOG is STATE_OPEN
# fd-peers-open --open5gs LOG PEER...  every PEER reached STATE_OPEN since the Open5GS daemon writing LOG last started
#                                      (Open5GS logs "CONNECTED TO '<peer>'" on freeDiameter's HOOK_PEER_CONNECT_SUCCESS;
#                                      its run starts at the last "Open5GS daemon v2.x.y" banner)
# Installed by nf-deploy.
open5gs=false
[ "$1" = --open5gs ] && { open5gs=true; shift; }
log="$1"; shift
[ -r "$log" ] || { echo "no log $log" >&2; exit 2; }
rc=0
for peer in "$@"; do
  if $open5gs; then
    if awk '/Open5GS daemon v?[0-9]/ { n = NR } { line[NR] = $0 } END { for (i = (n > 0 ? n : 1); i <= NR; i++) print line[i] }' "$log" \
         | grep -qF "CONNECTED TO '$peer'"; then
      echo "$peer: STATE_OPEN"
    else echo "$peer: not connected since the daemon's last start" >&2; rc=1; fi
    continue
  fi
  state=$(grep -o -e "-> 'STATE_[A-Z_]*'[[:space:]]*'$peer'" "$log" | tail -n 1 | sed "s/-> '\(STATE_[A-Z_]*\)'.*/\1/")
  if [ "$state" = STATE_OPEN ]; then echo "$peer: STATE_OPEN"; else echo "$peer: ${state:-never connected}" >&2; rc=1; fi
done
exit $rc
