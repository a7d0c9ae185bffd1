#!/usr/bin/env bash
# Prepares this machine (the "controller") for nf-deploy lab sites. Idempotent; fast when all is done.
#   - installs docker.io, debootstrap, apt-cacher-ng, apt-utils, gnupg, openssh-client, sipsak, sip-tester (SIPp: the call tests)
#   - starts dockerd (no systemd here) and apt-cacher-ng (port 3142)
#   - builds a local signed apt repository that stands in for deb.kamailio.org, served by apt-cacher-ng as
#       http://<gateway>:3142/nfd-mirror/kamailio56   (suite bookworm, component main)
#       http://<gateway>:3142/nfd-mirror/kamailiodebkey.gpg   (ASCII-armored signing key)
#   - builds real Open5GS 2.7 packages from the vendored sources (scripts/build-open5gs.sh: once, cached by the
#     sources' hash; about 15-25 min on 2 cores) and, for 1.x only, the labelled STAND-IN open5gs-pgw
#     (tests/open5gs-standin, not Open5GS), and publishes both as a second signed repository with the same key:
#       http://<gateway>:3142/nfd-mirror/open5gs   (suite bookworm, component main; key copy at .../open5gs/key.gpg)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR=/var/lib/nf-deploy
MIRROR_DIR=$STATE_DIR/mirror
REPO_DIR=$MIRROR_DIR/kamailio56
STANDIN_SRC=$REPO_ROOT/tests/open5gs-standin
STANDIN_REPO_DIR=$MIRROR_DIR/open5gs
STANDIN_STAMP=$STATE_DIR/open5gs-standin.sha256
KEY_FILE=$MIRROR_DIR/kamailiodebkey.gpg
export GNUPGHOME=$STATE_DIR/gnupg
KEY_UID="nf-deploy lab mirror <lab-mirror@nf-deploy.invalid>"
SUITE=bookworm
ARCH=amd64
KAMAILIO_PACKAGES=(kamailio kamailio-tls-modules kamailio-utils-modules kamailio-python3-modules
                   kamailio-mysql-modules kamailio-extra-modules)
PACKAGES=(docker.io debootstrap apt-cacher-ng apt-utils gnupg openssh-client sipsak sip-tester)
ACNG_PORT=3142
DOCKER_WAIT_SECONDS=60
ACNG_WAIT_SECONDS=30

export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1

log() { echo "setup-controller: $*"; }
die() { echo "setup-controller: ERROR: $*" >&2; exit 1; }
trap 'die "failed at line $LINENO: $BASH_COMMAND"' ERR

[ "$(id -u)" -eq 0 ] || die "must run as root"

apt_updated=0
apt_update_once() {
  [ "$apt_updated" -eq 1 ] && return 0
  log "apt-get update"
  # Unreachable third-party sources only warn; a broken Debian source shows up as a failed install below.
  apt-get update -qq >/dev/null || log "apt-get update reported errors (continuing)"
  apt_updated=1
}

is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }

# --- 1. packages ---------------------------------------------------------------------------------
missing=()
for p in "${PACKAGES[@]}"; do is_installed "$p" || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  apt_update_once
  log "installing ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
else
  log "packages present"
fi

# --- 2. dockerd --------------------------------------------------------------------------------------
if docker info >/dev/null 2>&1; then
  log "dockerd answering"
else
  if ! pidof dockerd >/dev/null; then
    log "starting dockerd (log: /var/log/dockerd.log)"
    setsid nohup dockerd </dev/null >/var/log/dockerd.log 2>&1 &
  fi
  for ((i = 0; i < DOCKER_WAIT_SECONDS; i++)); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 \
    || die "dockerd did not answer within ${DOCKER_WAIT_SECONDS}s; see /var/log/dockerd.log: $(tail -n 5 /var/log/dockerd.log 2>/dev/null | tr '\n' ' ')"
  log "dockerd answering"
fi

# --- 3. apt-cacher-ng configuration -----------------------------------------------------------
acng_changed=0
write_if_changed() { # path content
  if [ ! -f "$1" ] || [ "$(cat "$1")" != "$2" ]; then
    printf '%s\n' "$2" >"$1"
    acng_changed=1
  fi
}
mkdir -p "$MIRROR_DIR"
chmod 755 "$STATE_DIR" "$MIRROR_DIR"
write_if_changed /etc/apt-cacher-ng/backends_debian "http://deb.debian.org/debian/"
write_if_changed /etc/apt-cacher-ng/zz_nf-deploy.conf "# written by nf-deploy scripts/setup-controller.sh
LocalDirs: acng-doc /usr/share/doc/apt-cacher-ng ; nfd-mirror $MIRROR_DIR"

acng_listening() { (exec 3<>"/dev/tcp/127.0.0.1/$ACNG_PORT") 2>/dev/null; }

if acng_listening && [ "$acng_changed" -eq 1 ]; then
  log "restarting apt-cacher-ng (configuration changed)"
  /etc/init.d/apt-cacher-ng restart >/dev/null || die "apt-cacher-ng restart failed"
