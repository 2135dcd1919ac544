#!/usr/bin/env bash
# ffmpeg's figures on the same frames the criterion bench (`cargo bench -p
# tessera-media`) uses: the 720p30 x264 High test pattern, single-threaded,
# same bitrates. Prints fps per operation; divide Tessera's criterion fps by
# these for the ratios in benches/README.md.
set -euo pipefail
FFMPEG="${FFMPEG:-ffmpeg}"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
frames=60
"$FFMPEG" -hide_banner -loglevel error -y -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=2" \
  -c:v libx264 -profile:v high -bf 3 -g 30 -pix_fmt yuv420p "$work/in.mp4"
"$FFMPEG" -hide_banner -loglevel error -y -i "$work/in.mp4" -f rawvideo -pix_fmt yuv420p "$work/720.yuv"
"$FFMPEG" -hide_banner -loglevel error -y -i "$work/in.mp4" -vf scale=640:360:flags=lanczos -f rawvideo -pix_fmt yuv420p "$work/360.yuv"

timed() { # label, then the ffmpeg arguments
  local label=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  "$FFMPEG" -hide_banner -loglevel error -y "$@"
  t1=$(date +%s.%N)
  python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'{sys.argv[3]:<28} {s:7.3f} s  {int(sys.argv[4])/s:8.1f} fps')" "$t0" "$t1" "$label" "$frames"
}
raw() { echo -f rawvideo -pix_fmt yuv420p -s "$1" -r 30 -i "$work/$2.yuv"; }

timed "decode h264 720p"            -threads 1 -i "$work/in.mp4" -f null -
timed "decode+scale 720p->360p"     -threads 1 -i "$work/in.mp4" -vf scale=640:360:flags=lanczos -f null -
timed "libx264 veryfast 360p"       $(raw 640x360 360) -c:v libx264 -preset veryfast -threads 1 -b:v 700k -f null -
timed "libx264 veryfast 720p"       $(raw 1280x720 720) -c:v libx264 -preset veryfast -threads 1 -b:v 2500k -f null -
timed "librav1e speed 10 360p"      $(raw 640x360 360) -c:v librav1e -speed 10 -tiles 1 -rav1e-params threads=1 -b:v 450k -f null -
timed "librav1e speed 10 720p"      $(raw 1280x720 720) -c:v librav1e -speed 10 -tiles 1 -rav1e-params threads=1 -b:v 1600k -f null -
timed "libsvtav1 preset 12 360p"    $(raw 640x360 360) -c:v libsvtav1 -preset 12 -svtav1-params lp=1 -b:v 450k -f null -
timed "libsvtav1 preset 12 720p"    $(raw 1280x720 720) -c:v libsvtav1 -preset 12 -svtav1-params lp=1 -b:v 1600k -f null -
