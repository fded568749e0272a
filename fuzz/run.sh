#!/usr/bin/env bash
# Runs every `cargo fuzz` target of the decoders, seeded, one after the other.
#   bash fuzz/run.sh            # CI: 20,000 executions of each (a few seconds in all)
#   bash fuzz/run.sh 300        # a developer: 300 s of each
# Needs the nightly toolchain and cargo-fuzz (installed here when missing) and a C++ compiler
# (libFuzzer). Findings land in fuzz/artifacts/<target>/ and fail the run.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-}"

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# The workspace's clippy wrapper is a stable tool; nightly builds without it.
unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/sim-workbench/fuzz-target}"

if [ -n "$seconds" ]; then
  budget=(-max_total_time="$seconds")
else
  budget=(-runs=20000)
fi
log="$(mktemp)"
for target in $(cargo +nightly fuzz list); do
  echo "-- fuzz $target"
  if ! cargo +nightly fuzz run "$target" -O -- "${budget[@]}" -seed=1 -print_final_stats=1 \
      >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "fuzz target $target failed; the input is in fuzz/artifacts/$target/"
    exit 1
  fi
  grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$log"
done
rm -f "$log"
