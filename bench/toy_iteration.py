"""The engine's toy SIM iteration in PyTorch, for side-by-side timing (bench/README.md).

Replicates `engine/src/distill/iteration.rs` on the default preset: an EDM-preconditioned MLP
(2 + Fourier embedding of c_noise with 8 frequencies → 4 × 64 SiLU → 2) as generator θ and fake
denoiser ψ, the exact denoiser of the 8-mode ring (radius 1, std 0.08) as teacher, batch 1024,
k_ψ = 1 fake step (denoising loss, σ ~ p_EDM) then one generator step (SIM pseudo-Huber c = 0.03,
σ ~ p_SIM, nowgt, gradients through x_0 and x_t into every term), Adam β = (0, 0.999) on both,
and the EMA of θ (half-life 20 kimg). Same shapes, same passes; random numbers differ.

Prints one line: `torch <ms per iteration, median of rounds>`.
"""

import argparse
import math
import time

import torch

SIGMA_MIN, SIGMA_MAX = 0.002, 80.0


def fourier(c_noise, frequencies):
    f = torch.tensor([32.0 ** (j / (frequencies - 1)) for j in range(frequencies)])
    phase = c_noise * f
    return torch.cat([c_noise, phase.sin(), phase.cos()], dim=1)


class Mlp(torch.nn.Module):
    def __init__(self, dim, width, depth, frequencies, sigma_data):
        super().__init__()
        layers, d_in = [], dim + 1 + 2 * frequencies
        for _ in range(depth):
            layers.append(torch.nn.Linear(d_in, width))
            d_in = width
        self.hidden = torch.nn.ModuleList(layers)
        self.output = torch.nn.Linear(d_in, dim)
        self.frequencies, self.sigma_data = frequencies, sigma_data

    def forward(self, x, sigma):
        sd2 = self.sigma_data ** 2
        total = sigma.square() + sd2
        c_skip, c_out = sd2 / total, sigma * self.sigma_data / total.sqrt()
        c_in, c_noise = total.rsqrt(), sigma.log() / 4
        h = torch.cat([c_in * x, fourier(c_noise, self.frequencies)[:, :]], dim=1)
        for layer in self.hidden:
            h = torch.nn.functional.silu(layer(h))
        return c_skip * x + c_out * self.output(h)


class Ring:
    """The exact denoiser of an equal-weight mixture of isotropic Gaussians."""

    def __init__(self, modes, radius, std):
        angles = torch.arange(modes) * (2 * math.pi / modes)
        self.means = torch.stack([radius * angles.cos(), radius * angles.sin()], dim=1)
        self.var = std ** 2

    def __call__(self, x, sigma):
        diff = x.unsqueeze(1) - self.means  # [b, K, 2]
        var = self.var + sigma.square().unsqueeze(2)  # [b, 1, 1]
        logits = -(var.log() * (x.shape[1] / 2)) - diff.square().sum(2, keepdim=True) / (2 * var)
        post = torch.softmax(logits, dim=1)
        return (post * (self.means + diff * (self.var / var))).sum(1)


def log_normal(batch, mean, std):
    return (torch.randn(batch, 1) * std + mean).exp().clamp(SIGMA_MIN, SIGMA_MAX)


def denoising_loss(denoised, target, sigma, sigma_data):
    weight = (sigma.square() + sigma_data ** 2) / (sigma * sigma_data).square()
    return ((denoised - target).square().sum(1, keepdim=True) * weight).mean()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    sigma_data = math.sqrt(1.0 / 2 + 0.08 ** 2)  # per-coordinate std of the ring
    teacher = Ring(8, 1.0, 0.08)
    generator = Mlp(2, 64, 4, 8, sigma_data)
    fake = Mlp(2, 64, 4, 8, sigma_data)
    fake.load_state_dict(generator.state_dict())
    ema = Mlp(2, 64, 4, 8, sigma_data).requires_grad_(False)
    ema.load_state_dict(generator.state_dict())
    opt_g = torch.optim.Adam(generator.parameters(), lr=1e-4, betas=(0.0, 0.999))
    opt_f = torch.optim.Adam(fake.parameters(), lr=1e-4, betas=(0.0, 0.999))
    b, t_star, c = args.batch, 2.5, 0.03
    beta = 0.5 ** (b / (1000 * 20.0))

    def iteration():
        # ψ phase (k_ψ = 1): denoising loss on x_0 = sg(g(z)).
        with torch.no_grad():
            z = torch.randn(b, 2) * t_star
            x0 = generator(z, torch.full((b, 1), t_star))
        sigma = log_normal(b, -1.2, 1.2)
        x_t = x0 + torch.randn(b, 2) * sigma
        loss_f = denoising_loss(fake(x_t, sigma), x0, sigma, sigma_data)
        opt_f.zero_grad(set_to_none=True)
        loss_f.backward()
        opt_f.step()
        # θ phase: SIM pseudo-Huber, gradients through x_0 and x_t into every term.
        z = torch.randn(b, 2) * t_star
        x0 = generator(z, torch.full((b, 1), t_star))
        sigma = log_normal(b, -3.5, 2.5)
        x_t = x0 + torch.randn(b, 2) * sigma
        for q in fake.parameters():
            q.requires_grad_(False)
        d_fake = fake(x_t, sigma)
        for q in fake.parameters():
            q.requires_grad_(True)
        y = d_fake - teacher(x_t, sigma)
        d_prime = y / (y.square().sum(1, keepdim=True) + c * c).sqrt()
        loss_g = -(d_prime * (d_fake - x0)).sum(1).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        with torch.no_grad():
            for e, g in zip(ema.parameters(), generator.parameters()):
                e.mul_(beta).add_(g, alpha=1 - beta)
        return loss_g.item(), loss_f.item()

    for _ in range(3):
        iteration()
    times = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        for _ in range(args.iterations):
            iteration()
        times.append((time.perf_counter() - start) / args.iterations)
    times.sort()
    print(f"torch {times[len(times) // 2] * 1e3:.2f}")


if __name__ == "__main__":
    main()
