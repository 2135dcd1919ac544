#!/usr/bin/env bash
# Runs every fuzz target (fuzz/, cargo-fuzz on libFuzzer, stable toolchain with
# `-s none`) for SECONDS each (default 60), seeded from media made here
# (scripts/fuzz_seeds.py). Fails if a target finds a crash; the input is left in
# fuzz/artifacts/TARGET/ (add it to a regression test, then fix the parser).
# Prints each target's executions, for benches/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${1:-60}"
TESSERA_BIN="${TESSERA_BIN:-${CARGO_TARGET_DIR:-target}/debug/tessera}"
[ -x "$TESSERA_BIN" ] || cargo build -q -p tessera
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# Its own target folder: the instrumented build must not replace the project's.
export CARGO_TARGET_DIR="${TESSERA_FUZZ_TARGET_DIR:-$HOME/.cache/tessera-fuzz-target}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 scripts/fuzz_seeds.py "$work" "$TESSERA_BIN"
(cd fuzz && cargo fuzz build -s none)
status=0
for target in rtmp_session flv_tag source_segment; do
  log="$work/$target.log"
  if (cd fuzz && cargo fuzz run -s none "$target" "$work/corpus/$target" -- \
        -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -malloc_limit_mb=512 -print_final_stats=1) >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
    echo "fuzz $target: $runs executions in ${SECONDS_EACH} s, coverage $cov, no crash"
  else
    echo "fuzz $target: FAILED (input in fuzz/artifacts/$target/)"
    tail -40 "$log"
    status=1
  fi
done
exit $status
