#!/usr/bin/env bash
# Watch while it transcodes: how long after an upload ends its first rendition
# plays, the whole ladder is done, and the poster and thumbnails are there,
# for `tessera transcode` with the default ladder (H.264 + AV1), against an
# earlier build on the same input in the same run.
#
# Input: Big Buck Bunny (1280x720, 24 fps, 596 s, H.264 + AAC) from PyPI's
# moviepy 2.2.1 sdist, cut with `-c copy` to SECS seconds from 2:00 (the
# whole film when SECS is 0). "Upload end" is the start of `tessera
# transcode` (the file is local); "playable" is when master.m3u8 appears (the
# packager writes it once the first rendition and the audio have a segment;
# before watch-while-transcoding it was written with the finished package);
# "thumbnails" is when thumbnails.vtt and poster.jpg are both there.
#
# Usage: benches/first_playable.sh
# Env: TESSERA (default target/release/tessera), TESSERA_BEFORE (an earlier
#      build: measured the same way, optional), SECS (60), RUNS (3),
#      BENCH_DIR (/tmp/tessera-bench), EXTRA (more transcode arguments),
#      STOP_AFTER_PLAYABLE=1 (stop each run once playable and thumbnails are
#      there: for the whole film, whose full ladder takes hours on 2 cores).
# Prints one line per run and a p50 summary per build.
set -euo pipefail
cd "$(dirname "$0")/.."

TESSERA="${TESSERA:-target/release/tessera}"
SECS="${SECS:-60}"
RUNS="${RUNS:-3}"
BENCH_DIR="${BENCH_DIR:-/tmp/tessera-bench}"
mkdir -p "$BENCH_DIR"

film="$BENCH_DIR/bbb.mp4"
if [ ! -s "$film" ]; then
  echo "fetching Big Buck Bunny from the moviepy 2.2.1 sdist ..." >&2
  tmp=$(mktemp -d)
  pip download moviepy==2.2.1 --no-binary :all: --no-deps --no-build-isolation -q -d "$tmp" 2>/dev/null ||
    pip download moviepy==2.2.1 --no-binary :all: --no-deps -q -d "$tmp"
  zip=moviepy-2.2.1/docs/_static/medias/getting_started/moviepy_10_minutes/moviepy_10_minutes.zip
  tar xzf "$tmp/moviepy-2.2.1.tar.gz" -C "$tmp" "$zip"
  unzip -o -j -q "$tmp/$zip" moviepy_10_minutes/resources/bbb.mp4 -d "$BENCH_DIR"
  rm -rf "$tmp"
fi
if [ "$SECS" = 0 ]; then
  src="$film"
else
  src="$BENCH_DIR/bbb-${SECS}s.mp4"
  [ -s "$src" ] || ffmpeg -hide_banner -loglevel error -y -ss 120 -i "$film" -t "$SECS" -c copy "$src"
fi

now() { date +%s.%N; }

# One run: prints "playable thumbnails total cpu" in seconds (total and cpu "-" when stopped early).
run_once() {
  local bin=$1 out=$2
  rm -rf "$out"
  local start playable="" thumbs="" total="-" cpu="-"
  start=$(now)
  # shellcheck disable=SC2086
  /usr/bin/time -f "%U %S" -o "$out.time" "$bin" transcode "$src" --out "$out" ${EXTRA:-} >/dev/null 2>"$out.log" &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    local t
    t=$(now)
    [ -z "$playable" ] && [ -s "$out/master.m3u8" ] && playable=$(echo "$t - $start" | bc)
    [ -z "$thumbs" ] && [ -s "$out/thumbnails.vtt" ] && [ -s "$out/poster.jpg" ] && thumbs=$(echo "$t - $start" | bc)
    if [ -n "${STOP_AFTER_PLAYABLE:-}" ] && [ -n "$playable" ] && [ -n "$thumbs" ]; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      echo "$playable $thumbs - -"
      return
    fi
    sleep 0.05
  done
  wait "$pid"
  total=$(echo "$(now) - $start" | bc)
  cpu=$(awk '{print $1 + $2}' "$out.time")
  [ -z "$playable" ] && playable=$total
  [ -z "$thumbs" ] && thumbs="-"
  echo "$playable $thumbs $total $cpu"
}

p50() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

echo "input: $src ($SECS s; 0 = the whole film), default ladder, ${EXTRA:-no extra arguments}, $RUNS runs"
for label in before after; do
  bin="$TESSERA"
  [ "$label" = before ] && bin="${TESSERA_BEFORE:-}"
  [ -z "$bin" ] && continue
  results="$BENCH_DIR/first-playable-$label.txt"
  : >"$results"
  for i in $(seq 1 "$RUNS"); do
    line=$(run_once "$bin" "$BENCH_DIR/out-$label")
    echo "$line" >>"$results"
    echo "$label run $i: playable ${line%% *} s; thumbnails, total, CPU s: ${line#* }"
  done
  printf '%s p50: playable %s s, thumbnails %s s, total %s s, CPU %s s\n' "$label" \
    "$(cut -d' ' -f1 "$results" | p50)" "$(cut -d' ' -f2 "$results" | grep -v -- - | p50)" \
    "$(cut -d' ' -f3 "$results" | grep -v -- - | p50)" "$(cut -d' ' -f4 "$results" | grep -v -- - | p50)"
done
