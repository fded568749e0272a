"""The SIM iteration on EDM's CIFAR-10 DDPM++ in PyTorch, for side-by-side timing (bench/README.md).

EDM's own `EDMPrecond` / `VPPrecond` around its `SongUNet`, imported from a checkout of
github.com/NVlabs/edm (`--edm`, never copied here), built at the shape a converted teacher file
records (`sim-workbench random-edm-teacher`, or `tools/edm_to_safetensors.py` on a published
pickle) and loaded with its weights through the converter's own name map, so both sides compute
the same network: the teacher, and θ, ψ and the EMA starting as copies of it, as the CIFAR-10
presets do. θ and ψ (also ψ frozen in the θ phase) run with the network's dropout, the teacher
without, as in the engine.
The iteration itself is `sim_torch.Iteration`.

    edm_iteration.py --edm EDM --teacher edm-cifar10-random.safetensors --batch 8 [--device cuda]

Prints `torch <ms per iteration, median of rounds>`; on `--device cuda` (bench/gpu-check.sh with
CIFAR=1 and EDM set) a second line, the peak CUDA memory PyTorch allocated.
"""

import argparse
import json
import os
import struct
import sys

import numpy as np
import torch

from sim_torch import Iteration, add_common_args, report, setup, time_iterations

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import edm_to_safetensors as converter  # noqa: E402


def read_file(path):
    """The converted file's tensors (name → float32 array) and its network config."""
    raw = open(path, "rb").read()
    size = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + size])
    meta = header.pop("__metadata__")
    assert meta.get("format") == converter.FORMAT, f"{path} is not a converted EDM network"
    tensors = {}
    for name, entry in header.items():
        start, end = entry["data_offsets"]
        data = np.frombuffer(raw[8 + size + start : 8 + size + end], dtype=np.float32)
        tensors[name] = data.reshape(entry["shape"])
    return tensors, json.loads(meta["network"])


def edm_network(networks, config):
    """EDM's preconditioned SongUNet of `config` (the file's `network` metadata)."""
    pre = config["precond"]
    kwargs = dict(converter.DDPMPP, model_type="SongUNet",
                  img_resolution=config["img_resolution"], img_channels=config["img_channels"],
                  label_dim=config["label_dim"], augment_dim=config["augment_dim"],
                  model_channels=config["model_channels"], channel_mult=config["channel_mult"],
                  channel_mult_emb=config["channel_mult_emb"], num_blocks=config["num_blocks"],
                  attn_resolutions=config["attn_resolutions"], dropout=config["dropout"])
    if pre["kind"] == "edm":
        return networks.EDMPrecond(sigma_data=pre["sigma_data"], **kwargs)
    return networks.VPPrecond(beta_d=pre["beta_d"], beta_min=pre["beta_min"], M=pre["m"], **kwargs)


def load(net, tensors, path):
    """Copies the file's tensors into `net` through the converter's name map; every tensor of
    the file must land, with its shape."""
    state = net.model.state_dict()
    names = converter.name_map(net.model)
    unused = set(tensors) - {target for target, _ in names.values()}
    assert not unused, f"{path}: tensors EDM's network does not have: {sorted(unused)}"
    for name, (target, transposed) in names.items():
        value = torch.from_numpy(tensors[target].copy())
        value = value.t() if transposed else value
        assert value.shape == state[name].shape, f"{target}: {value.shape} vs {state[name].shape}"
        state[name] = value
    net.model.load_state_dict(state)


class Flat(torch.nn.Module):
    """EDM's `net(x [b, c, h, w], σ [b], labels)` on the engine's flat rows `[b, dim]`, σ `[b, 1]`."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x, sigma, y):
        c, s = self.net.img_channels, self.net.img_resolution
        out = self.net(x.reshape(-1, c, s, s), sigma.reshape(-1), y)
        return out.reshape(x.shape)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--edm", required=True, help="a checkout of github.com/NVlabs/edm")
    p.add_argument("--teacher", required=True, help="a converted EDM network (.safetensors)")
    p.add_argument("--warmup", type=int, default=1)
    add_common_args(p, batch=8)
    args = p.parse_args()
    sys.path.insert(0, os.path.abspath(args.edm))
    from training import networks

    setup(args)
    tensors, config = read_file(args.teacher)

    def make():
        with torch.device("cpu"):  # the converter's name map checks its tensors on the host
            net = edm_network(networks, config)
            load(net, tensors, args.teacher)
        return Flat(net).train().to(args.device)

    teacher = make().eval().requires_grad_(False)
    dim = config["img_channels"] * config["img_resolution"] ** 2
    sigma_data = config["precond"].get("sigma_data", 0.5)
    iteration = Iteration(make, teacher, args.batch, dim, config["label_dim"], sigma_data, 500.0)
    report(time_iterations(iteration, args.iterations, args.rounds, args.warmup), args.device)


if __name__ == "__main__":
    main()
