#!/usr/bin/env bash
# ./edge demo: set up, then run the real thing on a sample video of a face and say where to look:
#   Mosquitto broker (127.0.0.1) ← edge run (camera → faces → scores → flags → outbox → MQTT) → edge-audit (store, review page)
# Ctrl-C stops everything cleanly (children are stopped by pid, outbox and audit store stay in the run folder).
#
# usage: ./edge demo [--duration 30s|2m|SECONDS] [--no-setup] [--source VIDEO]
#   --duration   stop by itself after this long (non-interactive runs, CI); default: until Ctrl-C
#   --no-setup   skip ./edge setup (already done)
#   --source     another video/device/URL instead of the sample
# Ports (override with environment): EDGE_DEMO_MQTT_PORT=18883 EDGE_DEMO_HTTP_PORT=9464 EDGE_DEMO_AUDIT_PORT=5080
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

duration="" setup=1 source=""
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --duration=*) duration="${1#*=}"; shift ;;
    --no-setup) setup=0; shift ;;
    --source) source="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) die "demo: unknown option '$1' (see ./edge demo --help)" ;;
  esac
done
seconds=""
if [ -n "$duration" ]; then
  case "$duration" in
    *[0-9]s) seconds="${duration%s}" ;;
    *[0-9]m) seconds=$(( ${duration%m} * 60 )) ;;
    *) seconds="$duration" ;;
  esac
  case "$seconds" in ''|*[!0-9]*) die "demo: --duration must look like 30s, 2m or 45 (was '$duration')" ;; esac
fi

mqtt_port="${EDGE_DEMO_MQTT_PORT:-18883}"
http_port="${EDGE_DEMO_HTTP_PORT:-9464}"
audit_port="${EDGE_DEMO_AUDIT_PORT:-5080}"
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$mqtt_port" "$http_port" "$audit_port"; do
  port_busy "$p" && die "demo: port $p on 127.0.0.1 is in use (set EDGE_DEMO_*_PORT)"
done

[ "$setup" = 1 ] && "$EDGE_ROOT/scripts/setup.sh"
[ -x "$EDGE_BIN" ] || die "demo: $EDGE_BIN is not built; run ./edge setup"
[ -n "$source" ] || source="$("$EDGE_ROOT/scripts/make-sample.sh")"

