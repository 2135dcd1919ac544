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
# "first done" is when the first variant's playlist is final (its last
# segment encoded); "thumbnails" is when thumbnails.vtt and poster.jpg are both there.
#
# Usage: benches/first_playable.sh
# Env: TESSERA (default target/release/tessera), TESSERA_BEFORE (an earlier
#      build: measured the same way, optional), SECS (60), RUNS (3),
#      BENCH_DIR (/tmp/tessera-bench), EXTRA (more transcode arguments),
#      STOP_AFTER=playable|thumbnails (stop each run there: for the whole
#      film, whose full ladder takes over half an hour on 2 cores).
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

# One run: prints "playable first-done thumbnails total cpu" in seconds ("-": not reached, stopped early).
run_once() {
  local bin=$1 out=$2
  rm -rf "$out"
  local start playable="" first="" thumbs="" total="-" cpu="-"
  start=$(now)
  # Its own process group, so stopping it stops the cutting and encoding children too.
  # shellcheck disable=SC2086
  setsid /usr/bin/time -f "%U %S" -o "$out.time" "$bin" transcode "$src" --out "$out" ${EXTRA:-} >/dev/null 2>"$out.log" &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    local t
    t=$(now)
    [ -z "$playable" ] && [ -s "$out/master.m3u8" ] && playable=$(echo "$t - $start" | bc)
    [ -z "$thumbs" ] && [ -s "$out/thumbnails.vtt" ] && [ -s "$out/poster.jpg" ] && thumbs=$(echo "$t - $start" | bc)
    if [ -z "$first" ] && [ -n "$playable" ]; then
      local variant
      variant=$(grep -A1 '^#EXT-X-STREAM-INF' "$out/master.m3u8" 2>/dev/null | sed -n 2p)
      [ -n "$variant" ] && grep -q ENDLIST "$out/$variant" 2>/dev/null && first=$(echo "$t - $start" | bc)
    fi
    local stop=""
    case "${STOP_AFTER:-}" in
      playable) [ -n "$playable" ] && stop=1 ;;
      thumbnails) [ -n "$thumbs" ] && [ -n "$first" ] && stop=1 ;;
    esac
    if [ -n "$stop" ]; then
      kill -- "-$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      echo "$playable ${first:--} ${thumbs:--} - -"
      return
    fi
    sleep 0.05
  done
  wait "$pid"
  total=$(echo "$(now) - $start" | bc)
  cpu=$(awk '{print $1 + $2}' "$out.time")
  [ -z "$playable" ] && playable=$total
  [ -z "$first" ] && first=$playable
  [ -z "$thumbs" ] && thumbs="-"
  echo "$playable $first $thumbs $total $cpu"
}

p50() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print "-"; else print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

echo "input: $src ($SECS s; 0 = the whole film), default ladder, ${EXTRA:-no extra arguments}, $RUNS runs"
labels=()
[ -n "${TESSERA_BEFORE:-}" ] && labels+=(before)
labels+=(after)
for label in "${labels[@]}"; do : >"$BENCH_DIR/first-playable-$label.txt"; done
# The builds take turns, run by run, so a change in the machine's load falls on both alike.
for i in $(seq 1 "$RUNS"); do
  for label in "${labels[@]}"; do
    bin="$TESSERA"
    [ "$label" = before ] && bin="$TESSERA_BEFORE"
    line=$(run_once "$bin" "$BENCH_DIR/out-$label")
    echo "$line" >>"$BENCH_DIR/first-playable-$label.txt"
    echo "$label run $i: playable, first done, thumbnails, total, CPU (s): $line"
  done
done
for label in "${labels[@]}"; do
  results="$BENCH_DIR/first-playable-$label.txt"
  col() { cut -d' ' -f"$1" "$results" | grep -v -- - | p50; }
  printf '%s p50: playable %s s, first done %s s, thumbnails %s s, total %s s, CPU %s s\n' "$label" \
    "$(col 1)" "$(col 2)" "$(col 3)" "$(col 4)" "$(col 5)"
done
