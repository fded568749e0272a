//! One distillation iteration (docs/algorithm.md §2): `k_ψ` fake-denoiser updates, then one generator
//! update, then the EMA. The only training step in the program.

use std::ops::Range;

use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::*;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::config::DistillConfig;
use super::diagnostics::{Diagnostics, PhaseTensors, probe};
use super::net::DistillNet;
use super::objective::{GeneratorTerms, generator_loss, sample_weight};
use crate::diffusion::denoiser::LabelledDenoiser;
use crate::diffusion::loss::denoising_loss;
use crate::diffusion::sigma::SigmaDistribution;
use crate::optim::adam::Adam;
use crate::optim::ema::{ema_beta, ema_update};
use crate::optim::params::sanitize_grads;
use crate::rng::{Stream, normal, rng_for};
use crate::tensor::one_hot;

/// The trained state: generator θ, fake denoiser ψ, the generator's EMA, and both optimisers.
/// `N` is the network: the MLP of toy runs or the U-Net of image runs. A clone shares the
/// parameters' storage until one of them is updated.
#[derive(Clone, Debug)]
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

/// The rows of each of `parts` parts of a batch of `batch`: as equal as can be, the first
/// `batch mod parts` one row larger — the split a data-parallel run gives its devices
/// (`distill.micro_batches`, docs/algorithm.md §2).
pub fn batch_parts(batch: usize, parts: usize) -> Vec<Range<usize>> {
    let parts = parts.clamp(1, batch.max(1));
    let (base, extra) = (batch / parts, batch % parts);
    let mut start = 0;
    (0..parts)
        .map(|k| {
            let rows = start..start + base + usize::from(k < extra);
            start = rows.end;
            rows
        })
        .collect()
}

/// One phase's random numbers for the whole batch, drawn on the host in the order an unsplit
/// phase consumes them — latents `z ~ N(0, t*² I)`, then σ from the phase's distribution, then
/// `ε ~ N(0, I)` — so that every split of the batch sees the same numbers.
struct PhaseDraws {
    z: Vec<f32>,
    sigma: Vec<f32>,
    eps: Vec<f32>,
    /// Class of each sample; `None` when unconditional.
    labels: Option<Vec<usize>>,
    dim: usize,
    classes: usize,
    t_star: f64,
}

/// One part's rows of a [`PhaseDraws`] as tensors.
struct PartDraws {
    z: Tensor<2>,
    t_star: Tensor<2>,
    sigma: Tensor<2>,
    eps: Tensor<2>,
    labels: Option<Tensor<2>>,
}

impl PhaseDraws {
    #[allow(clippy::too_many_arguments)]
    fn draw(
        seed: u64,
        step: u64,
        (stream, label_stream): (Stream, Stream),
        batch: usize,
        dim: usize,
        classes: usize,
        t_star: f64,
        sigma_dist: SigmaDistribution,
    ) -> Self {
        let mut rng = rng_for(seed, step, stream);
        let z = normal(&mut rng, batch * dim, t_star);
        let sigma = sigma_dist.sample(&mut rng, batch);
        let eps = normal(&mut rng, batch * dim, 1.0);
        Self {
            z,
            sigma,
            eps,
            labels: label_indices(seed, step, label_stream, batch, classes),
            dim,
            classes,
            t_star,
        }
    }

    fn part(&self, rows: &Range<usize>, device: &Device) -> PartDraws {
        let (n, dim) = (rows.len(), self.dim);
        let flat = |v: &[f32], width: usize| {
            Tensor::<2>::from_data(
                TensorData::new(v[rows.start * width..rows.end * width].to_vec(), [n, width]),
                device,
            )
        };
        PartDraws {
            z: flat(&self.z, dim),
            t_star: Tensor::<2>::full([n, 1], self.t_star, device),
            sigma: flat(&self.sigma, 1),
            eps: flat(&self.eps, dim),
            labels: self
                .labels
                .as_ref()
                .map(|l| one_hot(&l[rows.clone()], self.classes, device)),
        }
    }
}

