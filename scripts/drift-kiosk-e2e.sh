#!/usr/bin/env bash
# Drift end to end: a local Mosquitto, edge-audit, and `edge run` with the drift watch on, fed the replay video of
# scripts/drift-replay.sh (camera dark from half-way). Prints the kiosk's drift log lines and the audit store's
# GET /api/v1/drift. Usage: scripts/drift-kiosk-e2e.sh [WORK_DIR]   (run scripts/drift-replay.sh first)
set -euo pipefail
EDGE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$EDGE_ROOT/scripts/common.sh"
DRIFT="${DRIFT_DIR:-$EDGE_CACHE/trust/drift}"
WORK="${1:-$(mktemp -d)}"
MQTT_PORT="${MQTT_PORT:-18931}" AUDIT_PORT="${AUDIT_PORT:-18932}" METRICS_PORT="${METRICS_PORT:-19464}"
[ -f "$DRIFT/baseline.json" ] && [ -f "$DRIFT/replay.mp4" ] || die "run scripts/drift-replay.sh first"
[ -x "$EDGE_AUDIT_BIN" ] || die "edge-audit not built: ./edge setup"
mkdir -p "$WORK"; cd "$WORK"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
printf "listener %s 127.0.0.1\nallow_anonymous true\n" "$MQTT_PORT" > mosquitto.conf
mosquitto -c mosquitto.conf > mosquitto.log 2>&1 & pids+=($!)
export Audit__Storage__ConnectionString="Data Source=$WORK/audit.db" Audit__Mqtt__Port="$MQTT_PORT" Audit__Http__Urls="http://127.0.0.1:$AUDIT_PORT"
"$EDGE_AUDIT_BIN" migrate > /dev/null
token="$("$EDGE_AUDIT_BIN" token create --owner trust-e2e --role supervisor | tail -1)"
"$EDGE_AUDIT_BIN" serve > audit.log 2>&1 & pids+=($!)
sleep 5
env Kiosk__SiteId=plant1 Kiosk__KioskId=k9 Camera__Source="$DRIFT/replay.mp4" Camera__Loop=false Camera__Fps=5 \
    Sync__Broker__Port="$MQTT_PORT" Pipeline__Explain=Sampled Pipeline__ExplainEvery=2 Faces__Precision=Fp32 \
    Drift__Enabled=true Drift__BaselinePath="$DRIFT/baseline.json" Drift__Window=200 Drift__MinSamples=100 \
    Drift__PublishInterval=00:00:10 Drift__OcclusionSampleRate=0.5 Http__Port="$METRICS_PORT" \
    "$EDGE_BIN" run > run.log 2>&1 & pids+=($!)
sleep 95
grep "DriftPublisherService" run.log | sed 's/ info: Edge.Host.Trust.DriftPublisherService\[801\]//'
curl -s "http://127.0.0.1:$METRICS_PORT/metrics" | grep -E "^edge_(drift_level|occlusion)" || true
echo "GET /api/v1/drift:"
curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$AUDIT_PORT/api/v1/drift"; echo