run="$EDGE_CACHE/demo/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$run"
pids=()
broker_started=0
stop_all() {
  trap - INT TERM EXIT
  log "stopping"
  local i
  # newest first, each to the end: the kiosk flushes to the broker before the broker goes
  for (( i=${#pids[@]}-1; i>=0; i-- )); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true
    wait "${pids[$i]}" 2>/dev/null || true
  done
  [ "$broker_started" = 1 ] && "$EDGE_ROOT/scripts/broker.sh" stop >>"$run/broker.log" 2>&1 || true
  log "stopped; logs, outbox and audit store are in $run"
}
trap stop_all INT TERM EXIT

wait_http() { # URL SECONDS: wait until it answers
  local i
  for (( i=0; i<$2*10; i++ )); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
  return 1
}

# --- broker (scripts/broker.sh: 127.0.0.1, password file, persistence) ------------------------------
export EDGE_BROKER_DIR="$run/broker" EDGE_BROKER_PORT="$mqtt_port"
"$EDGE_ROOT/scripts/broker.sh" start >"$run/broker.log" 2>&1 || die "demo: the broker did not start (see $run/broker.log)"
broker_started=1
eval "$("$EDGE_ROOT/scripts/broker.sh" env)"
log "broker: mqtt://127.0.0.1:$mqtt_port (user $Sync__Broker__Username)"

# --- audit store -------------------------------------------------------------------------------
audit_args=("--Audit:Storage:Provider=Sqlite" "--Audit:Storage:ConnectionString=Data Source=$run/audit.db"
  "--Audit:Mqtt:Host=127.0.0.1" "--Audit:Mqtt:Port=$mqtt_port" "--Audit:Mqtt:Username=$Sync__Broker__Username"
  "--Audit:Mqtt:Password=$Sync__Broker__Password" "--Audit:Http:Urls=http://127.0.0.1:$audit_port")
review=""
if [ -x "$EDGE_AUDIT_BIN" ]; then
  "$EDGE_AUDIT_BIN" migrate "${audit_args[@]}" >"$run/audit.log" 2>&1 || die "demo: edge-audit migrate failed (see $run/audit.log)"
  token=$("$EDGE_AUDIT_BIN" token create --owner demo --role supervisor "${audit_args[@]}" 2>>"$run/audit.log" | tail -1 || true)
  "$EDGE_AUDIT_BIN" serve "${audit_args[@]}" >>"$run/audit.log" 2>&1 &
  pids+=($!)
  wait_http "http://127.0.0.1:$audit_port/" 30 || die "demo: edge-audit did not answer (see $run/audit.log)"
  review="http://127.0.0.1:$audit_port/"
  log "audit store: $review"
else
  log "audit store: not built in this checkout ($EDGE_AUDIT_BIN); events stay on the broker"
fi

# --- the kiosk service -------------------------------------------------------------------------
cat > "$run/edge.json" <<JSON
{
  "Kiosk": { "SiteId": "demo-site", "KioskId": "kiosk-1" },
  "Camera": { "Source": "$source", "Width": 640, "Height": 480, "Fps": 15, "Loop": true, "Realtime": true },
  "Sync": { "Broker": { "Host": "127.0.0.1", "Port": $mqtt_port, "Username": "$Sync__Broker__Username", "Password": "$Sync__Broker__Password" },
            "Outbox": { "Path": "$run/outbox.db" } },
  "Http": { "Address": "127.0.0.1", "Port": $http_port }
}
JSON
# MALLOC_ARENA_MAX as in deploy/systemd/edge.service (two glibc arenas; src/Edge.Host/README.md, "Memory")
MALLOC_ARENA_MAX=2 "$EDGE_BIN" run --config "$run/edge.json" >"$run/edge.log" 2>&1 &
edge_pid=$!
pids+=($edge_pid)
for _ in $(seq 600); do
  curl -s -o /dev/null "http://127.0.0.1:$http_port/healthz" && break
  kill -0 "$edge_pid" 2>/dev/null || die "demo: edge run stopped: $(grep '^edge run:' "$run/edge.log" | tail -1) (see $run/edge.log)"
  sleep 0.1
done
curl -s -o /dev/null "http://127.0.0.1:$http_port/healthz" || die "demo: edge run did not answer (see $run/edge.log)"

cat <<EOF_INFO

  Edge demo is running on $(basename "$source")
    kiosk health    http://127.0.0.1:$http_port/healthz
    kiosk metrics   http://127.0.0.1:$http_port/metrics
    review page     ${review:-(edge-audit not built)}${token:+   (API token: $token)}
    flagged (API)   ${review:+curl -H 'Authorization: Bearer ${token:-TOKEN}' ${review}api/v1/flagged}
    broker          mqtt://127.0.0.1:$mqtt_port   (user $Sync__Broker__Username, password in $run/broker/password)
    logs            $run/*.log
  ${seconds:+Stopping by itself after $seconds s; }Ctrl-C stops everything.

EOF_INFO

if [ -n "$seconds" ]; then
  sleep "$seconds" &
  wait $! || true
  log "after ${seconds} s:"
  curl -s "http://127.0.0.1:$http_port/metrics" | grep -E '^edge_(camera_frames_total|camera_frames_dropped_total|pipeline_frames_total|pipeline_faces_total|pipeline_faces_flagged_total|sync_events_published_total|events_pending) ' | sed 's/^/    /' >&2 || true
  curl -s -o /dev/null -w "    /healthz HTTP %{http_code}\n" "http://127.0.0.1:$http_port/healthz" >&2 || true
else
  wait "${pids[@]}" || true
fi
