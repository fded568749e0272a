#!/usr/bin/env python3
"""Converts a published EDM network pickle to the safetensors teacher file SIM Workbench opens.

    python tools/edm_to_safetensors.py --edm PATH_TO_EDM_CHECKOUT NETWORK.pkl OUT.safetensors

Run it once, where the pickle and PyTorch are (pip install torch numpy safetensors requests).
EDM's pickles rebuild their classes from source stored inside them with EDM's own
`torch_utils` and `dnnlib` modules, so `--edm` names a checkout of github.com/NVlabs/edm (or
put it on PYTHONPATH). Unpickling runs code from the file: only convert pickles you trust.
The workbench itself never reads a pickle (docs/edm-teachers.md).

Accepted: EDM's `EDMPrecond` (edm-cifar10-32x32-{cond,uncond}-vp.pkl) or `VPPrecond`
(baseline-cifar10-32x32-uncond-vp.pkl) around a DDPM++ `SongUNet` (positional embedding,
standard encoder and decoder, resampling filter [1, 1]). Everything else is refused with the
reason: NCSN++ (the `-ve` networks), ADM (`DhariwalUNet`), `VEPrecond` / `iDDPMPrecond`.

What it writes: every parameter of the network under the name the workbench's `SongUNet`
gives it (engine/src/nets/song_unet/mod.rs): `model.` dropped; the encoder's and decoder's
dictionaries as lists (`enc.16x16_down` -> `encoder.3`; the input convolution is `enc_conv`,
the output norm and convolution `out_norm`, `out_conv`); a GroupNorm's weight and bias as
`gamma` and `beta`; a Linear's weight transposed to [in, out]. The fixed resampling filters
(buffers) are checked to be [1, 1] and left out. Metadata: `format`, `architecture`,
`precond`, `sigma_data`, `label_dim`, `network` (the whole shape as JSON), `source` (the
pickle's name and SHA-256), `converter`.
"""

import argparse
import hashlib
import inspect
import json
import os
import pickle
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_out  # noqa: E402

FORMAT = "sim-workbench edm-songunet v1"
CONVERTER = "tools/edm_to_safetensors.py v1"
DDPMPP = {
    "embedding_type": "positional",
    "encoder_type": "standard",
    "decoder_type": "standard",
    "channel_mult_noise": 1,
    "resample_filter": [1, 1],
}


class Refused(Exception):
    """A pickle this converter does not take, with the reason."""


def kwargs_of(module):
    """The constructor arguments of a persistent EDM module, defaults filled in."""
    if not hasattr(module, "init_kwargs"):
        raise Refused(f"{type(module).__name__} is not an EDM persistent class (no init_kwargs)")
    # EDM's persistence wraps each class in a subclass taking *args, **kwargs: the defaults are
    # those of the first class in the chain that declares its own.
    declared = (c for c in type(module).__mro__ if c.__init__ is not type(module).__init__)
    params = inspect.signature(next(declared, type(module)).__init__).parameters
    merged = {k: p.default for k, p in params.items() if p.default is not inspect.Parameter.empty}
    merged.update(dict(module.init_kwargs))
    return merged


def network_of(data):
    """The network in an EDM snapshot: `data['ema']` (or the object itself if it is one)."""
    if isinstance(data, dict):
        if "ema" not in data:
            raise Refused(f"the pickle is a dict without 'ema' (keys: {sorted(data)}); "
                          "pass an EDM network snapshot (network-snapshot-*.pkl or a published .pkl)")
        return data["ema"]
    return data


def config_of(net):
    """The workbench's SongUNetConfig (as a dict) of an accepted network, or Refused."""
    precond = type(net).__name__
    if precond not in ("EDMPrecond", "VPPrecond"):
        raise Refused(f"preconditioning {precond} is not supported: EDMPrecond (the edm-* "
                      "networks) and VPPrecond (the DDPM++ baseline) are")
    model = getattr(net, "model", None)
    if type(model).__name__ != "SongUNet":
        raise Refused(f"the network is {type(model).__name__}, not SongUNet: only DDPM++ "
                      "(edm-cifar10-32x32-*-vp) is supported, not ADM (DhariwalUNet)")
    p, m = kwargs_of(net), kwargs_of(model)
    for key, value in DDPMPP.items():
        if m.get(key) != value:
            raise Refused(f"SongUNet {key} = {m.get(key)!r}, DDPM++ has {value!r}: NCSN++ (the "
                          "*-ve networks) and other variants are not supported")
    if p.get("model_type", "SongUNet") != "SongUNet":
        raise Refused(f"model_type {p.get('model_type')!r} is not SongUNet")
    if precond == "EDMPrecond":
        pre = {"kind": "edm", "sigma_data": float(p["sigma_data"])}
    else:
        pre = {"kind": "vp", "beta_d": float(p["beta_d"]), "beta_min": float(p["beta_min"]),
               "m": float(p["M"])}
    return {
        "img_resolution": int(p["img_resolution"]),
        "img_channels": int(p["img_channels"]),
        "label_dim": int(p.get("label_dim", 0)),
        "augment_dim": int(m.get("augment_dim", 0)),
        "model_channels": int(m["model_channels"]),
        "channel_mult": [int(c) for c in m["channel_mult"]],
        "channel_mult_emb": int(m["channel_mult_emb"]),
        "num_blocks": int(m["num_blocks"]),
        "attn_resolutions": [int(r) for r in m["attn_resolutions"]],
        "dropout": float(m["dropout"]),
        "precond": pre,
    }


