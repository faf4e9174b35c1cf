#!/usr/bin/env bash
# ./edge demo: set up, then run what exists of the product on a bundled sample and say where to look.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
"$EDGE_ROOT/scripts/setup.sh"
"$EDGE_BIN" doctor
