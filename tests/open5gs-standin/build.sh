#!/usr/bin/env bash
# Builds the nf-deploy lab's Open5GS STAND-IN packages (not Open5GS) into OUTDIR:
#   open5gs-standin-common  /usr/lib/open5gs-standin (daemon body, config checker), /usr/share/open5gs-standin/keys
#   open5gs-pgw             open5gs-pgwd (Open5GS 1.x PGW stand-in)
#   open5gs-smf             open5gs-smfd (Open5GS 2.x SMF stand-in)
#   open5gs-upf             open5gs-upfd (Open5GS 2.x UPF stand-in)
# Usage: build.sh OUTDIR        (needs dpkg-deb; run as root or not, files are owned by root:root in the packages)
# The build is reproducible: the same sources give byte-identical .debs.
# Bump STANDIN_REV whenever anything here changes what the packages install, so that lab hosts upgrade.
set -euo pipefail

STANDIN_REV=1
PGW_VERSION=1.3.0-0nfdeploy${STANDIN_REV}~standin
SMF_VERSION=2.6.0-0nfdeploy${STANDIN_REV}~standin
UPF_VERSION=2.6.0-0nfdeploy${STANDIN_REV}~standin
COMMON_VERSION=1.0-0nfdeploy${STANDIN_REV}~standin
MAINTAINER="nf-deploy lab <lab-mirror@nf-deploy.invalid>"
SUMMARY="STAND-IN for nf-deploy lab tests, not Open5GS"
export SOURCE_DATE_EPOCH=1704067200 # 2024-01-01: fixed file dates, so identical sources give identical packages

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src=$here/src
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
out=$1
mkdir -p "$out"
out="$(cd "$out" && pwd)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

put() { # mode source dest-inside-root root
  install -D -m "$1" "$2" "$4/$3"
}
subst() { # template root dest mode package daemon nf
  local upper
  upper=$(printf '%s' "$7" | tr '[:lower:]' '[:upper:]')
  mkdir -p "$(dirname "$2/$3")"
  sed -e "s|@PACKAGE@|$5|g" -e "s|@DAEMON@|$6|g" -e "s|@NF@|$7|g" -e "s|@UPPER@|$upper|g" "$1" >"$2/$3"
  chmod "$4" "$2/$3"
}

finish() { # root package version depends description-line-2 long-description
  local root=$1 pkg=$2 version=$3 depends=$4 title=$5 long=$6 size
  mkdir -p "$root/DEBIAN"
  (cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z \
     | xargs -0 -r md5sum) >"$root/DEBIAN/md5sums"
  size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
  {
    echo "Package: $pkg"
    echo "Version: $version"
    echo "Architecture: all"
    echo "Maintainer: $MAINTAINER"
    echo "Installed-Size: $size"
    [ -n "$depends" ] && echo "Depends: $depends"
    echo "Section: net"
    echo "Priority: optional"
    echo "Description: $SUMMARY ($title)"
    printf '%s\n' "$long" | fold -s -w 78 | sed -e 's/ *$//' -e 's/^/ /'
  } >"$root/DEBIAN/control"
  find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  chmod -R go-w "$root"
  dpkg-deb --root-owner-group --build "$root" "$out/${pkg}_${version}_all.deb" >/dev/null
  echo "built $out/${pkg}_${version}_all.deb"
}

LONG_COMMON="This package is NOT Open5GS. It belongs to the nf-deploy lab, which needs packages named like Open5GS's \
to test deployments through apt; Open5GS itself is not in any registry the lab can reach. \
It holds the shared body of the stand-in daemons (POSIX sh and awk) and the lists of configuration keys each \
Open5GS version reads, which the daemons check their YAML against. The daemons speak no GTP, PFCP, SBI or Diameter."

