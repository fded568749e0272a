#!/usr/bin/env python3
"""Makes the EDM fixtures of tests/fixtures/edm/ from EDM's own network code (docs/edm-teachers.md).

    python tools/make_edm_fixtures.py --edm PATH_TO_EDM_CHECKOUT [--out tests/fixtures/edm]

For each case it builds EDM's `EDMPrecond` / `VPPrecond` around a DDPM++ `SongUNet` at reduced
width from EDM's `training/networks.py` (imported from the checkout, never copied here), draws
every parameter at random (EDM initialises several layers at ~0, which would hide mistakes),
pickles it as EDM's training loop does (`{'ema': net}`), converts the pickle with
`tools/edm_to_safetensors.py`, and writes the network's outputs `D(x; σ, y)` on fixed inputs at
several σ and labels, and the raw network's `F(c_in x; c_noise, y)`. `tests/tests/workbench/edm.rs` loads the converted file in the workbench
and compares. It also checks that the converter refuses what it must (NCSN++, ADM, VE
preconditioning, a pickle without `ema`) and prints the messages.

With `--real PICKLE` (a published network) or `--cifar10-shapes` (random weights at the
published shapes) it writes a converted file and its outputs into `--out` instead, for the
ignored test `real_song_unet_matches_edm`:
`SIM_WORKBENCH_EDM_CHECK=OUT/real cargo test -p sim-tests -- --ignored real_song_unet`.
"""

import argparse
import io
import os
import pickle
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import edm_to_safetensors as conv  # noqa: E402

SIGMAS = [0.002, 0.05, 0.5, 2.5, 20.0, 80.0]
SMALL = dict(model_type="SongUNet", embedding_type="positional", encoder_type="standard",
             decoder_type="standard", channel_mult_noise=1, resample_filter=[1, 1],
             model_channels=8, channel_mult=[1, 2, 2], num_blocks=2, attn_resolutions=[16],
             augment_dim=9, dropout=0.13)


def randomise(net, seed):
    """Every parameter ~ N(0, 1/fan_in) (norm weights 1 + N(0, 0.1²), biases N(0, 0.1²))."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if p.ndim == 1:
                base = 1.0 if name.endswith("weight") else 0.0
                p.copy_(base + 0.1 * torch.randn(p.shape, generator=g))
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) / fan_in ** 0.5)


def case(networks, name, precond, label_dim, seed, out, shape=SMALL):
    """A random network of `shape` from EDM's code, pickled, converted and run."""
    torch.manual_seed(seed)
    cls = getattr(networks, precond)
    net = cls(img_resolution=32, img_channels=3, label_dim=label_dim, **shape).eval()
    randomise(net, seed)
    pkl = os.path.join(out, f"{name}.pkl")
    with open(pkl, "wb") as f:
        pickle.dump({"ema": net}, f)
    try:
        outputs(pkl, name, seed, out)
    finally:
        os.remove(pkl)


