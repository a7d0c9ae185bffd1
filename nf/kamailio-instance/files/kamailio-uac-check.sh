#!/bin/sh
# kamailio-uac-check CTL: every outbound registration (uac, the uacreg table) of the instance whose control socket
# is CTL is online at its registrar (flag 4, UAC_REG_ONLINE, in uac.reg_dump). Prints one line per registration.
# Installed by nf-deploy; used as a health check of instances with uac.
ctl="$1"
out=$(kamcmd -s "unix:$ctl" uac.reg_dump 2>&1) || { echo "uac.reg_dump failed: $out"; exit 2; }
echo "$out" | awk '
  /l_uuid:/ { u = $2 }
  /flags:/  { n++; f = $2 + 0; on = int(f / 4) % 2; printf "%s: %s (flags %d)\n", u, on ? "online" : "not registered", f; if (!on) bad++ }
  END       { if (n == 0) { print "no registrations in uacreg"; exit 1 } exit bad ? 1 : 0 }'
