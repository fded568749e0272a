#!/usr/bin/env bash
# Side-by-side timing of one distillation iteration: the engine (`sim-workbench bench`) against
# the same iteration in PyTorch (bench/*.py), alternating rounds (A B A B …) so that machine
# noise hits both alike, at a fixed thread count on both sides; prints medians and the ratio.
#
#   bench/side_by_side.sh [ROUNDS] [THREADS…]        e.g. bench/side_by_side.sh 7 1 2
#
# SIM_WORKBENCH: the binary (default target/release/sim-workbench). PyTorch is a benchmark-only
# dependency: it is installed here into bench/.venv, never by the product.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-7}
shift || true
threads=("${@:-1}")
bin=${SIM_WORKBENCH:-target/release/sim-workbench}
[ -x "$bin" ] || { echo "no binary at $bin: cargo build --release, or set SIM_WORKBENCH"; exit 2; }
venv=bench/.venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet torch numpy
fi
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
for t in "${threads[@]}"; do
  burn=() torch=()
  for _ in $(seq "$rounds"); do
    burn+=("$(RAYON_NUM_THREADS=$t "$bin" bench --backends cpu --rounds 1 --iterations 20 \
      | sed -n 's/.*median *\([0-9.]*\) ms\/it.*/\1/p')")
    torch+=("$(OMP_NUM_THREADS=$t "$venv/bin/python" bench/toy_iteration.py --threads "$t" \
      --rounds 1 --iterations 20 | awk '{print $2}')")
  done
  b=$(printf '%s\n' "${burn[@]}" | median)
  p=$(printf '%s\n' "${torch[@]}" | median)
  printf 'toy default iteration, %s thread(s), %s rounds: Burn flex %s ms, PyTorch %s ms, ratio %s\n' \
    "$t" "$rounds" "$b" "$p" "$(awk -v b="$b" -v p="$p" 'BEGIN {printf "%.2f", b / p}')"
done
