#!/usr/bin/env python3
"""Converts the FID Inception-v3 weights to the safetensors file SIM Workbench's FID uses.

    python tools/inception_to_safetensors.py pt_inception-2015-12-05-6726825d.pth OUT.safetensors

Run it once, where the weights and PyTorch are (pip install torch torchvision pytorch-fid
safetensors). The weights are those of the common PyTorch FID tools (pytorch-fid's
`FID_WEIGHTS_URL`, ported from TensorFlow's 2015-12-05 Inception): pool3 features (2048) and
1008 logits. They are read with `torch.load(weights_only=True)` (tensors only, no code) and
loaded strictly into pytorch-fid's own FID Inception (its classes, on torchvision's
Inception3), so a file pytorch-fid would not load is refused, with its reason. torchvision's
ImageNet Inception (1000 classes, AuxLogits) is refused too: its features give other numbers.

What it writes: every tensor of the state dict under its torchvision name
(`Mixed_5b.branch1x1.conv.weight`, `….bn.running_var`, `fc.bias`, …; `num_batches_tracked`
left out), float32; metadata `format`, `width_divisor` (1 for the real network; the test
fixtures are narrower), `classes`, `source` (file name and SHA-256), `converter`. The
workbench folds each batch norm into its convolution when it loads the file
(docs/edm-teachers.md).
"""

import argparse
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_out  # noqa: E402

FORMAT = "sim-workbench fid-inception-v3 v1"
CONVERTER = "tools/inception_to_safetensors.py v1"
CLASSES = 1008


class Refused(Exception):
    """A file this converter does not take, with the reason."""


def fid_inception(divisor=1):
    """pytorch-fid's FID Inception-v3, built by its own `fid_inception_v3` without loading any
    weights; at 1/divisor of every width (the input's 3 channels kept) for test fixtures."""
    import torch
    import torchvision.models.inception as tv
    import pytorch_fid.inception as pf

    base_conv = tv.BasicConv2d

    class Narrow(base_conv):
        def __init__(self, in_channels, out_channels, **kwargs):
            keep = in_channels if in_channels == 3 else in_channels // divisor
            super().__init__(keep, out_channels // divisor, **kwargs)

    saved = (tv.BasicConv2d, pf.load_state_dict_from_url, tv.Inception3.load_state_dict)
    tv.BasicConv2d = Narrow if divisor > 1 else base_conv
    pf.load_state_dict_from_url = lambda *args, **kwargs: None
    tv.Inception3.load_state_dict = lambda self, *args, **kwargs: None
    try:
        net = pf.fid_inception_v3()
    finally:
        tv.BasicConv2d, pf.load_state_dict_from_url, tv.Inception3.load_state_dict = saved
    if divisor > 1:
        net.fc = torch.nn.Linear(2048 // divisor, CLASSES)
    return net.eval()


def state_dict_of(path):
    """The file's state dict, read without running code."""
    import torch

    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several kinds for a file that is not a state dict
        raise Refused(f"not a PyTorch state dict readable without code ({e})")
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise Refused("not a state dict (a dict of tensors)")
    return sd


def convert(path, out_path):
    """Checks and writes; returns the width divisor. Raises Refused for what it does not take."""
    import numpy as np
    sd = state_dict_of(path)
    first = sd.get("Conv2d_1a_3x3.conv.weight")
    if first is None or first.ndim != 4 or first.shape[1] != 3:
        raise Refused("no Conv2d_1a_3x3 on 3 channels: not an Inception-v3 state dict")
    if any(k.startswith("AuxLogits.") for k in sd) or sd.get("fc.weight", first).shape[0] != CLASSES:
        raise Refused("this is torchvision's ImageNet Inception-v3 (AuxLogits, 1000 classes), not "
                      "the FID Inception: convert pt_inception-2015-12-05-6726825d.pth")
    if 32 % first.shape[0] != 0:
        raise Refused(f"Conv2d_1a_3x3 has {first.shape[0]} filters, not 32 (or 32 / k)")
    divisor = 32 // first.shape[0]
    net = fid_inception(divisor)
    try:
        net.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        raise Refused(f"pytorch-fid's FID Inception does not load it: {e}")
    tensors = {k: np.ascontiguousarray(v.detach().float().numpy())
               for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    for k, v in tensors.items():
        if not np.isfinite(v).all():
            raise Refused(f"{k} has non-finite values")
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    meta = {
        "format": FORMAT,
        "width_divisor": str(divisor),
        "classes": str(CLASSES),
        "source": f"{os.path.basename(path)} sha256:{digest}",
        "converter": CONVERTER,
    }
    safetensors_out.write(tensors, out_path, meta)
    return divisor


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weights", help="pt_inception-2015-12-05-6726825d.pth")
    parser.add_argument("out", help="safetensors file to write")
    args = parser.parse_args()
    try:
        divisor = convert(args.weights, args.out)
    except Refused as e:
        print(f"inception_to_safetensors: {args.weights}: refused: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} (width divisor {divisor})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
