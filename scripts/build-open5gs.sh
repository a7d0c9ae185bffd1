#!/usr/bin/env bash
# Builds real Open5GS .deb packages from the vendored, checksummed source tarballs (no network: meson's wraps are
# satisfied by the unpacked subprojects, every build dependency is a Debian bookworm package).
#   build-open5gs.sh            prints the directory holding the built .debs (cached: built once per sources' hash)
# Environment:
#   OPEN5GS_VENDOR_DIR  the folder with open5gs-*.tar.gz, freeDiameter-*.tar.gz, prometheus-client-c-*.tar.gz and
#                       SHA256SUMS (default: the first of $REPO/vendor/open5gs, $REPO/../shared/vendor/open5gs,
#                       $REPO/../../shared/vendor/open5gs that exists)
#   NFD_STATE_DIR       default /var/lib/nf-deploy; the build runs in $NFD_STATE_DIR/open5gs-build, the packages are
#                       kept in $NFD_STATE_DIR/open5gs-debs/<key>/ (key = hash of SHA256SUMS and PACKAGING_REV)
# The build takes about 15-25 min on 2 cores; it runs under its own lock ($NFD_STATE_DIR/open5gs-build.lock), so a
# second caller waits and then finds the cache. Outside those two folders it only installs, from Debian, the build
# dependencies that debian/control names (apt-get build-dep) and build-essential/dpkg-dev, when they are missing.
set -euo pipefail

# Bump when a change below changes what the packages contain (the cache key includes it).
PACKAGING_REV=1
LOCAL_VERSION_SUFFIX="+nfd${PACKAGING_REV}"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR=${NFD_STATE_DIR:-/var/lib/nf-deploy}
BUILD_ROOT=$STATE_DIR/open5gs-build
CACHE_ROOT=$STATE_DIR/open5gs-debs

log() { echo "build-open5gs: $*" >&2; }
die() { echo "build-open5gs: ERROR: $*" >&2; exit 1; }

vendor=${OPEN5GS_VENDOR_DIR:-}
if [ -z "$vendor" ]; then
  for d in "$REPO_ROOT/vendor/open5gs" "$REPO_ROOT/../shared/vendor/open5gs" "$REPO_ROOT/../../shared/vendor/open5gs"; do
    if [ -f "$d/SHA256SUMS" ]; then vendor=$(cd "$d" && pwd); break; fi
  done
fi
[ -n "$vendor" ] && [ -f "$vendor/SHA256SUMS" ] || die "no Open5GS sources: set OPEN5GS_VENDOR_DIR to the folder with SHA256SUMS"

one() { # glob: the single file matching it in $vendor
  local m=("$vendor"/$1)
  [ "${#m[@]}" -eq 1 ] && [ -f "${m[0]}" ] || die "expected exactly one $1 in $vendor"
  printf '%s' "${m[0]}"
}
open5gs_tar=$(one 'open5gs-*.tar.gz')
fd_tar=$(one 'freeDiameter-*.tar.gz')
prom_tar=$(one 'prometheus-client-c-*.tar.gz')

key=$( { cat "$vendor/SHA256SUMS"; echo "packaging-rev=$PACKAGING_REV"; } | sha256sum | cut -c1-16)
out=$CACHE_ROOT/$key
if [ -f "$out/.complete" ]; then
  log "cached: $out"
  printf '%s\n' "$out"
  exit 0
fi

mkdir -p "$STATE_DIR"
exec 9>"$STATE_DIR/open5gs-build.lock"
flock 9
if [ -f "$out/.complete" ]; then # built by the caller we waited for
  printf '%s\n' "$out"
  exit 0
fi

# the tools to read and build a Debian source package (a fresh machine lacks them)
if ! command -v dpkg-parsechangelog >/dev/null 2>&1 || ! dpkg-query -W -f='${Status}' build-essential 2>/dev/null | grep -q 'ok installed'; then
  log "installing build-essential and dpkg-dev"
  apt-get update -qq >/dev/null || log "apt-get update reported errors (continuing)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends build-essential dpkg-dev >/dev/null \
    || die "apt-get install build-essential dpkg-dev failed"
fi

log "checking $vendor/SHA256SUMS"
(cd "$vendor" && sha256sum --quiet -c SHA256SUMS) || die "checksum mismatch in $vendor"

