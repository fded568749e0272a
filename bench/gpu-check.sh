#!/usr/bin/env bash
# The GPU path, checked and timed, on a machine with a GPU (or, to know the script works, on a
# software Vulkan device): builds nothing, it is given the binary.
#
#   bench/gpu-check.sh BIN [OUT]          run from the repository root (presets/, assets/)
#
# 1. lists the wgpu adapters and what each --backend runs on;
# 2. runs the toy default iteration and the digits U-Net iteration (shipped conditional teacher,
#    batch 8) for 20 iterations on the CPU backend and on wgpu, same seed, and checks that the
#    per-iteration losses and gradient norms agree (tolerance below);
# 3. times both backends side by side (`bench`: start-up and each warm-up iteration reported as
#    they end, then medians, and the GPU memory the engine holds);
# 4. with CIFAR=1 or CIFAR=only (GPU only), times the paper's preset cifar10_sim_cond at batch
#    64 and 256 on EDM's CIFAR-10 DDPM++ at its published shapes with random weights
#    (`random-edm-teacher`; the judge is the 1/16-width fixture Inception on a small CIFAR-10
#    batch written here, as only the iteration is timed), with the memory it holds; with EDM=a checkout of NVlabs/edm
#    too, the same iteration in PyTorch on CUDA (bench/edm_iteration.py --device cuda, EDM's own
#    network code on the same weights) at the same batches, with its peak memory.
# CIFAR=only skips 1–3. The caches of compiled kernels and autotune results (CubeCL's in
# target/environment/ when run from the repository, the driver's) are kept between runs, so a
# second run of this script shows the warm start (docs/platform.md "On a GPU"). BIN may be a
# build with `--features sim-workbench/vulkan` (SPIR-V kernels; it refuses software adapters).
# On a container whose NVIDIA driver is mounted rather than installed, wgpu may need the
# driver's Vulkan ICD named: VK_DRIVER_FILES=/path/to/nvidia_icd.json.
set -euo pipefail
bin=${1:?usage: bench/gpu-check.sh BIN [OUT]}
out=${2:-$(mktemp -d)}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
iterations=20
# |wgpu − cpu| ≤ RTOL·|cpu| + ATOL for every logged loss and gradient norm of every iteration.
# The random draws are made on the host from the same seeds, so the backends see the same inputs;
# what differs is f32 rounding in the kernels, compounded over 20 Adam steps.
rtol=${RTOL:-0.02}
atol=${ATOL:-0.002}

echo "== adapters"
"$bin" devices

check() {  # case preset overrides…
  local case=$1 preset=$2
  shift 2
  for backend in cpu gpu; do
    rm -rf "$out/$case-$backend"
    "$bin" run "$preset" --backend "$backend" --iterations "$iterations" --out "$out/$case-$backend" \
      --set checkpoint.every=0 --set eval.every=1000 "$@" | tail -2
  done
  python3 - "$out/$case-cpu" "$out/$case-gpu" "$rtol" "$atol" "$case" <<'PY'
import glob, json, sys
cpu_dir, gpu_dir, rtol, atol, case = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
def lines(d):
    path = glob.glob(d + "/*/metrics.jsonl")[0]
    rows = [json.loads(l) for l in open(path)]
    return {r["step"]: r for r in rows if r.get("event", "iteration") == "iteration"}
cpu, gpu = lines(cpu_dir), lines(gpu_dir)
keys = ["loss_generator", "loss_fake", "grad_norm_generator", "grad_norm_fake"]
worst, ok = {}, True
for step in sorted(cpu):
    for k in keys:
        a, b = cpu[step][k], gpu[step][k]
        err = abs(a - b) if a is not None and b is not None else float("inf")
        bound = rtol * abs(a or 0) + atol
        worst[k] = max(worst.get(k, 0.0), err / bound)
        ok &= err <= bound
print(f"{case}: {len(cpu)} iterations; worst |wgpu − cpu| / (rtol·|cpu| + atol) per quantity: "
      + ", ".join(f"{k} {v:.3f}" for k, v in worst.items()))
print(f"{case}: {'MATCH' if ok else 'MISMATCH'} (rtol {rtol}, atol {atol})")
sys.exit(0 if ok else 1)
PY
}

status=0
if [ "${CIFAR:-0}" != only ]; then
  echo "== toy default iteration: cpu vs wgpu"
  check toy default --set eval.samples=500 || status=1
  echo "== digits U-Net iteration: cpu vs wgpu"
  check digits digits_sim --set distill.batch=8 --set eval.samples=100 || status=1

  echo "== throughput (start-up and warm-up apart, then medians of rounds)"
  "$bin" bench default --backends cpu,gpu --rounds 3 --iterations 10
  "$bin" bench digits_sim --backends cpu,gpu --rounds 3 --iterations 3 --set distill.batch=8 \
    --set eval.samples=100
fi

if [ "${CIFAR:-0}" != 0 ]; then
  echo "== cifar10_sim_cond on EDM's CIFAR-10 shapes (random weights), wgpu"
  # shellcheck disable=SC2207 # the --set arguments are split on purpose
  stand_ins=($(bash "$(dirname "$0")/cifar_stand_ins.sh" "$bin" "$out"))
  for batch in ${CIFAR_BATCHES:-64 256}; do
    "$bin" bench cifar10_sim_cond --backends gpu --rounds 3 --iterations 2 \
      "${stand_ins[@]}" --set distill.batch="$batch" || status=1
    if [ -n "${EDM:-}" ]; then
      echo "PyTorch CUDA, batch $batch (ms per iteration):"
      python3 "$(dirname "$0")/edm_iteration.py" --edm "$EDM" --device cuda --batch "$batch" \
        --teacher "$out/edm-cifar10-random.safetensors" --warmup 2 --iterations 3 --rounds 3 ||
        status=1
    fi
  done
fi
exit $status
