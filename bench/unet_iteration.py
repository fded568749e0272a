"""The engine's image SIM iteration in PyTorch, for side-by-side timing (bench/README.md).

The U-Net of `engine/src/nets/unet/` (EDM's DhariwalUNet layout, scaled down), built from the
shape written in a shipped teacher file and loaded with its weights: the teacher, and θ, ψ and the
EMA starting as copies of it, as the image presets do. Loading checks every tensor's name and shape
against the replica, so a replica that drifted from the engine's network fails here. The iteration
itself is `sim_torch.Iteration`.

    unet_iteration.py --teacher assets/teachers/digits-cond.safetensors --batch 32

Prints one line: `torch <ms per iteration, median of rounds>`.
"""

import argparse
import json
import struct
import tomllib

import numpy as np
import torch
from torch.nn import functional as nnf

from sim_torch import Iteration, add_common_args, fourier, precond, report, setup, time_iterations

EMBEDDING_MULT, CHANNELS_PER_HEAD = 4, 64


def group_norm(channels):
    """ADM's group count: at most 32 groups of at least 4 channels, a divisor of `channels`."""
    groups = min(max(channels // 4, 1), 32)
    while channels % groups:
        groups -= 1
    return torch.nn.GroupNorm(groups, channels, eps=1e-5)


def conv(c_in, c_out, k, stride=1):
    return torch.nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2)


class Embedding(torch.nn.Module):
    def __init__(self, frequencies, classes, width):
        super().__init__()
        self.map0 = torch.nn.Linear(1 + 2 * frequencies, width)
        self.map1 = torch.nn.Linear(width, width)
        self.label = torch.nn.Linear(classes, width, bias=False) if classes else None
        self.frequencies = frequencies

    def forward(self, c_noise, y):
        e = self.map1(nnf.silu(self.map0(fourier(c_noise, self.frequencies))))
        if self.label is not None and y is not None:
            e = e + self.label(y)
        return nnf.silu(e)


class ResBlock(torch.nn.Module):
    def __init__(self, c_in, c_out, emb):
        super().__init__()
        self.norm0, self.conv0 = group_norm(c_in), conv(c_in, c_out, 3)
        self.affine = torch.nn.Linear(emb, 2 * c_out)
        self.norm1, self.conv1 = group_norm(c_out), conv(c_out, c_out, 3)
        self.skip = conv(c_in, c_out, 1) if c_in != c_out else None

    def forward(self, x, emb):
        h = self.conv0(nnf.silu(self.norm0(x)))
        scale, shift = self.affine(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.conv1(nnf.silu(self.norm1(h) * (scale + 1) + shift))
        return h + (self.skip(x) if self.skip is not None else x)


class SelfAttention(torch.nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.heads = max(channels // CHANNELS_PER_HEAD, 1) if channels % CHANNELS_PER_HEAD == 0 else 1
        self.norm, self.qkv = group_norm(channels), conv(channels, 3 * channels, 1)
        self.proj = conv(channels, channels, 1)

    def forward(self, x):
        b, c, h, w = x.shape
        n, d = b * self.heads, c // self.heads
        q, k, v = self.qkv(self.norm(x)).reshape(n, d, 3, h * w).unbind(2)
        weights = torch.softmax(q.transpose(1, 2) @ k / d ** 0.5, dim=2)
        return x + self.proj((v @ weights.transpose(1, 2)).reshape(b, c, h, w))


class Level(torch.nn.Module):
    def __init__(self, blocks, resample):
        super().__init__()
        self.blocks = torch.nn.ModuleList(blocks)
        self.resample = resample


class Resample(torch.nn.Module):
    def __init__(self, channels, down):
        super().__init__()
        self.conv = conv(channels, channels, 3, stride=2 if down else 1)
        self.down = down

    def forward(self, x):
        return self.conv(x if self.down else nnf.interpolate(x, scale_factor=2, mode="nearest"))


class UNet(torch.nn.Module):
    """`engine/src/nets/unet/mod.rs`: D(x; σ, y) = c_skip x + c_out F(c_in x; c_noise, y)."""

    def __init__(self, cfg, sigma_data):
        super().__init__()
        widths = [m * cfg["channels"] for m in cfg["channel_mult"]]
        emb, per_level = EMBEDDING_MULT * cfg["channels"], cfg["blocks_per_level"]
        self.cfg, self.sigma_data = cfg, sigma_data
        self.embedding = Embedding(cfg["noise_frequencies"], cfg["classes"], emb)
        self.input = conv(cfg["image_channels"], widths[0], 3)
        skips, ch, self.encoder = [widths[0]], widths[0], torch.nn.ModuleList()
        for level, width in enumerate(widths):
            blocks = []
            for _ in range(per_level):
                blocks.append(ResBlock(ch, width, emb))
                ch = width
                skips.append(ch)
            down = None
            if level + 1 < len(widths):
                skips.append(ch)
                down = Resample(ch, down=True)
            self.encoder.append(Level(blocks, down))
        self.middle = torch.nn.ModuleDict({"first": ResBlock(ch, ch, emb), "second": ResBlock(ch, ch, emb)})
        self.attention = SelfAttention(ch) if cfg["attention"] else None
        self.decoder = torch.nn.ModuleList()
        for level in reversed(range(len(widths))):
            blocks = []
            for _ in range(per_level + 1):
                blocks.append(ResBlock(ch + skips.pop(), widths[level], emb))
                ch = widths[level]
            self.decoder.append(Level(blocks, Resample(ch, down=False) if level > 0 else None))
        self.out_norm, self.output = group_norm(ch), conv(ch, cfg["image_channels"], 3)

    def forward(self, x, sigma, y):
        c, s = self.cfg["image_channels"], self.cfg["image_size"]
        c_skip, c_out, c_in, c_noise = precond(sigma, self.sigma_data)
        emb = self.embedding(c_noise, y)
        h = self.input((c_in * x).reshape(-1, c, s, s))
        skips = [h]
        for level in self.encoder:
            for block in level.blocks:
                h = block(h, emb)
                skips.append(h)
            if level.resample is not None:
                h = level.resample(h)
                skips.append(h)
        h = self.middle["first"](h, emb)
        if self.attention is not None:
            h = self.attention(h)
        h = self.middle["second"](h, emb)
        for level in self.decoder:
            for block in level.blocks:
                h = block(torch.cat([h, skips.pop()], dim=1), emb)
            if level.resample is not None:
                h = level.resample(h)
        f = self.output(nnf.silu(self.out_norm(h)))
        return c_skip * x + c_out * f.reshape(x.shape)


def torch_name(name):
    """The engine's parameter path → this replica's state-dict key."""
    name = name.replace(".down.", ".resample.").replace(".up.", ".resample.")
    name = name.replace("middle.attention.", "attention.")
    return name.replace(".gamma", ".weight").replace(".beta", ".bias")


def load_teacher(path):
    """A U-Net with the shape and weights of an engine teacher file (safetensors)."""
    raw = open(path, "rb").read()
    size = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + size])
    meta = header.pop("__metadata__")
    net = UNet(tomllib.loads(meta["unet"]), float(meta["sigma_data"]))
    state, expected = {}, net.state_dict()
    for name, entry in header.items():
        start, end = entry["data_offsets"]
        value = torch.from_numpy(
            np.frombuffer(raw[8 + size + start : 8 + size + end], dtype=np.float32).copy()
        ).reshape(entry["shape"])
        if name.endswith(("affine.weight", "map0.weight", "map1.weight", "label.weight")):
            value = value.T.contiguous()  # Burn's Linear stores [d_in, d_out]
        state[torch_name(name)] = value
    missing = set(expected) ^ set(state)
    assert not missing, f"replica and {path} disagree on parameters: {sorted(missing)}"
    for key, value in state.items():
        assert value.shape == expected[key].shape, f"{key}: {value.shape} vs {expected[key].shape}"
    net.load_state_dict(state)
    return net


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--teacher", default="assets/teachers/digits-cond.safetensors")
    add_common_args(p, batch=32)
    args = p.parse_args()
    setup(args)
    teacher = load_teacher(args.teacher).requires_grad_(False)
    cfg = teacher.cfg
    dim = cfg["image_channels"] * cfg["image_size"] ** 2

    def copy():
        net = UNet(cfg, teacher.sigma_data)
        net.load_state_dict(teacher.state_dict())
        return net

    iteration = Iteration(copy, teacher, args.batch, dim, cfg["classes"], teacher.sigma_data, 2.0)
    report(time_iterations(iteration, args.iterations, args.rounds), args.device)


if __name__ == "__main__":
    main()
