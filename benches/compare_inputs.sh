#!/usr/bin/env bash
# The input front end's costs (issue 12), one run, same machine, as ratios:
#   1. the pre-roll's price: Tessera's H.264 ladder with 2 s segments on the
#      benchmark clip with 2 s GOPs against the same content with 10 s GOPs
#      (4 of 5 segments then start between keyframes and decode from the one before);
#   2. Tessera's H.264 ladder against ffmpeg's own (one decode, split + lanczos
#      scale, libx264 veryfast at the same bitrates) on the H.264 clip, an HEVC
#      10-bit MOV and a ProRes 422 MOV of the same content: how the ratio moves
#      with the input codec is the front end's share;
#   3. peak RSS of Tessera per slot count (--workers 1 and 2) on the HEVC source.
# Wall and CPU time and peak RSS come from /usr/bin/time -v.
#
# Run: cargo build --release -p tessera && benches/compare_inputs.sh
# Env: TESSERA (binary), FFMPEG, BENCH_DIR (default /tmp/tessera-bench), CLIP_SECS (default 12),
# SRC (a 720p H.264 + AAC source with 2 s GOPs instead of the benchmark clip).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
TESSERA="${TESSERA:-$here/../target/release/tessera}"
FFMPEG="${FFMPEG:-/usr/bin/ffmpeg}"
BENCH_DIR="${BENCH_DIR:-/tmp/tessera-bench}"
CLIP_SECS="${CLIP_SECS:-12}"
TIME=/usr/bin/time
[ -x "$TESSERA" ] || { echo "no tessera binary at $TESSERA (cargo build --release -p tessera, or set TESSERA)" >&2; exit 1; }
[ -x "$TIME" ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
mkdir -p "$BENCH_DIR"
if [ -z "${SRC:-}" ]; then
  # shellcheck source=clip.sh
  . "$here/clip.sh"
  make_clip "$CLIP_SECS"
fi
derive() { # NAME ARGS...: the clip re-encoded, cached
  local out="$BENCH_DIR/inputs-$(basename "$SRC" .mp4)-$1"; shift
  [ -s "$out" ] || "$FFMPEG" -hide_banner -nostdin -loglevel error -y -i "$SRC" "$@" "$out"
  echo "$out"
}
GOP10=$(derive gop10.mp4 -c:v libx264 -preset medium -crf 20 -profile:v high -bf 3 -g 300 -keyint_min 300 -sc_threshold 0 -c:a copy)
HEVC=$(derive hevc10.mov -c:v libx265 -preset fast -crf 20 -pix_fmt yuv420p10le -tag:v hvc1 -x265-params log-level=error -c:a copy)
PRORES=$(derive prores.mov -c:v prores_ks -profile:v 2 -c:a pcm_s16le)

runs="$BENCH_DIR/inputs-runs"
rm -rf "$runs"; mkdir -p "$runs"
timed() { # LABEL COMMAND...
  local label=$1; shift
  echo "running $label ..." >&2
  "$TIME" -v -o "$runs/$label.time" "$@" >"$runs/$label.log" 2>&1 || { cat "$runs/$label.log" >&2; exit 1; }
}
wall() { awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$runs/$1.time"; }
cpu() { awk -F': ' '/User time/{u=$2} /System time/{s=$2} END{print u+s}' "$runs/$1.time"; }
rss() { awk -F': ' '/Maximum resident set size/{printf "%.0f", $2/1024}' "$runs/$1.time"; }

tessera() { timed "tessera-$1" "$TESSERA" transcode "$2" --out "$runs/tessera-$1" --codecs h264 --segment-duration 2 "${@:3}"; }
tessera gop2 "$SRC"
tessera gop10 "$GOP10"
tessera hevc "$HEVC"
tessera prores "$PRORES"
tessera hevc-1slot "$HEVC" --workers 1
tessera hevc-2slots "$HEVC" --workers 2

# ffmpeg's own ladder: the same rungs and sizes as Tessera's 720p H.264 ladder.
ffmpeg_ladder() { # LABEL INPUT
  local fc="[0:v]split=4[a][b][c][d];[a]scale=1280:720:flags=lanczos[o0];[b]scale=854:480:flags=lanczos[o1];"
  fc+="[c]scale=640:360:flags=lanczos[o2];[d]scale=426:240:flags=lanczos[o3]"
  local args=() i kb
  local rates=(2500 1200 700 400)
  for i in 0 1 2 3; do
    kb=${rates[$i]}
    args+=(-map "[o$i]" -c:v libx264 -preset veryfast -b:v "${kb}k" -maxrate "$((kb * 3 / 2))k" -bufsize "$((kb * 2))k"
      -g 60 -keyint_min 60 -sc_threshold 0 -f mp4 "$runs/ffmpeg-$1-$i.mp4")
  done
  timed "ffmpeg-$1" "$FFMPEG" -hide_banner -nostdin -loglevel error -y -i "$2" -filter_complex "$fc" "${args[@]}"
}
ffmpeg_ladder gop2 "$SRC"
ffmpeg_ladder hevc "$HEVC"
ffmpeg_ladder prores "$PRORES"

{
  echo "| run | wall s | CPU s | peak RSS MB |"
  echo "| --- | --- | --- | --- |"
  for t in "$runs"/*.time; do
    l=$(basename "$t" .time)
    echo "| $l | $(wall "$l") | $(cpu "$l") | $(rss "$l") |"
  done
  ratio() { awk -v a="$(wall "$1")" -v b="$(wall "$2")" 'BEGIN{printf "%.2f", a/b}'; }
  echo
  echo "- pre-roll price (10 s GOPs / 2 s GOPs, Tessera H.264 ladder, wall): $(ratio tessera-gop10 tessera-gop2)x"
  for s in gop2 hevc prores; do
    echo "- Tessera / ffmpeg (H.264 ladder, wall) on the $s source: $(ratio "tessera-$s" "ffmpeg-$s")x"
  done
} | tee "$BENCH_DIR/inputs-results.md"
