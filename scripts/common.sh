# Shared paths and helpers for the scripts; sourced, never run.
EDGE_ROOT="${EDGE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
EDGE_CACHE="${EDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edge}"
EDGE_BIN="$EDGE_ROOT/src/Edge.Host/bin/Release/net10.0/linux-x64/edge"
EDGE_AUDIT_BIN="$EDGE_ROOT/src/Edge.Audit/bin/Release/net10.0/linux-x64/edge-audit"
ORT_VERSION=1.30.0
ORT_DIR="$EDGE_CACHE/onnxruntime/$ORT_VERSION"
export EDGE_CACHE EDGE_BIN EDGE_AUDIT_BIN
export EDGE_ORT_LIBRARY="${EDGE_ORT_LIBRARY:-$ORT_DIR/libonnxruntime.so.1}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log() { printf '[edge] %s\n' "$*" >&2; }
die() { printf '[edge] error: %s\n' "$*" >&2; exit 1; }

# sha256_of FILE -> hex digest
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