/// Classes drawn uniformly per sample from `rng_for(seed, step, stream)`; `None` when
/// `classes == 0` (no draw at all, so an unconditional run sees exactly the numbers it saw
/// before labels existed).
fn label_indices(
    seed: u64,
    step: u64,
    stream: Stream,
    batch: usize,
    classes: usize,
) -> Option<Vec<usize>> {
    (classes > 0).then(|| {
        let mut rng = rng_for(seed, step, stream);
        (0..batch).map(|_| rng.random_range(0..classes)).collect()
    })
}

/// One-hot class vectors `[batch, classes]` of [`label_indices`]; `None` when unconditional.
pub fn draw_labels(
    seed: u64,
    step: u64,
    stream: Stream,
    batch: usize,
    classes: usize,
    device: &Device,
) -> Option<Tensor<2>> {
    label_indices(seed, step, stream, batch, classes).map(|l| one_hot(&l, classes, device))
}

/// The sum of one-element tensors (0 for none): the parts' counts and losses.
fn sum(parts: impl Iterator<Item = Tensor<1>>, device: &Device) -> Tensor<1> {
    parts
        .reduce(Tensor::add)
        .unwrap_or_else(|| Tensor::zeros([1], device))
}

/// The generator phase of one part, kept between its forward pass and its backward passes.
struct GeneratorPart {
    x0: Tensor<2>,
    x0_leaf: Tensor<2>,
    /// Σ of the finite per-sample losses, and their count.
    sum: Tensor<1>,
    count: Tensor<1>,
    /// σ, x_0, D_ψ and D_q without autodiff, for the diagnostics.
    kept: Option<[Tensor<2>; 4]>,
}

/// Runs iteration `step` of a run seeded with `seed`. Deterministic in (`seed`, `step`, state).
/// With `probe_rows`, also the diagnostics of its generator phase ([`probe`]), with that many
/// sample rows; they change nothing of the iteration.
///
/// A class-conditional network (`classes() > 0`) gets labels `y` drawn per sample and per phase
/// ([`Stream::FakeLabels`], [`Stream::GeneratorLabels`]); within a phase the same `y` goes to
/// `g_θ(z, y)`, to `D_ψ(x_t; σ, y)` and to the teacher `D_q(x_t; σ, y)`.
///
/// With `distill.micro_batches = k > 1` each phase runs its batch as `k` parts
/// ([`batch_parts`]), forward and backward one part at a time, and sums their gradients: the
/// same update as the whole batch at once (to rounding), as a data-parallel run computes it
/// with one part per device.
pub fn iteration<N: DistillNet>(
    nets: &mut Networks<N>,
    teacher: &dyn LabelledDenoiser,
    config: &DistillConfig,
    seed: u64,
    step: u64,
    device: &Device,
    probe_rows: Option<usize>,
) -> (IterationStats, Option<Diagnostics>) {
    let at = Iteration {
        config,
        seed,
        step,
        device,
        parts: batch_parts(config.batch, config.micro_batches),
        dim: nets.generator.dim(),
        classes: nets.generator.classes(),
    };
    let mut stats = IterationStats::default();
    for k in 0..config.k_fake {
        fake_denoiser_step(nets, &at, k, &mut stats);
    }
    let forward = generator_forward(nets, teacher, &at, probe_rows.is_some());
    let losses = finite_batch_mean(&forward, &at, &mut stats);
    let (grad_x0s, kept) = generator_step(nets, forward, losses, &at, &mut stats);
    let beta = ema_beta(config.batch, config.ema_half_life_kimg);
    nets.ema = ema_update(nets.ema.clone(), &nets.generator, beta);
    let diagnostics = probe_rows.map(|rows| phase_diagnostics(config, kept, grad_x0s, rows));
    (stats, diagnostics)
}

/// What every phase of one iteration shares: the settings, where its draws come from, and the
/// batch's parts.
struct Iteration<'a> {
    config: &'a DistillConfig,
    seed: u64,
    step: u64,
    device: &'a Device,
    parts: Vec<Range<usize>>,
    dim: usize,
    classes: usize,
}

