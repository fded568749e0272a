#!/usr/bin/env python3
"""Makes the FID fixtures of tests/fixtures/inception/ from pytorch-fid's own code.

    python tools/make_inception_fixtures.py [--out tests/fixtures/inception] [--full-check]

- `fid-inception-w16.safetensors`: pytorch-fid's FID Inception-v3 (its classes, on torchvision's
  Inception3) at 1/16 of every width, random weights and batch-norm statistics, converted by
  `tools/inception_to_safetensors.py`; `fid-inception-w16.io.safetensors`: 32×32 images
  (0..255) and pytorch-fid's outputs for them, pool3 features (`InceptionV3([3])`, resizing
  and normalising as it does) and the logits `fc(pool3)`.
- `frechet.safetensors`: two fixed feature sets and their FID by pytorch-fid's
  `calculate_frechet_distance` (NumPy, SciPy's `sqrtm`).

`tests/tests/workbench/inception.rs` compares the workbench with them. `--full-check` also
converts a random network of the real shapes (not kept) and checks the converter's refusals
(torchvision's ImageNet Inception, a tensor, a state dict with a tensor missing).

`--real PTH` (the real weights) or `--full-shapes` (random weights at the real shapes) write a
converted file and its outputs into `--out` instead, for the ignored test
`real_fid_inception_matches_pytorch_fid`:
`SIM_WORKBENCH_INCEPTION_CHECK=OUT/real cargo test -p sim-tests -- --ignored real_fid_inception`.
"""

import argparse
import os
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import inception_to_safetensors as conv  # noqa: E402

DIVISOR = 16


def randomise(net, seed):
    """Convolutions N(0, 2/fan_in), batch norms around the identity, fc N(0, 1/fan_in)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            r = torch.randn(t.shape, generator=g)
            if name.endswith("conv.weight"):
                t.copy_(r * (2.0 / t[0].numel()) ** 0.5)
            elif name.endswith("bn.weight"):
                t.copy_(1.0 + 0.1 * r)
            elif name.endswith("bn.bias") or name.endswith("running_mean"):
                t.copy_(0.1 * r)
            elif name.endswith("running_var"):
                t.copy_(0.5 + torch.rand(t.shape, generator=g))
            elif name == "fc.weight":
                t.copy_(r / t.shape[1] ** 0.5)
            else:
                t.copy_(0.1 * r)


def features(net, images01):
    """pytorch-fid's pool3 features of images in [0, 1], and the logits fc(pool3)."""
    import pytorch_fid.inception as pf

    saved = pf.fid_inception_v3
    pf.fid_inception_v3 = lambda: net
    try:
        wrapper = pf.InceptionV3([3], resize_input=True, normalize_input=True).eval()
    finally:
        pf.fid_inception_v3 = saved
    with torch.no_grad():
        pool3 = wrapper(images01)[0].flatten(1)
        return pool3, net.fc(pool3)


def save(path, tensors, **meta):
    conv.safetensors_out.write(tensors, path, {"made_by": "tools/make_inception_fixtures.py", **meta})


def inception_case(out, name="fid-inception-w16", net=None, pth=None):
    """Converts a network (a random 1/16-width one by default, or the weights in `pth`) to
    `name.safetensors` and writes its pool3 features and logits to `name.io.safetensors`."""
    with tempfile.TemporaryDirectory() as tmp:
        if pth is None:
            if net is None:
                net = conv.fid_inception(DIVISOR)
                randomise(net, 21)
            pth = os.path.join(tmp, f"{name}.pth")
            torch.save(net.state_dict(), pth)
        divisor = conv.convert(pth, os.path.join(out, f"{name}.safetensors"))
        if net is None:
            net = conv.fid_inception(divisor)
            net.load_state_dict(torch.load(pth, map_location="cpu", weights_only=True))
    g = torch.Generator().manual_seed(22)
    n = 6
    # Smooth colour patterns plus noise, quantised as PNGs are.
    ramp = torch.linspace(0, 1, 32)
    base = (ramp.reshape(1, 1, 32, 1) * ramp.reshape(1, 1, 1, 32)).expand(n, 3, 32, 32)
    mix = torch.rand([n, 3, 1, 1], generator=g)
    u8 = ((0.6 * base * mix + 0.4 * torch.rand([n, 3, 32, 32], generator=g)) * 255).round()
    pool3, logits = features(net, u8 / 255.0)
    save(os.path.join(out, f"{name}.io.safetensors"),
         {"images": u8.numpy().astype(np.float32).reshape(n, -1),
          "pool3": pool3.numpy().astype(np.float32), "logits": logits.numpy().astype(np.float32)},
         network=name)
    print(f"{name}: {sum(p.numel() for p in net.parameters())} parameters, "
          f"|pool3| up to {float(pool3.abs().max()):.3f}, |logits| up to {float(logits.abs().max()):.3f}")


def frechet_case(out):
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(23)
    dim = 12
    a = rng.standard_normal([200, dim]) @ rng.standard_normal([dim, dim]) * 0.5
    b = rng.standard_normal([150, dim]) @ rng.standard_normal([dim, dim]) * 0.4 + 0.3
    stats = [(x.mean(0), np.cov(x, rowvar=False)) for x in (a, b)]
    fid = calculate_frechet_distance(stats[0][0], stats[0][1], stats[1][0], stats[1][1])
    save(os.path.join(out, "frechet.safetensors"), {"a": a, "b": b, "fid": np.array([fid])})
    print(f"frechet: FID of the two sets {fid!r} (pytorch-fid, SciPy sqrtm)")


def full_check():
    """The converter on a random network of the real shapes, and its refusals."""
    import torchvision

    with tempfile.TemporaryDirectory() as tmp:
        real = conv.fid_inception(1)
        randomise(real, 24)
        pth = os.path.join(tmp, "real-shapes.pth")
        torch.save(real.state_dict(), pth)
        divisor = conv.convert(pth, os.path.join(tmp, "real.safetensors"))
        size = os.path.getsize(os.path.join(tmp, "real.safetensors")) / 2 ** 20
        print(f"real shapes: converted, width divisor {divisor}, {size:.1f} MiB")
        imagenet = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False)
        sd = real.state_dict()
        del sd["Mixed_7c.branch_pool.conv.weight"]
        cases = {
            "torchvision's ImageNet Inception-v3": imagenet.state_dict(),
            "a tensor, not a state dict": torch.zeros(3),
            "a state dict with a tensor missing": sd,
        }
        for what, obj in cases.items():
            path = os.path.join(tmp, "refused.pth")
            torch.save(obj, path)
            try:
                conv.convert(path, os.path.join(tmp, "refused.safetensors"))
            except conv.Refused as e:
                print(f"refused {what}: {str(e)[:200]}")
            else:
                raise SystemExit(f"the converter accepted {what}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(HERE, "..", "tests", "fixtures", "inception"))
    parser.add_argument("--full-check", action="store_true")
    parser.add_argument("--real", metavar="PTH", help="instead: convert these weights "
                        "(pt_inception-2015-12-05-6726825d.pth) to OUT/real and write their "
                        "outputs, for the ignored test `real_fid_inception_matches_pytorch_fid`")
    parser.add_argument("--full-shapes", action="store_true", help="instead: the same for random "
                        "weights at the real shapes (OUT/full-shapes)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.real:
        inception_case(args.out, "real", pth=args.real)
        return
    if args.full_shapes:
        net = conv.fid_inception(1)
        randomise(net, 25)
        inception_case(args.out, "full-shapes", net=net)
        return
    inception_case(args.out)
    frechet_case(args.out)
    if args.full_check:
        full_check()


if __name__ == "__main__":
    main()
