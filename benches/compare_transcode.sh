#!/usr/bin/env bash
# Tessera's encoders against ffmpeg's (issue 14), same machine, one run, as
# ratios; the work is in compare_transcode.py, this installs what it needs.
#
# Content (made or fetched once, cached in $BENCH_DIR):
#   bbb        Big Buck Bunny (the 720p24 trailer in PyPI's moviepy 2.2.1 sdist), 20 s from 0:10
#   synthetic  the 720p30 benchmark clip of clip.sh (mandelbrot zoom + testsrc2), 12 s
#   slides     a still BBB frame with a slow zoom (a screen share or slides), 20 s (per-title only)
#
# 1. Speed: `tessera transcode` (default ladder: x264 + SVT-AV1) against one
#    ffmpeg process decoding once and splitting into every rung with libx264
#    veryfast and libsvtav1 preset 10 at the same rate control (x264: bitrate
#    = maxrate = bufsize, as Tessera's bitrate mode; SVT-AV1: VBR with a
#    whole-segment lookahead); the H.264 and AV1 ladders alone likewise.
# 2. Quality: VMAF (libvmaf, from the static ffmpeg in PyPI imageio-ffmpeg),
#    PSNR-Y and SSIM of every rung against the source scaled to the rung
#    (bicubic), Tessera's and ffmpeg's, at their achieved bitrates; and the
#    same for the openh264 / rav1e rungs.
# 3. Per-title: the H.264 ladder fixed, at 0.5x and 0.25x its bitrates, and
#    `--ladder auto`, on the three kinds of content: the bits the per-title
#    ladder saves at equal VMAF (the fixed ladder's bitrate for the auto
#    rung's VMAF, interpolated on its rate-VMAF curve).
#
# Run: cargo build --release -p tessera && benches/compare_transcode.sh   (about 30 minutes on 2 cores)
# Env: TESSERA, FFMPEG (default /usr/bin/ffmpeg: Debian's, with libx264 and libsvtav1),
#      VMAF_FFMPEG (default: imageio-ffmpeg's), BENCH_DIR (default /tmp/tessera-bench),
#      ONLY (comma list of parts: speed,quality,per_title; default all).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export TESSERA="${TESSERA:-$here/../target/release/tessera}"
export FFMPEG="${FFMPEG:-/usr/bin/ffmpeg}"
export BENCH_DIR="${BENCH_DIR:-/tmp/tessera-bench}"
[ -x "$TESSERA" ] || { echo "no tessera binary at $TESSERA (cargo build --release -p tessera, or set TESSERA)" >&2; exit 1; }
if [ ! -x /usr/bin/time ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq time >/dev/null
fi
if [ -z "${VMAF_FFMPEG:-}" ]; then
  python3 -c 'import imageio_ffmpeg' 2>/dev/null || pip install --quiet --disable-pip-version-check imageio-ffmpeg
  VMAF_FFMPEG=$(python3 -c 'import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())')
fi
export VMAF_FFMPEG
filters=$("$VMAF_FFMPEG" -hide_banner -filters 2>/dev/null)
grep -qw libvmaf <<<"$filters" || { echo "$VMAF_FFMPEG has no libvmaf" >&2; exit 1; }
mkdir -p "$BENCH_DIR"

# Big Buck Bunny: the trailer in moviepy's sdist (PyPI), 720p24 H.264.
if [ ! -s "$BENCH_DIR/bbb.mp4" ]; then
  dl=$(mktemp -d)
  pip download --quiet --disable-pip-version-check moviepy==2.2.1 --no-deps --no-binary :all: -d "$dl"
  tar -xzf "$dl"/moviepy-2.2.1.tar.gz -C "$dl" --wildcards '*/trailer_bbb.mp4'
  mv "$(find "$dl" -name trailer_bbb.mp4)" "$BENCH_DIR/bbb.mp4"
  rm -rf "$dl"
fi

# The synthetic clip.
# shellcheck source=clip.sh
. "$here/clip.sh"
make_clip 12
export SYNTHETIC="$SRC"

exec python3 "$here/compare_transcode.py"