impl Iteration<'_> {
    /// The phase's draws for the whole batch from `streams`, σ from `sigma`.
    fn draws(&self, streams: (Stream, Stream), sigma: SigmaDistribution) -> PhaseDraws {
        PhaseDraws::draw(
            self.seed,
            self.step,
            streams,
            self.config.batch,
            self.dim,
            self.classes,
            self.config.t_star,
            sigma,
        )
    }
}

/// ψ's `k`-th update: the denoising loss on `x_0 = sg(g_θ(z, y))` with the same `y`
/// (B.5–B.7); each part's batch mean weighted by its share of the batch.
fn fake_denoiser_step<N: DistillNet>(
    nets: &mut Networks<N>,
    at: &Iteration,
    k: u32,
    stats: &mut IterationStats,
) {
    let (b, config) = (at.config.batch, at.config);
    let draws = at.draws((Stream::Fake(k), Stream::FakeLabels(k)), config.fake_sigma);
    let sigma_data = nets.fake_denoiser.sigma_data();
    let fake = &nets.fake_denoiser;
    let mut accumulated = GradientsAccumulator::new();
    stats.loss_fake = 0.0;
    for rows in &at.parts {
        let d = draws.part(rows, at.device);
        let x0 = nets
            .generator
            .denoise_labelled(d.z, d.t_star, d.labels.clone())
            .detach();
        let x_t = x0.clone().add(d.eps.mul(d.sigma.clone()));
        let denoised = fake.denoise_labelled(x_t, d.sigma.clone(), d.labels);
        let mut loss = denoising_loss(denoised, x0, d.sigma, sigma_data);
        if rows.len() != b {
            loss = loss.mul_scalar(rows.len() as f64 / b as f64);
        }
        stats.loss_fake += f64::from(loss.clone().into_scalar::<f32>());
        accumulated.accumulate(fake, GradientsParams::from_grads(loss.backward(), fake));
    }
    let mut grads = accumulated.grads();
    let (bad, norm) = sanitize_grads(fake, &mut grads);
    stats.sanitized_grads += bad;
    stats.grad_norm_fake = norm;
    nets.fake_denoiser = nets.adam_fake.step(fake.clone(), &grads, config.lr_fake);
}

/// The generator phase's forward pass, part by part: the per-sample objective with gradients
/// through `x_0` and `x_t` into every term, `x_0` also kept as a leaf (so that `∂L/∂x_0`, which
/// the diagnostics read, comes out of the first of two backward passes). With `keep`, the
/// terms are kept for the diagnostics too.
fn generator_forward<N: DistillNet>(
    nets: &Networks<N>,
    teacher: &dyn LabelledDenoiser,
    at: &Iteration,
    keep: bool,
) -> Vec<GeneratorPart> {
    let config = at.config;
    let draws = at.draws(
        (Stream::Generator, Stream::GeneratorLabels),
        config.generator_sigma,
    );
    let frozen_fake = nets.fake_denoiser.clone().no_grad();
    at.parts
        .iter()
        .map(|rows| {
            let d = draws.part(rows, at.device);
            let x0 = nets
                .generator
                .denoise_labelled(d.z, d.t_star, d.labels.clone());
            let x0_leaf = x0.clone().detach().require_grad();
            let x_t = x0_leaf.clone().add(d.eps.mul(d.sigma.clone()));
            let terms = GeneratorTerms {
                fake: frozen_fake.denoise_labelled(x_t.clone(), d.sigma.clone(), d.labels.clone()),
                teacher: teacher.denoise_labelled(x_t, d.sigma.clone(), d.labels),
                x0: x0_leaf.clone(),
            };
            // What the diagnostics read, kept before the loss consumes the terms.
            let kept = keep.then(|| {
                [&d.sigma, &terms.x0, &terms.fake, &terms.teacher].map(|t| t.clone().inner())
            });
            let per_sample = generator_loss(
                &config.objective,
                &config.distance,
                config.weighting,
                terms,
                false,
            );
            let finite = per_sample.clone().is_finite();
            GeneratorPart {
                count: finite.clone().float().sum(),
                sum: per_sample.zeros_like().mask_where(finite, per_sample).sum(),
                x0,
                x0_leaf,
                kept,
            }
        })
        .collect()
}