def name_map(model):
    """EDM's state-dict name → (the workbench's name, whether the tensor is transposed), for
    every tensor the workbench keeps (the fixed `[1, 1]` resampling filters are checked, not kept).
    """
    import torch

    place = {}
    enc = list(model.enc.keys())
    for i, key in enumerate(enc):
        place[f"enc.{key}."] = "enc_conv." if i == 0 else f"encoder.{i - 1}."
    blocks = 0
    for key in model.dec.keys():
        if key.endswith("_aux_norm"):
            place[f"dec.{key}."] = "out_norm."
        elif key.endswith("_aux_conv"):
            place[f"dec.{key}."] = "out_conv."
        else:
            place[f"dec.{key}."] = f"decoder.{blocks}."
            blocks += 1
    kinds = {name: type(mod).__name__ for name, mod in model.named_modules()}
    names, targets = {}, set()
    for name, tensor in model.state_dict().items():
        owner, leaf = name.rsplit(".", 1)
        kind = kinds.get(owner)
        if leaf == "resample_filter":
            expected = torch.full([1, 1, 2, 2], 0.25)
            value = tensor.detach().to(torch.float32).cpu()
            if value.shape != expected.shape or not torch.equal(value, expected):
                raise Refused(f"{name}: resampling filter {value.tolist()} is not [1, 1]")
            continue
        if kind == "GroupNorm":
            leaf = {"weight": "gamma", "bias": "beta"}[leaf]
        prefix = next((p for p in place if (owner + ".").startswith(p)), None)
        if prefix is not None:
            target = place[prefix] + (owner + ".")[len(prefix):] + leaf
        else:
            target = f"{owner}.{leaf}"
        if target in targets:
            raise Refused(f"two tensors map to {target}")
        targets.add(target)
        names[name] = (target, kind == "Linear" and leaf == "weight")
    return names


def renamed(model):
    """The model's tensors as float32 arrays under the workbench's names."""
    import numpy as np
    import torch

    state = model.state_dict()
    out = {}
    for name, (target, transposed) in name_map(model).items():
        value = state[name].detach().to(torch.float32).cpu()
        if transposed:
            value = value.t()
        if not torch.isfinite(value).all():
            raise Refused(f"{name} has non-finite values")
        out[target] = np.ascontiguousarray(value.numpy())
    return out


def convert(pickle_path, out_path):
    """Loads, checks and writes; returns the config. Raises Refused for what it does not take."""
    with open(pickle_path, "rb") as f:
        raw = f.read()
    try:
        data = pickle.loads(raw)
    except ModuleNotFoundError as e:
        raise Refused(f"unpickling needs EDM's modules ({e}); pass --edm PATH_TO_EDM_CHECKOUT")
    net = network_of(data)
    config = config_of(net)
    tensors = renamed(net.model)
    meta = {
        "format": FORMAT,
        "architecture": "ddpmpp",
        "precond": config["precond"]["kind"],
        "sigma_data": repr(config["precond"].get("sigma_data", 0.5)),
        "label_dim": str(config["label_dim"]),
        "network": json.dumps(config),
        "source": f"{os.path.basename(pickle_path)} sha256:{hashlib.sha256(raw).hexdigest()}",
        "converter": CONVERTER,
    }
    safetensors_out.write(tensors, out_path, meta)
    return config


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pickle", help="EDM network pickle (e.g. edm-cifar10-32x32-cond-vp.pkl)")
    parser.add_argument("out", help="safetensors file to write")
    parser.add_argument("--edm", help="a checkout of github.com/NVlabs/edm (its torch_utils, dnnlib)")
    args = parser.parse_args()
    if args.edm:
        sys.path.insert(0, os.path.abspath(args.edm))
    try:
        config = convert(args.pickle, args.out)
    except Refused as e:
        print(f"edm_to_safetensors: {args.pickle}: refused: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {json.dumps(config)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
