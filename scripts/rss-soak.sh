#!/usr/bin/env bash
# Steady-state memory of the kiosk service: runs ./edge demo (broker + edge-audit + edge run replaying the sample at
# 15 fps) for a warm-up and then a measured window, samples the edge process's RSS once a minute, and prints the
# samples and the spread of the measured window around its first sample (issue 5: flat within ±5 % over 30 min).
# Each sample line also says where the anonymous memory is (GC heap, glibc main arena, thread arenas, other), the
# thread count, and the GC's own figures (heap after the last GC, committed memory, collections, pause), so a trend
# can be attributed to the GC or to native code.
#
# usage: scripts/rss-soak.sh [--warmup MIN] [--minutes MIN] [--limit PERCENT]
#   --warmup   minutes before the measured window starts (JIT tiering, pools, SQLite and ORT arenas fill); default 5
#   --minutes  length of the measured window; default 30
#   --limit    exit 1 when a sample is further than this from the window's first sample; default 5
# Ports: EDGE_DEMO_*_PORT as for ./edge demo (defaults here 28883/19464/15080, so a running demo is not disturbed).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

warmup=5 minutes=30 limit=5
while [ $# -gt 0 ]; do
  case "$1" in
    --warmup) warmup="$2"; shift 2 ;;
    --minutes) minutes="$2"; shift 2 ;;
    --limit) limit="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) die "rss-soak: unknown option '$1'" ;;
  esac
done
for v in "$warmup" "$minutes"; do
  case "$v" in ''|*[!0-9]*) die "rss-soak: --warmup and --minutes take whole minutes (was '$v')" ;; esac
done

export EDGE_DEMO_MQTT_PORT="${EDGE_DEMO_MQTT_PORT:-28883}" EDGE_DEMO_HTTP_PORT="${EDGE_DEMO_HTTP_PORT:-19464}" EDGE_DEMO_AUDIT_PORT="${EDGE_DEMO_AUDIT_PORT:-15080}"
out="$(mktemp -d)"
"$EDGE_ROOT/scripts/demo.sh" --no-setup --duration "$(( (warmup + minutes + 1) * 60 ))" >"$out/demo.out" 2>&1 &
demo=$!
trap 'kill -TERM "$demo" 2>/dev/null || true; wait "$demo" 2>/dev/null || true' EXIT

pid=""
for _ in $(seq 300); do
  pid=$(pgrep -n -f "$EDGE_BIN run --config" || true)
  [ -n "$pid" ] && curl -s -o /dev/null "http://127.0.0.1:$EDGE_DEMO_HTTP_PORT/healthz" && break
  kill -0 "$demo" 2>/dev/null || { cat "$out/demo.out" >&2; die "rss-soak: the demo stopped"; }
  sleep 1
done
[ -n "$pid" ] || die "rss-soak: edge run did not start (see $out/demo.out)"
log "edge run is pid $pid; warm-up $warmup min, then $minutes min measured (a sample a minute; largest anonymous mappings per sample in $out)"

