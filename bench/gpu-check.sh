#!/usr/bin/env bash
# Every GPU figure in one short call (docs/platform.md, "On a GPU"), on a machine with a GPU — or,
# to know the script works, on a software Vulkan device. It builds nothing: it is given the
# binary, stripped and compressed so that it travels (`zstd -19`; BIN.zst is unpacked here).
#
#   bench/gpu-check.sh BIN[.zst] [OUT]      from the repository root (presets/, assets/, bench/)
#
# Printed as it goes, each part with its wall time:
# 1. the adapters, and what each --backend runs on (`devices`);
# 2. the CPU-match check: the toy default and the digits U-Net (shipped teacher, batch 8), 20
#    iterations on the CPU and on the GPU backend from the same seed; every logged loss and
#    gradient norm must agree within RTOL·|cpu| + ATOL;
# 3. per case — the toy default, digits (batch 32), a 32×32 U-Net on Fashion-MNIST shapes (the
#    shipped teacher, batch 32, on 200 images written here) and EDM's CIFAR-10 DDPM++ at
#    batch 64 (random weights at the published shapes, bench/cifar_stand_ins.sh) — `bench` on the
#    GPU backend: start-up, the preparation (the first iteration: compiling and tuning), the
#    next iterations, the warm median, and the allocator's peak; then the same iteration in
#    PyTorch on CUDA where torch is installed (bench/*_iteration.py --device cuda), with its peak.
#
# BACKEND picks the GPU backend (default: cuda when `devices` lists CUDA, else gpu = wgpu);
# CASES picks cases (default "toy digits fashion cifar"); EDM=a checkout of NVlabs/edm adds the
# PyTorch CIFAR-10 iteration. Kernel caches live in $SIM_WORKBENCH_CACHE (default: under OUT), so a
# second run of the script shows the warm start. On a container whose NVIDIA driver is mounted
# rather than installed, wgpu may need the driver's Vulkan ICD named:
# VK_DRIVER_FILES=/path/to/nvidia_icd.json.
set -euo pipefail
bin=${1:?usage: bench/gpu-check.sh BIN[.zst] [OUT]}
out=${2:-$(mktemp -d)}
mkdir -p "$out"
if [[ $bin == *.zst ]]; then
  zstd -dqf "$bin" -o "$out/sim-workbench" && chmod +x "$out/sim-workbench"
  bin=$out/sim-workbench
fi
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
export SIM_WORKBENCH_CACHE=${SIM_WORKBENCH_CACHE:-$out/cache}
here=$(cd "$(dirname "$0")" && pwd)
iterations=20
# |gpu − cpu| ≤ RTOL·|cpu| + ATOL for every logged loss and gradient norm of every iteration.
# The random draws are made on the host from the same seeds, so the backends see the same inputs;
# what differs is f32 rounding in the kernels, compounded over 20 Adam steps.
rtol=${RTOL:-0.02}
atol=${ATOL:-0.002}
started=$SECONDS
part() { echo "== $1 (at $((SECONDS - started)) s)"; }

part "adapters"
"$bin" devices
backend=${BACKEND:-$("$bin" devices | grep -q '^--backend cuda: cuda' && echo cuda || echo gpu)}
echo "GPU backend: $backend"

check() {  # case preset overrides…
  local case=$1 preset=$2
  shift 2
  for b in cpu "$backend"; do
    rm -rf "$out/$case-$b"
    "$bin" run "$preset" --backend "$b" --iterations "$iterations" --out "$out/$case-$b" \
      --set checkpoint.every=0 --set eval.every=1000 "$@" 2>&1 |
      grep -E '^(the GPU prepared|run |finished|error)'
  done
  python3 - "$out/$case-cpu" "$out/$case-$backend" "$rtol" "$atol" "$case" <<'PY'
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
print(f"{case}: {len(cpu)} iterations; worst |gpu − cpu| / (rtol·|cpu| + atol) per quantity: "
      + ", ".join(f"{k} {v:.3f}" for k, v in worst.items()))
print(f"{case}: {'MATCH' if ok else 'MISMATCH'} (rtol {rtol}, atol {atol})")
sys.exit(0 if ok else 1)
PY
}

