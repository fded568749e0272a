//! One distillation iteration (SIM_SPEC §2): `k_ψ` fake-denoiser updates, then one generator
//! update, then the EMA. The only training step in the program.

use burn::optim::GradientsParams;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::adam::Adam;
use super::ema::{ema_beta, ema_update};
use super::objective::{GeneratorTerms, generator_loss};
use super::params::sanitize_grads;
use crate::config::DistillConfig;
use crate::diffusion::denoiser::Denoiser;
use crate::diffusion::loss::denoising_loss;
use crate::nets::mlp::MlpDenoiser;
use crate::rng::{Stream, normal, rng_for};

/// The trained state: generator θ, fake denoiser ψ, the generator's EMA, and both optimisers.
#[derive(Debug)]
pub struct Networks {
    /// Generator θ: `g_θ(z) = D_θ(z; t*)` (B.4).
    pub generator: MlpDenoiser,
    /// Fake denoiser ψ, the denoiser of the generator's distribution.
    pub fake_denoiser: MlpDenoiser,
    /// EMA of θ (no autodiff): what is evaluated and sampled.
    pub ema: MlpDenoiser,
    /// Adam of θ.
    pub adam_generator: Adam,
    /// Adam of ψ.
    pub adam_fake: Adam,
}

/// What one iteration measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IterationStats {
    /// Batch-mean generator loss (of the finite samples).
    pub loss_generator: f64,
    /// Fake-denoiser loss of the last ψ step.
    pub loss_fake: f64,
    /// L2 norm of the generator gradient (after sanitising).
    pub grad_norm_generator: f64,
    /// L2 norm of the last ψ gradient (after sanitising).
    pub grad_norm_fake: f64,
    /// Samples whose generator loss was NaN/Inf and were dropped.
    pub dropped_samples: u64,
    /// Gradient entries that were NaN/Inf and were zeroed (θ and ψ).
    pub sanitized_grads: u64,
}

/// Standard-normal-scaled latents `z ~ N(0, t*² I)` and the noise level `t*`, as tensors.
fn latents(
    rng: &mut impl rand::Rng,
    batch: usize,
    dim: usize,
    t_star: f64,
    device: &Device,
) -> (Tensor<2>, Tensor<2>) {
    let z = Tensor::<2>::from_data(
        TensorData::new(normal(rng, batch * dim, t_star), [batch, dim]),
        device,
    );
    (z, Tensor::<2>::full([batch, 1], t_star, device))
}

/// `x_t = x_0 + σ ε` with σ from the phase's distribution: returns `(x_t, σ)`.
fn diffuse(
    rng: &mut impl rand::Rng,
    x0: Tensor<2>,
    sigma_dist: crate::diffusion::sigma::SigmaDistribution,
) -> (Tensor<2>, Tensor<2>) {
    let [batch, dim] = x0.dims();
    let device = x0.device();
    let sigma = Tensor::<2>::from_data(
        TensorData::new(sigma_dist.sample(rng, batch), [batch, 1]),
        &device,
    );
    let eps = Tensor::<2>::from_data(
        TensorData::new(normal(rng, batch * dim, 1.0), [batch, dim]),
        &device,
    );
    (x0.add(eps.mul(sigma.clone())), sigma)
}

/// Runs iteration `step` of a run seeded with `seed`. Deterministic in (`seed`, `step`, state).
pub fn iteration(
    nets: &mut Networks,
    teacher: &dyn Denoiser,
    config: &DistillConfig,
    seed: u64,
    step: u64,
    device: &Device,
) -> IterationStats {
    let mut stats = IterationStats::default();
    let dim = nets.generator.dim();
    let b = config.batch;
    let sigma_data = nets.fake_denoiser.sigma_data();

    // ψ phase: denoising loss on x_0 = sg(g_θ(z)) (B.5–B.7).
    for k in 0..config.k_fake {
        let mut rng = rng_for(seed, step, Stream::Fake(k));
        let (z, t_star) = latents(&mut rng, b, dim, config.t_star, device);
        let x0 = nets.generator.denoise(z, t_star).detach();
        let (x_t, sigma) = diffuse(&mut rng, x0.clone(), config.fake_sigma);
        let fake = &nets.fake_denoiser;
        let loss = denoising_loss(fake.denoise(x_t, sigma.clone()), x0, sigma, sigma_data);
        stats.loss_fake = f64::from(loss.clone().into_scalar::<f32>());
        let mut grads = GradientsParams::from_grads(loss.backward(), fake);
        let (bad, norm) = sanitize_grads(fake, &mut grads);
        stats.sanitized_grads += bad;
        stats.grad_norm_fake = norm;
        nets.fake_denoiser = nets.adam_fake.step(fake.clone(), &grads, config.lr_fake);
    }

    // θ phase: the generator objective, gradients through x_0 and x_t into every term.
    let mut rng = rng_for(seed, step, Stream::Generator);
    let (z, t_star) = latents(&mut rng, b, dim, config.t_star, device);
    let x0 = nets.generator.denoise(z, t_star);
    let (x_t, sigma) = diffuse(&mut rng, x0.clone(), config.generator_sigma);
    let frozen_fake = nets.fake_denoiser.clone().no_grad();
    let terms = GeneratorTerms {
        fake: frozen_fake.denoise(x_t.clone(), sigma.clone()),
        teacher: teacher.denoise(x_t, sigma),
        x0,
    };
    let per_sample = generator_loss(
        &config.objective,
        &config.distance,
        config.weighting,
        terms,
        false,
    );
    let finite = per_sample.clone().is_finite();
    let n_finite = finite.clone().int().sum().into_scalar::<i64>();
    stats.dropped_samples = (b as i64 - n_finite).max(0) as u64;
    let loss = per_sample
        .zeros_like()
        .mask_where(finite, per_sample)
        .sum()
        .div_scalar(n_finite.max(1) as f64);
    stats.loss_generator = f64::from(loss.clone().into_scalar::<f32>());
    if n_finite == 0 {
        stats.loss_generator = f64::NAN;
    }
    let generator = &nets.generator;
    let mut grads = GradientsParams::from_grads(loss.backward(), generator);
    let (bad, norm) = sanitize_grads(generator, &mut grads);
    stats.sanitized_grads += bad;
    stats.grad_norm_generator = norm;
    nets.generator = nets
        .adam_generator
        .step(generator.clone(), &grads, config.lr_generator);

    let beta = ema_beta(b, config.ema_half_life_kimg);
    nets.ema = ema_update(nets.ema.clone(), &nets.generator, beta);
    stats
}
