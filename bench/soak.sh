#!/usr/bin/env bash
# Soak: many short headless runs of the toy mixture presets with `--backend auto`, several at a
# time, and the count of each exit code. Every run must exit 0: an abort at exit (134), a crash
# or a hang shows up here even when it is rare. Not a test: it takes minutes and its point is
# the count (docs/platform.md, "Exit").
#
#   bench/soak.sh [RUNS] [PARALLEL]        default 200 runs, 4 at a time
#
# SIM_WORKBENCH: the binary (default target/release/sim-workbench). ITERATIONS per run (default
# 200). Each run has one rayon thread and its own output folder; the teacher-fit cache is shared.
# The runs' stderr is kept in $OUT (default a temporary folder) for the failures it lists.
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}
parallel=${2:-4}
bin=$(realpath "${SIM_WORKBENCH:-target/release/sim-workbench}")
[ -x "$bin" ] || { echo "no binary at $bin: cargo build --release, or set SIM_WORKBENCH"; exit 2; }
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
presets=(default l1 l2 sid diff_instruct grid_5x5 far_modes unequal_weights)
export bin out
export ITERATIONS=${ITERATIONS:-200}
export SIM_WORKBENCH_CACHE=${SIM_WORKBENCH_CACHE:-$out/cache}

one() {
  local i=$1 preset=$2
  RAYON_NUM_THREADS=1 timeout 600 "$bin" run "presets/$preset.toml" --backend auto \
    --iterations "$ITERATIONS" --seed "$i" --out "$out/runs-$i" \
    >"$out/$i.out" 2>"$out/$i.err"
  echo "$i $preset $?" >>"$out/codes"
}
export -f one

started=$(date +%s)
for ((i = 0; i < runs; i++)); do
  echo "$i ${presets[i % ${#presets[@]}]}"
done | xargs -P "$parallel" -n 2 bash -c 'one "$@"' _
elapsed=$(( $(date +%s) - started ))

echo "$runs runs of $ITERATIONS iterations, $parallel at a time, --backend auto, $elapsed s ($bin)"
awk '{ n[$3]++ } END { for (c in n) printf "  exit %s: %d\n", c, n[c] }' "$out/codes" | sort
bad=$(awk '$3 != 0' "$out/codes" | wc -l)
if [ "$bad" -gt 0 ]; then
  echo "failed runs (first stderr lines in $out/<run>.err):"
  awk '$3 != 0' "$out/codes" | head -10 | while read -r i preset code; do
    echo "  run $i ($preset) exit $code: $(grep -m1 -E 'error|corrupt|double free|panicked' "$out/$i.err")"
  done
  exit 1
fi
