//! One distillation iteration (docs/algorithm.md §2): `k_ψ` fake-denoiser updates, then one generator
//! update, then the EMA. The only training step in the program.

use burn::optim::GradientsParams;
use burn::prelude::*;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::config::DistillConfig;
use super::diagnostics::{Diagnostics, PhaseTensors, probe};
use super::net::DistillNet;
use super::objective::{GeneratorTerms, generator_loss, sample_weight};
use crate::diffusion::denoiser::LabelledDenoiser;
use crate::diffusion::loss::denoising_loss;
use crate::optim::adam::Adam;
use crate::optim::ema::{ema_beta, ema_update};
use crate::optim::params::sanitize_grads;
use crate::rng::{Stream, normal, rng_for};
use crate::tensor::one_hot;

/// The trained state: generator θ, fake denoiser ψ, the generator's EMA, and both optimisers.
/// `N` is the network: the MLP of toy runs or the U-Net of image runs.
#[derive(Debug)]
pub struct Networks<N> {
    /// Generator θ: `g_θ(z, y) = D_θ(z; t*, y)` (B.4).
    pub generator: N,
    /// Fake denoiser ψ, the denoiser of the generator's distribution.
    pub fake_denoiser: N,
    /// EMA of θ (no autodiff): what is evaluated and sampled.
    pub ema: N,
    /// Adam of θ.
    pub adam_generator: Adam,
    /// Adam of ψ.
    pub adam_fake: Adam,
}

impl<N: DistillNet> Networks<N> {
    /// θ, ψ and the EMA all start as copies of `init` (the teacher, or its fit: docs/algorithm.md §2),
    /// with fresh Adams of β = (0, `adam_beta2`) (Table 5).
    pub fn from_init(init: N, adam_beta2: f64) -> Self {
        Self {
            generator: init.clone(),
            fake_denoiser: init.clone(),
            ema: init.valid(),
            adam_generator: Adam::new(0.0, adam_beta2),
            adam_fake: Adam::new(0.0, adam_beta2),
        }
    }
}

/// What one iteration measured. NaN and ±inf are written to JSON as `null` (JSON has no such
/// numbers) and read back as NaN.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IterationStats {
    /// Batch-mean generator loss (of the finite samples).
    #[serde(deserialize_with = "nan_if_null")]
    pub loss_generator: f64,
    /// Fake-denoiser loss of the last ψ step.
    #[serde(deserialize_with = "nan_if_null")]
    pub loss_fake: f64,
    /// L2 norm of the generator gradient (after sanitising).
    #[serde(deserialize_with = "nan_if_null")]
    pub grad_norm_generator: f64,
    /// L2 norm of the last ψ gradient (after sanitising).
    #[serde(deserialize_with = "nan_if_null")]
    pub grad_norm_fake: f64,
    /// Samples whose generator loss was NaN/Inf and were dropped.
    pub dropped_samples: u64,
    /// Gradient entries that were NaN/Inf and were zeroed (θ and ψ).
    pub sanitized_grads: u64,
}

/// A number, or NaN for `null` (how JSON writes a non-finite one).
fn nan_if_null<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
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

/// One-hot class vectors `[batch, classes]` drawn uniformly per sample from
/// `rng_for(seed, step, stream)`; `None` when `classes == 0` (no draw at all, so an
/// unconditional run sees exactly the numbers it saw before labels existed).
pub fn draw_labels(
    seed: u64,
    step: u64,
    stream: Stream,
    batch: usize,
    classes: usize,
    device: &Device,
) -> Option<Tensor<2>> {
    if classes == 0 {
        return None;
    }
    let mut rng = rng_for(seed, step, stream);
    let labels: Vec<usize> = (0..batch).map(|_| rng.random_range(0..classes)).collect();
    Some(one_hot(&labels, classes, device))
}