# --- open5gs-standin-common ---
root=$work/common
put 0644 "$src/lib/standin.sh" usr/lib/open5gs-standin/standin.sh "$root"
sed -i "s|@PACKAGE_VERSION@|$COMMON_VERSION|" "$root/usr/lib/open5gs-standin/standin.sh"
put 0644 "$src/lib/check-config.awk" usr/lib/open5gs-standin/check-config.awk "$root"
for k in "$here"/keys/*.txt; do put 0644 "$k" "usr/share/open5gs-standin/keys/${k##*/}" "$root"; done
put 0644 "$here/README.md" usr/share/doc/open5gs-standin-common/README.md "$root"
finish "$root" open5gs-standin-common "$COMMON_VERSION" "mawk | awk" "shared files" "$LONG_COMMON"

# --- one package per network function ---
nf_package() { # package version daemon nf title long
  local pkg=$1 version=$2 daemon=$3 nf=$4 title=$5 long=$6 root=$work/$1
  put 0755 "$src/bin/$daemon" "usr/bin/$daemon" "$root"
  sed -i "s|^STANDIN_NF=|STANDIN_PACKAGE_VERSION=$version\nSTANDIN_NF=|" "$root/usr/bin/$daemon"
  subst "$src/templates/init.d.in" "$root" "etc/init.d/$daemon" 0755 "$pkg" "$daemon" "$nf"
  subst "$src/templates/service.in" "$root" "lib/systemd/system/$daemon.service" 0644 "$pkg" "$daemon" "$nf"
  put 0644 "$src/etc/open5gs/$nf.yaml" "etc/open5gs/$nf.yaml" "$root"
  put 0644 "$src/etc/default/$daemon" "etc/default/$daemon" "$root"
  local conffiles="/etc/open5gs/$nf.yaml /etc/default/$daemon /etc/init.d/$daemon"
  if [ -f "$src/etc/freeDiameter/$nf.conf" ]; then
    put 0644 "$src/etc/freeDiameter/$nf.conf" "etc/freeDiameter/$nf.conf" "$root"
    conffiles="$conffiles /etc/freeDiameter/$nf.conf"
  fi
  mkdir -p "$root/var/log/open5gs"
  for s in postinst prerm postrm; do subst "$src/templates/$s.in" "$root" "DEBIAN/$s" 0755 "$pkg" "$daemon" "$nf"; done
  printf '%s\n' $conffiles >"$root/DEBIAN/conffiles"
  finish "$root" "$pkg" "$version" "open5gs-standin-common (= $COMMON_VERSION)" "$title" "$long"
}

nf_package open5gs-pgw "$PGW_VERSION" open5gs-pgwd pgw "PGW daemon open5gs-pgwd" \
  "This package is NOT Open5GS. It stands in for Open5GS 1.x's open5gs-pgw in the nf-deploy lab: \
/usr/bin/open5gs-pgwd checks /etc/open5gs/pgw.yaml against the keys Open5GS 1.0-1.3 reads (version from \
OPEN5GS_STANDIN_VERSION in /etc/default/open5gs-pgwd, default 1.3), logs one line and idles. It speaks no GTP \
or Diameter. Ships an init script and a systemd unit; installing it starts nothing."
nf_package open5gs-smf "$SMF_VERSION" open5gs-smfd smf "SMF daemon open5gs-smfd" \
  "This package is NOT Open5GS. It stands in for Open5GS 2.x's open5gs-smf in the nf-deploy lab: \
/usr/bin/open5gs-smfd checks /etc/open5gs/smf.yaml against the keys Open5GS 2.0-2.6 reads (version from \
OPEN5GS_STANDIN_VERSION in /etc/default/open5gs-smfd, default 2.6), logs one line and idles. It speaks no PFCP, \
GTP, SBI or Diameter. Ships an init script and a systemd unit; installing it starts nothing."
nf_package open5gs-upf "$UPF_VERSION" open5gs-upfd upf "UPF daemon open5gs-upfd" \
  "This package is NOT Open5GS. It stands in for Open5GS 2.x's open5gs-upf in the nf-deploy lab: \
/usr/bin/open5gs-upfd checks only that /etc/open5gs/upf.yaml exists, logs one line and idles. It forwards no \
traffic and speaks no PFCP or GTP. Ships an init script and a systemd unit; installing it starts nothing."