/// Each part's share of the loss: the mean over the finite samples of the whole batch,
/// computed on the device; the loss and the count are read back together (one
/// synchronisation) into `stats`.
fn finite_batch_mean(
    forward: &[GeneratorPart],
    at: &Iteration,
    stats: &mut IterationStats,
) -> Vec<Tensor<1>> {
    let n_finite = sum(forward.iter().map(|p| p.count.clone()), at.device);
    let denominator = n_finite.clone().clamp_min(1.0);
    let losses: Vec<Tensor<1>> = forward
        .iter()
        .map(|p| p.sum.clone().div(denominator.clone()))
        .collect();
    let total = sum(losses.iter().map(|l| l.clone().detach()), at.device);
    let read: Vec<f32> = Tensor::cat(vec![total, n_finite], 0)
        .into_data()
        .try_to_vec()
        .unwrap_or_default();
    let (loss_value, n_finite) = match read[..] {
        [loss, n] => (loss, n),
        _ => (f32::NAN, 0.0),
    };
    stats.dropped_samples = (at.config.batch as f64 - f64::from(n_finite)).max(0.0) as u64;
    stats.loss_generator = if n_finite == 0.0 {
        f64::NAN
    } else {
        f64::from(loss_value)
    };
    losses
}

/// θ's update from the parts' losses, in two backward passes that give the same numbers as
/// one: to the generator's output as a leaf (`∂L/∂x_0`), then from there into θ through the
/// generator alone. Returns each part's `∂L/∂x_0` and the terms kept for the diagnostics.
fn generator_step<N: DistillNet>(
    nets: &mut Networks<N>,
    forward: Vec<GeneratorPart>,
    losses: Vec<Tensor<1>>,
    at: &Iteration,
    stats: &mut IterationStats,
) -> (Vec<Tensor<2>>, Vec<[Tensor<2>; 4]>) {
    let generator = &nets.generator;
    let mut accumulated = GradientsAccumulator::new();
    let mut grad_x0s = Vec::with_capacity(forward.len());
    let mut kept = Vec::with_capacity(forward.len());
    for (part, loss) in forward.into_iter().zip(losses) {
        let grad_x0 = part
            .x0_leaf
            .grad(&loss.backward())
            .unwrap_or_else(|| part.x0_leaf.zeros_like().inner());
        let grads = part.x0.mul(grad_x0.clone()).sum().backward();
        accumulated.accumulate(generator, GradientsParams::from_grads(grads, generator));
        grad_x0s.push(grad_x0);
        kept.extend(part.kept);
    }
    let mut grads = accumulated.grads();
    let (bad, norm) = sanitize_grads(generator, &mut grads);
    stats.sanitized_grads += bad;
    stats.grad_norm_generator = norm;
    nets.generator = nets
        .adam_generator
        .step(generator.clone(), &grads, at.config.lr_generator);
    (grad_x0s, kept)
}

/// The generator phase's diagnostics ([`probe`]) from the terms each part kept and its
/// `∂L/∂x_0`, with `rows` sample rows.
fn phase_diagnostics(
    config: &DistillConfig,
    kept: Vec<[Tensor<2>; 4]>,
    grad_x0s: Vec<Tensor<2>>,
    rows: usize,
) -> Diagnostics {
    let rows_of = |i: usize| Tensor::cat(kept.iter().map(|k| k[i].clone()).collect(), 0);
    let (sigma, x0, fake, teacher) = (rows_of(0), rows_of(1), rows_of(2), rows_of(3));
    let tensors = PhaseTensors {
        weight: sample_weight(config.weighting, &x0, &teacher),
        sigma,
        x0,
        fake,
        teacher,
        grad_x0: Tensor::cat(grad_x0s, 0),
    };
    probe(&config.objective, &config.distance, tensors, rows)
}

