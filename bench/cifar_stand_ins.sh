#!/usr/bin/env bash
# Stand-ins for the CIFAR-10 preset's three files, for timing only (bench/README.md): EDM's
# class-conditional CIFAR-10 DDPM++ at its published shapes with random weights
# (`sim-workbench random-edm-teacher`), a 200-image CIFAR-10 test batch of fixed pixels, and the
# 1/16-width FID Inception fixture as the judge. Prints the `--set` arguments that point
# `cifar10_sim_cond` at them (to be split by the shell).
#
#   bench/cifar_stand_ins.sh BIN DIR
set -euo pipefail
bin=${1:?usage: bench/cifar_stand_ins.sh BIN DIR}
dir=${2:?usage: bench/cifar_stand_ins.sh BIN DIR}
mkdir -p "$dir/cifar"
python3 -c "
import sys
b = bytearray()
for i in range(200):
    b.append(i % 10); b.extend((p * 7 + i * 31) % 251 for p in range(3072))
open(sys.argv[1], 'wb').write(b)" "$dir/cifar/test_batch.bin"
[ -f "$dir/edm-cifar10-random.safetensors" ] ||
  "$bin" random-edm-teacher "$dir/edm-cifar10-random.safetensors" --conditional >/dev/null
root=$(cd "$(dirname "$0")/.." && pwd)
echo "--set teacher.path=\"$dir/edm-cifar10-random.safetensors\"" \
  "--set eval.classifier=\"$root/tests/fixtures/inception/fid-inception-w16.safetensors\"" \
  "--set data.dir=\"$dir/cifar\" --set data.split=\"test\" --set eval.teacher_metrics=false"