elif ! acng_listening; then
  log "starting apt-cacher-ng"
  /etc/init.d/apt-cacher-ng start >/dev/null || die "apt-cacher-ng start failed"
fi
for ((i = 0; i < ACNG_WAIT_SECONDS * 5; i++)); do
  acng_listening && break
  sleep 0.2
done
acng_listening || die "apt-cacher-ng is not listening on port $ACNG_PORT; see /var/log/apt-cacher-ng/"
log "apt-cacher-ng listening on :$ACNG_PORT"

# --- 4. lab signing key --------------------------------------------------------------------------
gpg_q() { gpg --batch --quiet --no-tty "$@"; }
stop_agent() { gpgconf --kill gpg-agent >/dev/null 2>&1 || true; }
trap stop_agent EXIT

resign=0
mkdir -p "$GNUPGHOME"
chmod 700 "$GNUPGHOME"
if ! gpg_q --list-secret-keys "$KEY_UID" >/dev/null 2>&1; then
  log "generating lab mirror signing key in $GNUPGHOME"
  gpg_q --passphrase '' --quick-generate-key "$KEY_UID" rsa3072 sign never 2>/dev/null \
    || die "gpg key generation failed"
  resign=1
fi
key_armored=$(gpg_q --armor --export "$KEY_UID")
[ -n "$key_armored" ] || die "cannot export the lab mirror key"
if [ ! -f "$KEY_FILE" ] || [ "$(cat "$KEY_FILE")" != "$key_armored" ]; then
  printf '%s\n' "$key_armored" >"$KEY_FILE"
  chmod 644 "$KEY_FILE"
  resign=1
fi

# --- 5. local kamailio repository ----------------------------------------------------------------
# A repository here is REPO/pool/... plus REPO/dists/$SUITE/{Release,InRelease,Release.gpg,main/binary-$ARCH/Packages*}.
repo_index_missing() { # repo-dir
  local dist=$1/dists/$SUITE
  [ ! -s "$dist/main/binary-$ARCH/Packages.gz" ] || [ ! -s "$dist/InRelease" ] || [ ! -s "$dist/Release.gpg" ]
}
index_repo() ( # repo-dir label description: writes Packages(.gz) and a Release signed with the lab key
  repo=$1 label=$2 description=$3
  dist=dists/$SUITE bin=dists/$SUITE/main/binary-$ARCH
  cd "$repo" || return 1
  mkdir -p "$bin" || return 1
  apt-ftparchive packages pool >"$bin/Packages.tmp" || return 1
  mv "$bin/Packages.tmp" "$bin/Packages" || return 1
  gzip -9 -n -c "$bin/Packages" >"$bin/Packages.gz" || return 1
  apt-ftparchive \
    -o APT::FTPArchive::Release::Origin=nf-deploy-lab \
    -o APT::FTPArchive::Release::Label="$label" \
    -o APT::FTPArchive::Release::Suite="$SUITE" \
    -o APT::FTPArchive::Release::Codename="$SUITE" \
    -o APT::FTPArchive::Release::Architectures="$ARCH" \
    -o APT::FTPArchive::Release::Components=main \
    -o APT::FTPArchive::Release::Description="$description" \
    release "$dist" >"$dist/Release.tmp" || return 1
  mv "$dist/Release.tmp" "$dist/Release" || return 1
  rm -f "$dist/InRelease" "$dist/Release.gpg"
  gpg_q --local-user "$KEY_UID" --clearsign -o "$dist/InRelease" "$dist/Release" || return 1
  gpg_q --local-user "$KEY_UID" --armor --detach-sign -o "$dist/Release.gpg" "$dist/Release" || return 1
)

POOL=$REPO_DIR/pool/main/k/kamailio
DIST=$REPO_DIR/dists/$SUITE
BIN=$DIST/main/binary-$ARCH
mkdir -p "$POOL" "$BIN"