/// Runs iteration `step` of a run seeded with `seed`. Deterministic in (`seed`, `step`, state).
/// With `probe_rows`, also the diagnostics of its generator phase ([`probe`]), with that many
/// sample rows; they change nothing of the iteration.
///
/// A class-conditional network (`classes() > 0`) gets labels `y` drawn per sample and per phase
/// ([`Stream::FakeLabels`], [`Stream::GeneratorLabels`]); within a phase the same `y` goes to
/// `g_θ(z, y)`, to `D_ψ(x_t; σ, y)` and to the teacher `D_q(x_t; σ, y)`.
pub fn iteration<N: DistillNet>(
    nets: &mut Networks<N>,
    teacher: &dyn LabelledDenoiser,
    config: &DistillConfig,
    seed: u64,
    step: u64,
    device: &Device,
    probe_rows: Option<usize>,
) -> (IterationStats, Option<Diagnostics>) {
    let mut stats = IterationStats::default();
    let dim = nets.generator.dim();
    let classes = nets.generator.classes();
    let b = config.batch;
    let sigma_data = nets.fake_denoiser.sigma_data();

    // ψ phase: denoising loss on x_0 = sg(g_θ(z, y)) with the same y (B.5–B.7).
    for k in 0..config.k_fake {
        let mut rng = rng_for(seed, step, Stream::Fake(k));
        let labels = draw_labels(seed, step, Stream::FakeLabels(k), b, classes, device);
        let (z, t_star) = latents(&mut rng, b, dim, config.t_star, device);
        let x0 = nets
            .generator
            .denoise_labelled(z, t_star, labels.clone())
            .detach();
        let (x_t, sigma) = diffuse(&mut rng, x0.clone(), config.fake_sigma);
        let fake = &nets.fake_denoiser;
        let denoised = fake.denoise_labelled(x_t, sigma.clone(), labels);
        let loss = denoising_loss(denoised, x0, sigma, sigma_data);
        stats.loss_fake = f64::from(loss.clone().into_scalar::<f32>());
        let mut grads = GradientsParams::from_grads(loss.backward(), fake);
        let (bad, norm) = sanitize_grads(fake, &mut grads);
        stats.sanitized_grads += bad;
        stats.grad_norm_fake = norm;
        nets.fake_denoiser = nets.adam_fake.step(fake.clone(), &grads, config.lr_fake);
    }

    // θ phase: the generator objective, gradients through x_0 and x_t into every term.
    let mut rng = rng_for(seed, step, Stream::Generator);
    let labels = draw_labels(seed, step, Stream::GeneratorLabels, b, classes, device);
    let (z, t_star) = latents(&mut rng, b, dim, config.t_star, device);
    let x0 = nets.generator.denoise_labelled(z, t_star, labels.clone());
    // The loss is differentiated in two backward passes that give the same numbers as one: to
    // the generator's output as a leaf (∂L/∂x_0, which the diagnostics read), then from there
    // into θ through the generator alone.
    let x0_leaf = x0.clone().detach().require_grad();
    let (x_t, sigma) = diffuse(&mut rng, x0_leaf.clone(), config.generator_sigma);
    let frozen_fake = nets.fake_denoiser.clone().no_grad();
    let terms = GeneratorTerms {
        fake: frozen_fake.denoise_labelled(x_t.clone(), sigma.clone(), labels.clone()),
        teacher: teacher.denoise_labelled(x_t, sigma.clone(), labels),
        x0: x0_leaf.clone(),
    };
    // What the diagnostics read, kept before the loss consumes the terms.
    let kept = probe_rows.map(|rows| {
        let [x0, fake, teacher] =
            [&terms.x0, &terms.fake, &terms.teacher].map(|t| t.clone().inner());
        (rows, sigma.inner(), x0, fake, teacher)
    });
    let per_sample = generator_loss(
        &config.objective,
        &config.distance,
        config.weighting,
        terms,
        false,
    );
    // The mean over the finite samples, computed on the device; the loss and the count are read
    // back together (one synchronisation).
    let finite = per_sample.clone().is_finite();
    let n_finite = finite.clone().float().sum();
    let loss = per_sample
        .zeros_like()
        .mask_where(finite, per_sample)
        .sum()
        .div(n_finite.clone().clamp_min(1.0));
    let read: Vec<f32> = Tensor::cat(vec![loss.clone().detach(), n_finite], 0)
        .into_data()
        .try_to_vec()
        .unwrap_or_default();
    let (loss_value, n_finite) = match read[..] {
        [loss, n] => (loss, n),
        _ => (f32::NAN, 0.0),
    };
    stats.dropped_samples = (b as f64 - f64::from(n_finite)).max(0.0) as u64;
    stats.loss_generator = if n_finite == 0.0 {
        f64::NAN
    } else {
        f64::from(loss_value)
    };
    let grad_x0 = x0_leaf
        .grad(&loss.backward())
        .unwrap_or_else(|| x0_leaf.zeros_like().inner());
    let generator = &nets.generator;
    let mut grads =
        GradientsParams::from_grads(x0.mul(grad_x0.clone()).sum().backward(), generator);
    let (bad, norm) = sanitize_grads(generator, &mut grads);
    stats.sanitized_grads += bad;
    stats.grad_norm_generator = norm;
    nets.generator = nets
        .adam_generator
        .step(generator.clone(), &grads, config.lr_generator);

    let beta = ema_beta(b, config.ema_half_life_kimg);
    nets.ema = ema_update(nets.ema.clone(), &nets.generator, beta);
    let diagnostics = kept.map(|(rows, sigma, x0, fake, teacher)| {
        let tensors = PhaseTensors {
            weight: sample_weight(config.weighting, &x0, &teacher),
            sigma,
            x0,
            fake,
            teacher,
            grad_x0,
        };
        probe(&config.objective, &config.distance, tensors, rows)
    });
    (stats, diagnostics)
}

#[cfg(test)]
mod tests {
    use burn::module::Module;

    use super::*;
    use crate::nets::unet::{UNetConfig, UNetDenoiser};
    use crate::optim::params::map_params;