torch_cuda=$(python3 -c "import torch; print(torch.cuda.is_available())" 2>/dev/null || echo no)
pytorch() {  # script args…: the same iteration in PyTorch on CUDA, where it can run
  local script=$1
  shift
  if [ "$torch_cuda" = True ]; then
    echo "PyTorch CUDA (ms per iteration, median of rounds):"
    python3 "$here/$script" "$@" --device cuda --iterations 5 --rounds 3 || status=1
  else
    echo "PyTorch CUDA: not run (torch with CUDA is not installed here)"
  fi
}

status=0
cases=${CASES:-toy digits fashion cifar}
if [[ " $cases " == *" toy "* || " $cases " == *" digits "* ]]; then
  part "CPU-match: the toy default, cpu vs $backend"
  check toy default --set eval.samples=500 || status=1
  part "CPU-match: the digits U-Net, cpu vs $backend"
  check digits digits_sim --set distill.batch=8 --set eval.samples=100 || status=1
fi

for case in $cases; do
  case $case in
    toy)
      part "toy default (MLP 4×64, batch 1024) on $backend"
      "$bin" bench default --backends "$backend" --rounds 3 --iterations 10 || status=1
      pytorch toy_iteration.py --batch 1024
      ;;
    digits)
      part "digits (8×8 U-Net, batch 32) on $backend"
      "$bin" bench digits_sim --backends "$backend" --rounds 3 --iterations 5 \
        --set eval.samples=100 || status=1
      pytorch unet_iteration.py --teacher "$PWD/assets/teachers/digits-cond.safetensors" --batch 32
      ;;
    fashion)
      part "32×32 U-Net (Fashion-MNIST shapes, batch 32) on $backend"
      mkdir -p "$out/fashion"
      python3 - "$out/fashion" <<'PY'
import struct, sys
n, side = 200, 28
images = bytes((7 * p + 31 * i) % 251 for i in range(n) for p in range(side * side))
with open(f"{sys.argv[1]}/t10k-images-idx3-ubyte", "wb") as f:
    f.write(struct.pack(">IIII", 0x803, n, side, side) + images)
with open(f"{sys.argv[1]}/t10k-labels-idx1-ubyte", "wb") as f:
    f.write(struct.pack(">II", 0x801, n) + bytes(i % 10 for i in range(n)))
PY
      "$bin" bench fashion_mnist_sim --backends "$backend" --rounds 3 --iterations 3 \
        --set data.kind=\"idx\" --set data.dir=\""$out/fashion"\" --set data.split=\"test\" \
        --set eval.classifier=\""$PWD/assets/classifiers/fashion-mnist-cnn.safetensors"\" \
        --set eval.samples=100 || status=1
      pytorch unet_iteration.py \
        --teacher "$PWD/assets/teachers/fashion-mnist-cond.safetensors" --batch 32
      ;;
    cifar)
      part "CIFAR-10 DDPM++ (EDM's shapes, random weights, batch 64) on $backend"
      # shellcheck disable=SC2207 # the --set arguments are split on purpose
      stand_ins=($(bash "$here/cifar_stand_ins.sh" "$bin" "$out"))
      "$bin" bench cifar10_sim_cond --backends "$backend" --rounds 3 --iterations 2 \
        "${stand_ins[@]}" --set distill.batch=64 || status=1
      if [ -n "${EDM:-}" ]; then
        pytorch edm_iteration.py --edm "$EDM" --batch 64 --warmup 2 \
          --teacher "$out/edm-cifar10-random.safetensors"
      else
        echo "PyTorch CUDA: not run (EDM=a checkout of NVlabs/edm is not given)"
      fi
      ;;
    *) echo "unknown case $case (toy, digits, fashion, cifar)"; status=1 ;;
  esac
done
part "done"
exit $status
