#!/bin/sh
# open5gs-ogstun DEV ADDRESS/PREFIX...: the UPF's TUN device, made persistent and owned by open5gs (so that
# open5gs-upfd, running as open5gs, can attach to it), with the UE gateways as its addresses, up. Open5GS's upfd
# neither addresses nor brings up the device on Linux. Idempotent; run as root before each start. Installed by nf-deploy.
set -e
dev=$1; shift
[ -c /dev/net/tun ] || { echo "open5gs-ogstun: /dev/net/tun is missing (containers: pass the device in and add NET_ADMIN)" >&2; exit 1; }
# Debian makes /dev/net/tun 0666; a container gets the host's node as it is
[ "$(stat -c %a /dev/net/tun)" = 666 ] || chmod 0666 /dev/net/tun
ip link show "$dev" >/dev/null 2>&1 || ip tuntap add name "$dev" mode tun user open5gs
for a in "$@"; do
  case "$a" in *:*) fam=-6 ;; *) fam=-4 ;; esac
  ip $fam addr show dev "$dev" | grep -q "inet6\{0,1\} $a " || ip $fam addr add "$a" dev "$dev" 2>/dev/null \
    || [ "$fam" = -6 ] # a host without IPv6 keeps the IPv4 pool
done
ip link set "$dev" up