def outputs(pkl, name, seed, out):
    """Converts the network in `pkl` to `name.safetensors` and writes its outputs on fixed
    inputs to `name.io.safetensors`."""
    weights = os.path.join(out, f"{name}.safetensors")
    config = conv.convert(pkl, weights)
    with open(pkl, "rb") as f:
        net = conv.network_of(pickle.load(f)).eval()
    precond, label_dim = type(net).__name__, config["label_dim"]
    g = torch.Generator().manual_seed(seed + 1)
    n = len(SIGMAS)
    x = torch.randn([n, 3, 32, 32], generator=g) * 0.5
    sigma = torch.tensor(SIGMAS, dtype=torch.float32)
    x = x + sigma.reshape(-1, 1, 1, 1) * torch.randn(x.shape, generator=g)
    io_tensors = {"x": x.reshape(n, -1), "sigma": sigma.reshape(n, 1)}
    with torch.no_grad():
        # The raw network F on EDM's own c_in x and c_noise, as the preconditioning computes them.
        s4 = sigma.reshape(-1, 1, 1, 1)
        if precond == "EDMPrecond":
            c_in, c_noise = 1 / (net.sigma_data ** 2 + s4 ** 2).sqrt(), s4.log() / 4
        else:
            c_in, c_noise = 1 / (s4 ** 2 + 1).sqrt(), (net.M - 1) * net.sigma_inv(s4)
        io_tensors["x_in"] = (c_in * x).reshape(n, -1)
        io_tensors["c_noise"] = c_noise.reshape(n, 1)
        if label_dim:
            labels = torch.nn.functional.one_hot(torch.arange(n) % label_dim, label_dim).float()
            labels[-1] = 0.5 * labels[-1] + 0.5 * labels[0]  # a mix of two classes
            io_tensors["labels"] = labels
            io_tensors["raw"] = net.model(c_in * x, c_noise.flatten(), labels).reshape(n, -1)
            io_tensors["denoised"] = net(x, sigma, labels).reshape(n, -1)
            io_tensors["denoised_unlabelled"] = net(x, sigma, None).reshape(n, -1)
        else:
            io_tensors["denoised"] = net(x, sigma, None).reshape(n, -1)
            io_tensors["raw"] = net.model(c_in * x, c_noise.flatten(), None).reshape(n, -1)
    conv.safetensors_out.write({k: v.numpy().astype(np.float32) for k, v in io_tensors.items()},
                               os.path.join(out, f"{name}.io.safetensors"),
                               {"made_by": "tools/make_edm_fixtures.py", "network": name})
    print(f"{name}: {precond}, label_dim {label_dim}, {sum(p.numel() for p in net.parameters())} "
          f"parameters, |F| up to {float(io_tensors['raw'].abs().max()):.3f}, |D| up to "
          f"{float(io_tensors['denoised'].abs().max()):.3f}: {config}")


def refusals(networks, out):
    """Pickles the converter must refuse, and the message it gives for each."""
    base = dict(img_resolution=32, img_channels=3, label_dim=0)
    cases = {
        "NCSN++ (the -ve networks)": networks.EDMPrecond(
            **base, **{**SMALL, "embedding_type": "fourier", "encoder_type": "residual",
                       "channel_mult_noise": 2, "resample_filter": [1, 3, 3, 1]}),
        "ADM (DhariwalUNet)": networks.EDMPrecond(
            **base, model_type="DhariwalUNet", model_channels=16, channel_mult=[1, 2],
            num_blocks=1, attn_resolutions=[8]),
        "VE preconditioning": networks.VEPrecond(**base, **SMALL),
        "a dict without 'ema'": {"net": networks.EDMPrecond(**base, **SMALL)},
    }
    for what, obj in cases.items():
        pkl = os.path.join(out, "refused.pkl")
        with open(pkl, "wb") as f:
            pickle.dump(obj, f)
        try:
            conv.convert(pkl, os.path.join(out, "refused.safetensors"))
        except conv.Refused as e:
            print(f"refused {what}: {e}")
        else:
            raise SystemExit(f"the converter accepted {what}")
        finally:
            os.remove(pkl)
        assert not os.path.exists(os.path.join(out, "refused.safetensors"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edm", required=True, help="a checkout of github.com/NVlabs/edm")
    parser.add_argument("--out", default=os.path.join(HERE, "..", "tests", "fixtures", "edm"))
    parser.add_argument("--real", metavar="PICKLE", help="instead: convert this network pickle "
                        "(e.g. edm-cifar10-32x32-cond-vp.pkl) and write its outputs, for the "
                        "ignored test `real_song_unet_matches_edm` (SIM_WORKBENCH_EDM_CHECK)")
    parser.add_argument("--cifar10-shapes", action="store_true", help="instead: a random network "
                        "of the published CIFAR-10 shapes (edm-cifar10-32x32-cond-vp's), for the "
                        "same ignored test")
    args = parser.parse_args()
    sys.path.insert(0, os.path.abspath(args.edm))
    from training import networks
    os.makedirs(args.out, exist_ok=True)
    if args.real:
        outputs(args.real, "real", 13, args.out)
        return
    if args.cifar10_shapes:
        cifar = dict(SMALL, model_channels=128, channel_mult=[2, 2, 2], num_blocks=4,
                     attn_resolutions=[16])
        case(networks, "cifar10-shapes-cond-edm", "EDMPrecond", 10, 14, args.out, cifar)
        return
    case(networks, "songunet-cond-edm", "EDMPrecond", 10, 11, args.out)
    case(networks, "songunet-uncond-vp", "VPPrecond", 0, 12, args.out)
    refusals(networks, args.out)


if __name__ == "__main__":
    main()
