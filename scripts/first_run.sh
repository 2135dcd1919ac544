#!/usr/bin/env bash
# A newcomer's first run on Debian or Ubuntu, in one command: installs the
# system packages that are missing (FFmpeg's libraries and tools, clang and
# pkg-config for the bindings, nasm), builds Tessera, makes a 10 s sample,
# transcodes it to an HLS + DASH ladder and says how to play it.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null; then
  echo "Rust (1.85 or newer) is needed first: see https://rustup.rs, then run this again." >&2
  exit 1
fi

# shellcheck source=system_packages.sh
. scripts/system_packages.sh
install_missing

cargo build --release -p tessera
target_dir="${CARGO_TARGET_DIR:-target}"
mkdir -p first-run
if [ ! -f first-run/sample.mp4 ]; then
  ffmpeg -hide_banner -loglevel error -f lavfi -i testsrc2=size=1280x720:rate=30:duration=10 \
    -f lavfi -i sine=duration=10 -c:v libx264 -profile:v high -g 60 -c:a aac -shortest first-run/sample.mp4
fi
"$target_dir/release/tessera" transcode first-run/sample.mp4 --out first-run/out

cat <<'DONE'

Done: first-run/out holds the ladder (master.m3u8, manifest.mpd, one folder per rendition).
Play it:
  ffplay first-run/out/master.m3u8          (or first-run/out/manifest.mpd, or open either in VLC)
  cd first-run/out && python3 -m http.server 8000
      then http://localhost:8000/master.m3u8 in Safari, or in the hls.js demo page;
      http://localhost:8000/manifest.mpd in the dash.js reference player.
DONE
echo "Your own file: $target_dir/release/tessera transcode YOUR_VIDEO --out out"
