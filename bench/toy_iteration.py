"""The engine's toy SIM iteration in PyTorch, for side-by-side timing (bench/README.md).

The default preset: an EDM-preconditioned MLP (2 + Fourier embedding of c_noise with 8 frequencies
→ 4 × 64 SiLU → 2) as generator θ and fake denoiser ψ, the exact denoiser of the 8-mode ring
(radius 1, std 0.08) as teacher, batch 1024, EMA half-life 20 kimg; the iteration itself is
`sim_torch.Iteration`.

Prints one line: `torch <ms per iteration, median of rounds>`.
"""

import argparse
import math

import torch

from sim_torch import Iteration, add_common_args, fourier, precond, report, setup, time_iterations


class Mlp(torch.nn.Module):
    """`engine/src/nets/mlp.rs`: D(x; σ) = c_skip x + c_out F([c_in x, fourier(c_noise)])."""

    def __init__(self, dim, width, depth, frequencies, sigma_data):
        super().__init__()
        layers, d_in = [], dim + 1 + 2 * frequencies
        for _ in range(depth):
            layers.append(torch.nn.Linear(d_in, width))
            d_in = width
        self.hidden = torch.nn.ModuleList(layers)
        self.output = torch.nn.Linear(d_in, dim)
        self.frequencies, self.sigma_data = frequencies, sigma_data

    def forward(self, x, sigma, _y=None):
        c_skip, c_out, c_in, c_noise = precond(sigma, self.sigma_data)
        h = torch.cat([c_in * x, fourier(c_noise, self.frequencies)], dim=1)
        for layer in self.hidden:
            h = torch.nn.functional.silu(layer(h))
        return c_skip * x + c_out * self.output(h)


class Ring:
    """The exact denoiser of an equal-weight mixture of isotropic Gaussians."""

    def __init__(self, modes, radius, std):
        angles = torch.arange(modes) * (2 * math.pi / modes)
        self.means = torch.stack([radius * angles.cos(), radius * angles.sin()], dim=1)
        self.var = std ** 2

    def __call__(self, x, sigma, _y=None):
        diff = x.unsqueeze(1) - self.means  # [b, K, 2]
        var = self.var + sigma.square().unsqueeze(2)  # [b, 1, 1]
        logits = -(var.log() * (x.shape[1] / 2)) - diff.square().sum(2, keepdim=True) / (2 * var)
        post = torch.softmax(logits, dim=1)
        return (post * (self.means + diff * (self.var / var))).sum(1)


def main():
    p = argparse.ArgumentParser()
    add_common_args(p, batch=1024)
    args = p.parse_args()
    setup(args)
    sigma_data = math.sqrt(1.0 / 2 + 0.08 ** 2)  # per-coordinate std of the ring
    iteration = Iteration(
        lambda: Mlp(2, 64, 4, 8, sigma_data), Ring(8, 1.0, 0.08), args.batch, 2, 0, sigma_data, 20.0
    )
    report(time_iterations(iteration, args.iterations, args.rounds), args.device)


if __name__ == "__main__":
    main()