rm -rf "$BUILD_ROOT"
mkdir -p "$BUILD_ROOT"
tar -xzf "$open5gs_tar" -C "$BUILD_ROOT"
src=$(find "$BUILD_ROOT" -mindepth 1 -maxdepth 1 -type d -name 'open5gs*' | head -n 1)
[ -n "$src" ] && [ -f "$src/debian/control" ] || die "$open5gs_tar holds no open5gs*/debian/control"
tar -xzf "$fd_tar" -C "$src/subprojects"
tar -xzf "$prom_tar" -C "$src/subprojects"
[ -f "$src/subprojects/freeDiameter/meson.build" ] || die "$fd_tar did not unpack to subprojects/freeDiameter"
[ -f "$src/subprojects/prometheus-client-c/meson.build" ] || [ -d "$src/subprojects/prometheus-client-c" ] \
  || die "$prom_tar did not unpack to subprojects/prometheus-client-c"

# --- packaging adaptations (the repository's own debian/, changed only where bookworm needs it) -----------------
deb=$src/debian
upstream_version=$(dpkg-parsechangelog -l "$deb/changelog" -S Version)
version="${upstream_version}${LOCAL_VERSION_SUFFIX}"
{
  echo "open5gs ($version) bookworm; urgency=medium"
  echo
  echo "  * nf-deploy build from the unmodified upstream sources (scripts/build-open5gs.sh):"
  echo "    meson wraps from vendored tarballs (--wrap-mode=nodownload); open5gs-common"
  echo "    depends on adduser and ships only versioned libfd*.so.* (the unversioned links"
  echo "    clash with Debian's libfreediameter-dev); open5gs-upf does not depend on udev."
  echo
  echo " -- nf-deploy lab <lab-mirror@nf-deploy.invalid>  $(date -R -d @1704067200)"
  echo
  cat "$deb/changelog"
} >"$deb/changelog.new"
mv "$deb/changelog.new" "$deb/changelog"
# open5gs-common's postinst runs adduser, which minimal systems lack.
awk '/^Package: open5gs-common$/ {c=1} /^Package: / && !/open5gs-common$/ {c=0}
     c && /^Depends:/ {sub(/^Depends: /, "Depends: adduser, ")} {print}' "$deb/control" >"$deb/control.new"
# udev is only used by systemd-networkd's ogstun netdev; nf-deploy creates ogstun itself.
sed -i '/^Package: open5gs-upf$/,/^$/{/^ *udev,$/d}' "$deb/control.new"
mv "$deb/control.new" "$deb/control"
grep -q 'adduser' "$deb/control" || die "could not add adduser to open5gs-common's Depends"
sed -i 's|^usr/lib/\*/libfd\*\.so\*$|usr/lib/*/libfd*.so.*|' "$deb/open5gs-common.install"
grep -qx 'usr/lib/\*/libfd\*\.so\.\*' "$deb/open5gs-common.install" || die "could not narrow libfd*.so in open5gs-common.install"
cat >>"$deb/rules" <<'EOF'

override_dh_auto_configure:
	dh_auto_configure -- --wrap-mode=nodownload
EOF

# the build dependencies: what the package's own debian/control names, all from Debian bookworm
if ! (cd "$src" && dpkg-checkbuilddeps) >/dev/null 2>&1; then
  log "installing Open5GS's build dependencies (apt-get build-dep on its debian/control)"
  apt-get update -qq >/dev/null || log "apt-get update reported errors (continuing)"
  DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -qq --no-install-recommends "$src" >"$BUILD_ROOT/build-dep.log" 2>&1 \
    || die "apt-get build-dep failed; see $BUILD_ROOT/build-dep.log: $(tail -n 3 "$BUILD_ROOT/build-dep.log" | tr '\n' ' ')"
fi

log "building Open5GS $version in $src (log: $BUILD_ROOT/build.log)"
start=$(date +%s)
(cd "$src" && DEB_BUILD_OPTIONS="nocheck parallel=${OPEN5GS_BUILD_JOBS:-2}" dpkg-buildpackage -b -uc -us) \
  >"$BUILD_ROOT/build.log" 2>&1 || die "dpkg-buildpackage failed; see $BUILD_ROOT/build.log: $(tail -n 5 "$BUILD_ROOT/build.log" | tr '\n' ' ')"
elapsed=$(( $(date +%s) - start ))

rm -rf "$out.tmp"
mkdir -p "$out.tmp"
for f in "$BUILD_ROOT"/*.deb; do
  case "${f##*/}" in *-dbg_*) continue ;; esac # debug symbols: large, not needed on hosts
  cp "$f" "$out.tmp"/
done
compgen -G "$out.tmp/open5gs-smf_*.deb" >/dev/null || die "the build produced no open5gs-smf package"
printf 'version=%s\nbuild_seconds=%s\nsources=%s\n' "$version" "$elapsed" "$vendor" >"$out.tmp/.complete"
rm -rf "$out"
mv "$out.tmp" "$out"
rm -rf "$BUILD_ROOT"
log "built Open5GS $version in ${elapsed}s: $out"
printf '%s\n' "$out"