pool_has() { compgen -G "$POOL/${1}_*_${ARCH}.deb" >/dev/null; }
need_download=()
for p in "${KAMAILIO_PACKAGES[@]}"; do pool_has "$p" || need_download+=("$p"); done
if [ "${#need_download[@]}" -gt 0 ]; then
  if ! apt-cache show kamailio >/dev/null 2>&1; then apt_update_once; fi
  log "downloading ${need_download[*]}"
  tmp=$(mktemp -d)
  chown _apt "$tmp" 2>/dev/null || true # apt-get download drops privileges to _apt
  (cd "$tmp" && apt-get download -qq "${need_download[@]}" >/dev/null) \
    || { rm -rf "$tmp"; die "apt-get download ${need_download[*]} failed"; }
  mv "$tmp"/*.deb "$POOL"/
  rm -rf "$tmp"
  resign=1
fi

if [ "$resign" -eq 1 ] || repo_index_missing "$REPO_DIR"; then
  log "indexing and signing $REPO_DIR"
  index_repo "$REPO_DIR" kamailio56 "nf-deploy lab stand-in for deb.kamailio.org kamailio56" \
    || die "building the repository index of $REPO_DIR failed"
else
  log "kamailio56 mirror present"
fi

# --- 6. local open5gs stand-in repository ---------------------------------------------------------
# Rebuilt when the stand-in's sources change (their hash differs from the stamp) or the pool is empty.
[ -f "$STANDIN_SRC/build.sh" ] || die "missing $STANDIN_SRC/build.sh"
STANDIN_POOL=$STANDIN_REPO_DIR/pool/main/o/open5gs
mkdir -p "$STANDIN_POOL" "$STANDIN_REPO_DIR/dists/$SUITE/main/binary-$ARCH"
standin_hash=$(cd "$STANDIN_SRC" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
standin_resign=$resign
if [ "$(cat "$STANDIN_STAMP" 2>/dev/null)" != "$standin_hash" ] || ! compgen -G "$STANDIN_POOL/*.deb" >/dev/null; then
  log "building the open5gs stand-in packages from $STANDIN_SRC"
  tmp=$(mktemp -d)
  bash "$STANDIN_SRC/build.sh" "$tmp" >/dev/null || { rm -rf "$tmp"; die "$STANDIN_SRC/build.sh failed"; }
  rm -f "$STANDIN_POOL"/*.deb
  # the stand-in only for 1.x (open5gs-pgw and its common package): 2.x comes from the real build below
  mv "$tmp"/open5gs-pgw_*.deb "$tmp"/open5gs-standin-common_*.deb "$STANDIN_POOL"/
  rm -rf "$tmp"
  rm -f "$STANDIN_STAMP" # written again once the repository is indexed
  standin_resign=1
fi
# real Open5GS (2.7) from the vendored sources; the build is cached by the sources' hash
OPEN5GS_POOL=$STANDIN_REPO_DIR/pool/main/o/open5gs-real
open5gs_debs=$(NFD_STATE_DIR=$STATE_DIR nice -n 5 bash "$REPO_ROOT/scripts/build-open5gs.sh") || die "building Open5GS failed"
mkdir -p "$OPEN5GS_POOL"
for f in "$open5gs_debs"/*.deb; do
  [ -f "$OPEN5GS_POOL/${f##*/}" ] && cmp -s "$f" "$OPEN5GS_POOL/${f##*/}" && continue
  cp "$f" "$OPEN5GS_POOL"/
  standin_resign=1
done
# packages of an older build, and the stand-in's 2.x packages of earlier set-ups, leave the repository
for f in "$OPEN5GS_POOL"/*.deb "$STANDIN_POOL"/open5gs-smf_*.deb "$STANDIN_POOL"/open5gs-upf_*.deb; do
  if [ -f "$f" ] && { [ "$(dirname "$f")" = "$STANDIN_POOL" ] || [ ! -f "$open5gs_debs/${f##*/}" ]; }; then
    rm -f "$f"
    standin_resign=1
  fi
done
if [ ! -f "$STANDIN_REPO_DIR/key.gpg" ] || [ "$(cat "$STANDIN_REPO_DIR/key.gpg")" != "$key_armored" ]; then
  printf '%s\n' "$key_armored" >"$STANDIN_REPO_DIR/key.gpg"
fi
if [ "$standin_resign" -eq 1 ] || repo_index_missing "$STANDIN_REPO_DIR"; then
  log "indexing and signing $STANDIN_REPO_DIR"
  index_repo "$STANDIN_REPO_DIR" open5gs-standin \
    "nf-deploy lab Open5GS: 2.x built from the Open5GS sources; 1.x open5gs-pgw is a STAND-IN (tests/open5gs-standin)" \
    || die "building the repository index of $STANDIN_REPO_DIR failed"
  printf '%s\n' "$standin_hash" >"$STANDIN_STAMP"
else
  log "open5gs stand-in repository present"
fi

# apt-cacher-ng runs as its own user: everything under the mirror must be world-readable.
chmod -R a+rX "$MIRROR_DIR"

# --- 7. check that apt-cacher-ng serves them ------------------------------------------------
served_status() { # url-path: the status line apt-cacher-ng answers to HEAD
  local line
  exec 3<>"/dev/tcp/127.0.0.1/$ACNG_PORT" || return 1
  printf 'HEAD %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$1" >&3
  line=$(head -n 1 <&3 | tr -d '\r')
  exec 3<&-
  printf '%s' "$line"
}
for repo in kamailio56 open5gs; do
  status_line=$(served_status "/nfd-mirror/$repo/dists/$SUITE/InRelease") || die "cannot connect to apt-cacher-ng"
  case "$status_line" in
    *" 200 "*) ;;
    *) die "apt-cacher-ng does not serve http://127.0.0.1:$ACNG_PORT/nfd-mirror/$repo/dists/$SUITE/InRelease (got: ${status_line:-no answer})" ;;
  esac
done
log "mirror served at http://<gateway>:$ACNG_PORT/nfd-mirror/kamailio56 (key: /nfd-mirror/kamailiodebkey.gpg)"
log "open5gs (2.x real, 1.x stand-in) served at http://<gateway>:$ACNG_PORT/nfd-mirror/open5gs (key: /nfd-mirror/open5gs/key.gpg, same lab key)"
log "done"
