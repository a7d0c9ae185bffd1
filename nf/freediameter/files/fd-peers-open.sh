#!/bin/sh
# fd-peers-open LOG PEER...: every PEER's last state change in freeDiameterd's LOG is STATE_OPEN. Installed by nf-deploy.
log="$1"; shift
[ -r "$log" ] || { echo "no log $log" >&2; exit 2; }
rc=0
for peer in "$@"; do
  state=$(grep -o -e "-> 'STATE_[A-Z_]*'[[:space:]]*'$peer'" "$log" | tail -n 1 | sed "s/-> '\(STATE_[A-Z_]*\)'.*/\1/")
  if [ "$state" = STATE_OPEN ]; then echo "$peer: STATE_OPEN"; else echo "$peer: ${state:-never connected}" >&2; rc=1; fi
done
exit $rc
