#!/usr/bin/env bash
# ./edge test: set up, prove the set-up is idempotent, run every test, print one summary line.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

"$EDGE_ROOT/scripts/setup.sh"
log "checking that a second setup is a no-op"
EDGE_SETUP_EXPECT_NOOP=1 "$EDGE_ROOT/scripts/setup.sh"

results="$EDGE_ROOT/artifacts/test-results"
rm -rf "$results"; mkdir -p "$results"
status=0
dotnet test "$EDGE_ROOT/Edge.sln" -c Release --no-build --nologo \
  --logger "trx" --results-directory "$results" "$@" || status=$?

# One closing line for humans and CI: totals over every test assembly's TRX file.
passed=0; failed=0; skipped=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters"); passed=$((passed + ${p:-0}))
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters"); failed=$((failed + ${f:-0}))
  n=$(sed -n 's/.* notExecuted="\([0-9]*\)".*/\1/p' <<<"$counters"); skipped=$((skipped + ${n:-0}))
done
echo "tests: $passed passed, $failed failed, $skipped skipped"
if [ "$passed" -eq 0 ]; then log "no test ran"; exit 1; fi
exit "$status"
