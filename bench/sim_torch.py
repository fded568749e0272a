"""The engine's SIM iteration in PyTorch, shared by the side-by-side scripts (bench/README.md).

One iteration, as `engine/src/distill/iteration.rs` runs it: k_ψ = 1 fake-denoiser step (denoising
loss on x_0 = sg(g(z, y)), σ ~ p_EDM), then one generator step (SIM pseudo-Huber c = 0.03, σ ~ p_SIM,
nowgt, gradients through x_0 and x_t into every term, ψ frozen), Adam β = (0, 0.999) on both, then
the EMA of θ. Class labels, when the networks have classes, are drawn per phase and go to the
generator, ψ and the teacher alike. Same shapes and passes as the engine; random numbers differ.
"""

import time

import torch

SIGMA_MIN, SIGMA_MAX = 0.002, 80.0
T_STAR, PSEUDO_HUBER_C = 2.5, 0.03


def fourier(c_noise, frequencies):
    """`[c_noise, sin(f_j c_noise), cos(f_j c_noise)]`, f_j geometric from 1 to 32."""
    f = torch.tensor([32.0 ** (j / max(frequencies - 1, 1)) for j in range(frequencies)])
    phase = c_noise * f
    return torch.cat([c_noise, phase.sin(), phase.cos()], dim=1)


def precond(sigma, sigma_data):
    """EDM Table 1: (c_skip, c_out, c_in, c_noise) for σ of shape [b, 1]."""
    sd2 = sigma_data ** 2
    total = sigma.square() + sd2
    return sd2 / total, sigma * sigma_data / total.sqrt(), total.rsqrt(), sigma.log() / 4


def log_normal(batch, mean, std):
    return (torch.randn(batch, 1) * std + mean).exp().clamp(SIGMA_MIN, SIGMA_MAX)


def denoising_loss(denoised, target, sigma, sigma_data):
    weight = (sigma.square() + sigma_data ** 2) / (sigma * sigma_data).square()
    return ((denoised - target).square().sum(1, keepdim=True) * weight).mean()


def one_hot(batch, classes):
    if classes == 0:
        return None
    return torch.nn.functional.one_hot(torch.randint(classes, (batch,)), classes).float()


class Iteration:
    """θ, ψ, their Adams and the EMA, all starting from `init`'s weights; `teacher` is frozen.

    Networks are called as `net(x, sigma, y)` on flat rows `[b, dim]`; `y` is `None` or one-hot.
    """

    def __init__(self, make, teacher, batch, dim, classes, sigma_data, ema_half_life_kimg, lr=1e-4):
        self.generator, self.fake, self.ema = make(), make(), make().requires_grad_(False)
        self.fake.load_state_dict(self.generator.state_dict())
        self.ema.load_state_dict(self.generator.state_dict())
        self.teacher = teacher
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=lr, betas=(0.0, 0.999))
        self.opt_f = torch.optim.Adam(self.fake.parameters(), lr=lr, betas=(0.0, 0.999))
        self.b, self.dim, self.classes, self.sigma_data = batch, dim, classes, sigma_data
        self.beta = 0.5 ** (batch / (1000 * ema_half_life_kimg))

    def __call__(self):
        b, dim, sd = self.b, self.dim, self.sigma_data
        t_star = torch.full((b, 1), T_STAR)
        # ψ phase (k_ψ = 1): denoising loss on x_0 = sg(g(z, y)).
        y = one_hot(b, self.classes)
        with torch.no_grad():
            x0 = self.generator(torch.randn(b, dim) * T_STAR, t_star, y)
        sigma = log_normal(b, -1.2, 1.2)
        x_t = x0 + torch.randn(b, dim) * sigma
        loss_f = denoising_loss(self.fake(x_t, sigma, y), x0, sigma, sd)
        self.opt_f.zero_grad(set_to_none=True)
        loss_f.backward()
        self.opt_f.step()
        # θ phase: SIM pseudo-Huber, gradients through x_0 and x_t into every term.
        y = one_hot(b, self.classes)
        x0 = self.generator(torch.randn(b, dim) * T_STAR, t_star, y)
        sigma = log_normal(b, -3.5, 2.5)
        x_t = x0 + torch.randn(b, dim) * sigma
        self.fake.requires_grad_(False)
        d_fake = self.fake(x_t, sigma, y)
        self.fake.requires_grad_(True)
        diff = d_fake - self.teacher(x_t, sigma, y)
        d_prime = diff / (diff.square().sum(1, keepdim=True) + PSEUDO_HUBER_C ** 2).sqrt()
        loss_g = -(d_prime * (d_fake - x0)).sum(1).mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        with torch.no_grad():
            for e, g in zip(self.ema.parameters(), self.generator.parameters()):
                e.mul_(self.beta).add_(g, alpha=1 - self.beta)
        return loss_g.item(), loss_f.item()


def time_iterations(iteration, iterations, rounds, warmup=3):
    """Median seconds per iteration over `rounds` rounds of `iterations` (each iteration ends in
    `.item()`, which waits for the device)."""
    for _ in range(warmup):
        iteration()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(iterations):
            iteration()
        times.append((time.perf_counter() - start) / iterations)
    times.sort()
    return times[len(times) // 2]


def add_common_args(parser, batch):
    parser.add_argument("--batch", type=int, default=batch)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="torch device of every tensor (cpu, cuda)")


def setup(args):
    """Threads, seed, and the device every tensor is made on (`--device`)."""
    torch.set_num_threads(args.threads)
    torch.set_default_device(args.device)
    torch.manual_seed(0)


def report(seconds, device="cpu"):
    print(f"torch {seconds * 1e3:.2f}")
    if device.startswith("cuda"):
        print(f"peak CUDA memory allocated {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")