    /// A tiny class-conditional 8×8 U-Net with every parameter perturbed (the zero-initialised
    /// output convolution would make `D = c_skip x`, blind to the labels).
    fn tiny_conditional(device: &Device) -> UNetDenoiser {
        let config = UNetConfig {
            channels: 8,
            channel_mult: vec![1, 2],
            attention: false,
            noise_frequencies: 4,
            classes: 3,
            ..UNetConfig::default()
        };
        let mut rng = rng_for(7, 0, Stream::Other(1));
        let net = UNetDenoiser::new(&config, 0.5, &mut rng, device).expect("valid U-Net");
        map_params(net, None, |_, value, _| {
            let n = value.dims()[0];
            let noise =
                Tensor::<1>::from_data(TensorData::new(normal(&mut rng, n, 0.2), [n]), device);
            value.add(noise)
        })
    }

    fn scalar(t: Tensor<1>) -> f64 {
        f64::from(t.into_scalar::<f32>())
    }

    /// The labels drawn for each phase reach the generator, the fake denoiser and the teacher:
    /// both losses of one iteration are recomputed by hand with the phase's labels given to all
    /// three networks and match to rounding; withholding the labels from any one network
    /// changes them.
    #[test]
    fn labels_reach_generator_fake_denoiser_and_teacher() {
        let device = Device::flex().autodiff();
        let teacher = tiny_conditional(&device).freeze();
        let mut nets = Networks::from_init(teacher.clone().set_require_grad(true), 0.999);
        let config = DistillConfig {
            batch: 6,
            ..DistillConfig::default()
        };
        let (seed, step) = (3, 5);
        let generator0 = nets.generator.clone();
        let fake0 = nets.fake_denoiser.clone();
        let (stats, _) = iteration(&mut nets, &teacher, &config, seed, step, &device, None);
        assert!(stats.loss_generator.is_finite() && stats.loss_fake.is_finite());
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-5 * (1.0 + b.abs());

        // ψ phase, with labels given to (generator, ψ) or withheld.
        let fake_loss = |to_generator: bool, to_fake: bool| {
            let mut rng = rng_for(seed, step, Stream::Fake(0));
            let y = draw_labels(seed, step, Stream::FakeLabels(0), 6, 3, &device);
            let (z, t) = latents(&mut rng, 6, 64, config.t_star, &device);
            let x0 = generator0
                .denoise_labelled(z, t, y.clone().filter(|_| to_generator))
                .detach();
            let (x_t, sigma) = diffuse(&mut rng, x0.clone(), config.fake_sigma);
            let d = fake0.denoise_labelled(x_t, sigma.clone(), y.filter(|_| to_fake));
            scalar(denoising_loss(d, x0, sigma, 0.5))
        };
        assert!(
            close(fake_loss(true, true), stats.loss_fake),
            "{} vs {}",
            fake_loss(true, true),
            stats.loss_fake
        );
        assert!(!close(fake_loss(false, true), stats.loss_fake));
        assert!(!close(fake_loss(true, false), stats.loss_fake));

        // θ phase (ψ as updated by the ψ phase), labels to (generator, ψ, teacher) or withheld.
        let fake1 = nets.fake_denoiser.clone().no_grad();
        let generator_loss_with = |to: [bool; 3]| {
            let mut rng = rng_for(seed, step, Stream::Generator);
            let y = draw_labels(seed, step, Stream::GeneratorLabels, 6, 3, &device);
            let pick = |i: usize| y.clone().filter(|_| to[i]);
            let (z, t) = latents(&mut rng, 6, 64, config.t_star, &device);
            let x0 = generator0.denoise_labelled(z, t, pick(0));
            let (x_t, sigma) = diffuse(&mut rng, x0.clone(), config.generator_sigma);
            let terms = GeneratorTerms {
                fake: fake1.denoise_labelled(x_t.clone(), sigma.clone(), pick(1)),
                teacher: teacher.denoise_labelled(x_t, sigma, pick(2)),
                x0,
            };
            let per_sample = generator_loss(
                &config.objective,
                &config.distance,
                config.weighting,
                terms,
                false,
            );
            scalar(per_sample.mean())
        };
        let all = generator_loss_with([true; 3]);
        assert!(
            close(all, stats.loss_generator),
            "{all} vs {}",
            stats.loss_generator
        );
        for withheld in 0..3 {
            let mut to = [true; 3];
            to[withheld] = false;
            let other = generator_loss_with(to);
            assert!(!close(other, all), "network {withheld}: {other} vs {all}");
        }
    }

    /// An unconditional network draws no labels: the label streams are never touched.
    #[test]
    fn no_labels_without_classes() {
        let device = Device::flex();
        assert!(draw_labels(0, 0, Stream::GeneratorLabels, 4, 0, &device).is_none());
        let y = draw_labels(0, 0, Stream::GeneratorLabels, 400, 4, &device).expect("labels");
        let rows = y.try_into_vec_as::<f32>().expect("f32");
        let counts: Vec<f32> = (0..4)
            .map(|k| rows.iter().skip(k).step_by(4).sum())
            .collect();
        assert_eq!(counts.iter().sum::<f32>(), 400.0, "one-hot rows");
        // Uniform: each class 100 ± 4σ (σ ≈ 8.7).
        assert!(
            counts.iter().all(|&c| (65.0..135.0).contains(&c)),
            "{counts:?}"
        );
    }
}
