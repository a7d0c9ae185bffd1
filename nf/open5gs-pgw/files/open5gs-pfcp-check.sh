#!/bin/sh
# open5gs-pfcp-check LOG ADDRESS...: the Open5GS daemon writing LOG (smf.log) is associated over PFCP with every
# ADDRESS (its UPFs) since it last started: the last "PFCP associated/de-associated [ADDRESS]" of the current run
# (which starts at the daemon's last "Open5GS daemon v2.x.y" banner) is an association. Installed by nf-deploy.
log=$1; shift
[ -r "$log" ] || { echo "no log $log" >&2; exit 2; }
rc=0
for a in "$@"; do
  last=$(awk '/Open5GS daemon v?[0-9]/ { n = NR } { line[NR] = $0 } END { for (i = (n > 0 ? n : 1); i <= NR; i++) print line[i] }' "$log" \
    | grep -F -e "PFCP associated [$a]" -e "PFCP de-associated [$a]" | tail -n 1)
  case "$last" in
    *"PFCP associated"*) echo "PFCP associated [$a]" ;;
    *) echo "PFCP with $a: ${last:-not associated since the last start}" >&2; rc=1 ;;
  esac
done
exit $rc
