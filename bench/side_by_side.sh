#!/usr/bin/env bash
# Side-by-side timing of one distillation iteration: the engine (`sim-workbench bench`) against
# the same iteration in PyTorch (bench/*.py), alternating rounds (A B A B …) so that machine
# noise hits both alike, at a fixed thread count on both sides; prints medians and the ratio.
#
#   bench/side_by_side.sh [ROUNDS] [THREADS…]        e.g. bench/side_by_side.sh 7 1 2
#
# CASES: which cases, in order (default "toy digits fashion"):
#   toy      the default preset (MLP 4×64, exact ring teacher, batch 1024)
#   digits   presets/digits_sim.toml (8×8 conditional U-Net teacher, batch 32)
#   fashion  presets/fashion_mnist_sim.toml (28×28 padded to 32×32, batch 8 here: seconds per
#            iteration at 32); needs `apt install dataset-fashion-mnist`
#   cifar    presets/cifar10_sim_cond.toml at batch 8 on EDM's CIFAR-10 DDPM++ at its published
#            shapes (random weights, bench/cifar_stand_ins.sh) against EDM's own network code in
#            PyTorch (bench/edm_iteration.py); needs EDM=a checkout of github.com/NVlabs/edm;
#            about a minute per iteration on 2 cores
# SIM_WORKBENCH: the binary (default target/release/sim-workbench). PyTorch is a benchmark-only
# dependency: it is installed here into bench/.venv, never by the product.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-7}
shift || true
threads=("${@:-1}")
read -ra cases <<< "${CASES:-toy digits fashion}"
bin=${SIM_WORKBENCH:-target/release/sim-workbench}
[ -x "$bin" ] || { echo "no binary at $bin: cargo build --release, or set SIM_WORKBENCH"; exit 2; }
venv=bench/.venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet torch numpy
fi
if [[ " ${cases[*]} " == *" cifar "* ]]; then
  : "${EDM:?the cifar case runs the network code of EDM: set EDM to a checkout of NVlabs/edm}"
  "$venv/bin/pip" install --quiet requests  # EDM's dnnlib imports it
  stand_ins=$(mktemp -d)
  cifar_sets=$(bash bench/cifar_stand_ins.sh "$bin" "$stand_ins")
fi

# case → "iterations per round | engine bench arguments | PyTorch script and arguments"
declare -A spec=(
  [toy]="20||bench/toy_iteration.py"
  [digits]="10|presets/digits_sim.toml|bench/unet_iteration.py --batch 32"
  [fashion]="3|presets/fashion_mnist_sim.toml --set distill.batch=8|bench/unet_iteration.py \
--teacher assets/teachers/fashion-mnist-cond.safetensors --batch 8"
  [cifar]="1|cifar10_sim_cond --set distill.batch=8 ${cifar_sets:-}|bench/edm_iteration.py \
--edm ${EDM:-} --teacher ${stand_ins:-}/edm-cifar10-random.safetensors --batch 8"
)
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
for case in "${cases[@]}"; do
  [ -n "${spec[$case]:-}" ] || { echo "unknown case $case (toy, digits, fashion, cifar)"; exit 2; }
  IFS='|' read -r iterations engine_args torch_args <<< "${spec[$case]}"
  for t in "${threads[@]}"; do
    burn=() torch=()
    for _ in $(seq "$rounds"); do
      # shellcheck disable=SC2086 # the argument lists are split on purpose
      burn+=("$(RAYON_NUM_THREADS=$t "$bin" bench $engine_args --backends cpu --rounds 1 \
        --iterations "$iterations" | sed -n 's/.*median *\([0-9.]*\) ms\/it.*/\1/p')")
      # shellcheck disable=SC2086
      torch+=("$(OMP_NUM_THREADS=$t "$venv/bin/python" $torch_args --threads "$t" --rounds 1 \
        --iterations "$iterations" | awk '{print $2}')")
    done
    b=$(printf '%s\n' "${burn[@]}" | median)
    p=$(printf '%s\n' "${torch[@]}" | median)
    printf '%-8s %s thread(s), %s rounds × %s it: Burn flex %9s ms, PyTorch %9s ms, ratio %s\n' \
      "$case" "$t" "$rounds" "$iterations" "$b" "$p" \
      "$(awk -v b="$b" -v p="$p" 'BEGIN {printf "%.2f", b / p}')"
  done
done
