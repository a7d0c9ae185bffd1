#!/bin/sh
# kamailio-check CFG: what `kamailio -c` cannot see, because it does not run module init (mod_init):
#  - every listen= address must be an address of this host ("Cannot assign requested address" at start)
#  - DMQ's server_address must match a listen socket ("server_uri is not a socket the proxy is listening on")
# Installed by nf-deploy; used as the validate command of kamailio.cfg.
cfg="$1"
[ -r "$cfg" ] || { echo "kamailio-check: cannot read $cfg" >&2; exit 2; }
rc=0
local_ips=" $(ip -o addr show 2>/dev/null | awk '{split($4,a,"/"); printf "%s ", a[1]}')"
listens=$(sed -n 's/^[[:space:]]*listen[[:space:]]*=[[:space:]]*\([^[:space:]#]*\).*/\1/p' "$cfg")
for l in $listens; do
  hp=${l#udp:}; hp=${hp#tcp:}; hp=${hp#tls:}; hp=${hp#sctp:}
  ip=${hp%:*}
  [ "$ip" = "$hp" ] && ip=$hp
  case "$ip" in
    *[!0-9.]*|'') continue ;;   # interface names, IPv6, hostnames: left to kamailio
  esac
  case "$local_ips" in
    *" $ip "*) ;;
    *) echo "listen=$l: $ip is not an address of this host (it has:$local_ips)" >&2; rc=1 ;;
  esac
done
sa=$(sed -n 's/^[[:space:]]*modparam("dmq",[[:space:]]*"server_address",[[:space:]]*"sip:\([^";]*\).*/\1/p' "$cfg" | head -n1)
if [ -n "$sa" ]; then
  found=0
  for l in $listens; do
    hp=${l#udp:}; hp=${hp#tcp:}; hp=${hp#tls:}; hp=${hp#sctp:}
    [ "$hp" = "$sa" ] && found=1
  done
  [ $found = 1 ] || { echo "dmq server_address sip:$sa matches no listen socket (listen: $(echo $listens))" >&2; rc=1; }
fi
exit $rc