#[cfg(test)]
mod tests {
    use burn::module::Module;

    use super::*;
    use crate::nets::unet::{UNetConfig, UNetDenoiser};
    use crate::optim::params::{map_params, named_params};
    use crate::tensor::host;

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
            let streams = (Stream::Fake(0), Stream::FakeLabels(0));
            let draws = PhaseDraws::draw(
                seed,
                step,
                streams,
                6,
                64,
                3,
                config.t_star,
                config.fake_sigma,
            );
            let p = draws.part(&(0..6), &device);
            let y = draw_labels(seed, step, Stream::FakeLabels(0), 6, 3, &device);
            let x0 = generator0
                .denoise_labelled(p.z, p.t_star, y.clone().filter(|_| to_generator))
                .detach();
            let (x_t, sigma) = (x0.clone().add(p.eps.mul(p.sigma.clone())), p.sigma);
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
            let streams = (Stream::Generator, Stream::GeneratorLabels);
            let sigma_dist = config.generator_sigma;
            let draws = PhaseDraws::draw(seed, step, streams, 6, 64, 3, config.t_star, sigma_dist);
            let p = draws.part(&(0..6), &device);
            let y = draw_labels(seed, step, Stream::GeneratorLabels, 6, 3, &device);
            let pick = |i: usize| y.clone().filter(|_| to[i]);
            let x0 = generator0.denoise_labelled(p.z, p.t_star, pick(0));
            let (x_t, sigma) = (x0.clone().add(p.eps.mul(p.sigma.clone())), p.sigma);
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

    #[test]
    fn batch_parts_cover_the_batch_in_order() {
        assert_eq!(batch_parts(10, 3), [0..4, 4..7, 7..10]);
        assert_eq!(batch_parts(8, 1).len(), 1);
        assert_eq!(batch_parts(8, 1)[0], 0..8);
        assert_eq!(batch_parts(2, 5), [0..1, 1..2], "never an empty part");
    }

    /// A batch split into parts (micro-batches, as a data-parallel run splits it over devices)
    /// gives the update of the whole batch: after two iterations of batch 7 in 3 parts, both
    /// losses and every parameter of θ, ψ and the EMA agree with the unsplit run to 1e-5.
    #[test]
    fn micro_batches_give_the_whole_batch_update() {
        let device = Device::flex().autodiff();
        let teacher = tiny_conditional(&device).freeze();
        let run = |micro_batches: usize| {
            let mut nets = Networks::from_init(teacher.clone().set_require_grad(true), 0.999);
            let config = DistillConfig {
                batch: 7,
                micro_batches,
                ..DistillConfig::default()
            };
            let stats: Vec<IterationStats> = (0..2)
                .map(|step| iteration(&mut nets, &teacher, &config, 1, step, &device, None).0)
                .collect();
            let params = |net: &UNetDenoiser| -> Vec<f32> {
                named_params(net)
                    .into_values()
                    .flat_map(|t| host(t.values).expect("host"))
                    .collect()
            };
            let all = [&nets.generator, &nets.fake_denoiser, &nets.ema].map(params);
            (stats, all)
        };
        let (whole, whole_params) = run(1);
        let (split, split_params) = run(3);
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-5 * (1.0 + b.abs());
        for (w, s) in whole.iter().zip(&split) {
            assert!(
                close(s.loss_fake, w.loss_fake),
                "{} vs {}",
                s.loss_fake,
                w.loss_fake
            );
            assert!(close(s.loss_generator, w.loss_generator), "{s:?} vs {w:?}");
            assert!(
                close(s.grad_norm_generator, w.grad_norm_generator),
                "{s:?} vs {w:?}"
            );
        }
        for (w, s) in whole_params.iter().zip(&split_params) {
            let worst = w
                .iter()
                .zip(s)
                .map(|(a, b)| f64::from((a - b).abs()))
                .fold(0.0, f64::max);
            assert!(worst <= 1e-5, "max |Δ parameter| {worst:e}");
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