rss_mb() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status"; }
threads() { awk '/^Threads:/ { print $2 }' "/proc/$pid/status"; }
anon_mb() { awk '/^Anonymous:/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/smaps_rollup"; }
# anonymous memory by owner, from /proc/PID/smaps: a glibc thread arena's heap is a 64 MB-aligned mapping of exactly
# 64 MB (read-write part + inaccessible rest); adjacent unnamed mappings are joined into runs, and a run of 4 GB or more
# is the GC's reservation (managed heap; 48 GB for workstation GC here, 256 GB for server GC); [heap] is glibc's main
# arena; "other" is the rest (malloc blocks large enough to get their own mmap, thread stacks, the runtime's own heaps).
# Each sample's largest runs go to $out/smaps-MINUTE.txt.
smaps() { perl -e '
  my ($pid, $file) = @ARGV; open(my $f, "<", "/proc/$pid/smaps") or exit 1; my (@v, $r, @runs);
  while (<$f>) {
    if (/^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/) { push @v, { s => hex $1, e => hex $2, n => $3, a => 0 } }
    elsif (/^Anonymous:\s+(\d+)/) { $v[-1]{a} = $1 }
  }
  for my $i (0 .. $#v) {
    my $m = $v[$i]; my $end = $i < $#v && $v[$i + 1]{s} == $m->{e} && $v[$i + 1]{n} eq "" ? $v[$i + 1]{e} : $m->{e};
    $m->{arena} = $m->{n} eq "" && ($m->{s} & ((64 << 20) - 1)) == 0 && ($m->{e} - $m->{s} == 64 << 20 || $end - $m->{s} == 64 << 20);
    if ($m->{n} eq "" && $r && $r->{n} eq "" && $r->{e} == $m->{s}) { $r->{e} = $m->{e} } else { push @runs, $r = { s => $m->{s}, e => $m->{e}, n => $m->{n}, a => 0, t => 0 } }
    $r->{a} += $m->{a}; $r->{t} += $m->{a} if $m->{arena};
  }
  my %k;
  for (@runs) {
    $_->{k} = $_->{n} eq "[heap]" ? "brk" : $_->{n} ne "" ? "named" : $_->{e} - $_->{s} >= 4 << 30 ? "gc" : "other";
    $k{arenas} += $_->{t}; $k{$_->{k}} += $_->{a} - $_->{t};
  }
  printf "smaps gc %.1f brk %.1f arenas %.1f other %.1f", map { ($k{$_} // 0) / 1024 } qw(gc brk arenas other);
  open(my $o, ">", $file) or exit 0;
  for (sort { $b->{a} <=> $a->{a} } @runs) { last if $_->{a} < 256; printf $o "%-5s %12x %10.1f MB mapped %7.1f MB anonymous (%.1f MB in arenas) %s\n", $_->{k}, $_->{s}, ($_->{e} - $_->{s}) / 1048576, $_->{a} / 1024, $_->{t} / 1024, $_->{n} }
' "$pid" "$out/smaps-$1.txt"; }
# frames so far, the managed heap after the last GC (all generations), the memory the GC had committed then, and the
# collections so far per generation and their total pause, from the kiosk's /metrics (the runtime's System.Runtime meter)
metrics() { curl -s "http://127.0.0.1:$EDGE_DEMO_HTTP_PORT/metrics" | awk '
  /^edge_pipeline_frames_total / { f = $2 }
  /^dotnet_gc_last_collection_heap_size_bytes/ { h += $2 }
  /^dotnet_gc_last_collection_memory_committed_size_bytes / { c = $2 }
  /^dotnet_gc_collections_total/ { split($1, g, "\""); n[g[2]] = $2 }
  /^dotnet_gc_pause_time_seconds_total / { p = $2 }
  END { printf "frames %s  gc heap %.1f MB  gc committed %.1f MB  gcs %d/%d/%d (paused %.2f s)", f, h / 1048576, c / 1048576, n["gen0"], n["gen1"], n["gen2"], p }'; }
samples=()
for (( m=1; m<=warmup+minutes; m++ )); do
  sleep 60
  kill -0 "$pid" 2>/dev/null || die "rss-soak: edge run exited at minute $m (see $out/demo.out)"
  r=$(rss_mb)
  printf 'minute %3d  rss %7s MB  anonymous %7s MB  %s  threads %s  %s%s\n' "$m" "$r" "$(anon_mb)" "$(smaps "$m")" "$(threads)" "$(metrics)" "$([ "$m" -le "$warmup" ] && echo '  (warm-up)')"
  [ "$m" -gt "$warmup" ] && samples+=("$r")
done

printf '%s\n' "${samples[@]}" | awk -v limit="$limit" -v minutes="$minutes" '
  NR == 1 { first = $1; min = $1; max = $1 }
  { if ($1 < min) min = $1; if ($1 > max) max = $1; last = $1 }
  END {
    lo = (min - first) / first * 100; hi = (max - first) / first * 100
    printf "measured %d min: first %.1f MB, last %.1f MB (%+.1f %%), range %+.1f %% .. %+.1f %% of the first sample (limit ±%s %%)\n", minutes, first, last, (last - first) / first * 100, lo, hi, limit
    exit (hi > limit || -lo > limit) ? 1 : 0
  }'
