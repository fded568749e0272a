//! Denoising regression of an MLP: trains toy teachers (target `x_0`) and the teacher-shaped
//! initialisation of θ and ψ (target `D_q(x_t; σ)`, lower variance, SIM_SPEC §6).

use burn::optim::GradientsParams;
use burn::prelude::*;
use rand::Rng;

use super::adam::Adam;
use crate::data::toy::ToyData;
use crate::diffusion::denoiser::Denoiser;
use crate::diffusion::edm::{SIGMA_MAX, SIGMA_MIN};
use crate::diffusion::loss::denoising_loss;
use crate::nets::mlp::MlpDenoiser;
use crate::rng::{Stream, normal, rng_for};

/// Settings of one fit.
#[derive(Clone, Copy, Debug)]
pub struct FitSettings {
    /// Adam steps.
    pub iterations: u64,
    /// Batch size.
    pub batch: usize,
    /// Peak learning rate (cosine decay to 0).
    pub lr: f64,
    /// Seed of the draws.
    pub seed: u64,
}

/// Trains `net` to denoise `data` at σ log-uniform on `[σ_min, σ_max]`, so it is accurate at
/// every noise level distillation visits. The regression target is `x_0`, or `target(x_t; σ)`
/// when an exact teacher is given. `progress(step, loss)` returning `false` stops early.
pub fn fit_denoiser(
    mut net: MlpDenoiser,
    data: &ToyData,
    target: Option<&dyn Denoiser>,
    settings: FitSettings,
    device: &Device,
    progress: &mut dyn FnMut(u64, f64) -> bool,
) -> MlpDenoiser {
    let mut adam = Adam::new(0.9, 0.999);
    let dim = data.dim();
    let b = settings.batch;
    let (ln_lo, ln_hi) = (SIGMA_MIN.ln(), SIGMA_MAX.ln());
    for step in 0..settings.iterations {
        let mut rng = rng_for(settings.seed, step, Stream::Init);
        let x0 =
            Tensor::<2>::from_data(TensorData::new(data.sample(&mut rng, b), [b, dim]), device);
        let sigmas: Vec<f32> = (0..b)
            .map(|_| rng.random_range(ln_lo..ln_hi).exp() as f32)
            .collect();
        let sigma = Tensor::<2>::from_data(TensorData::new(sigmas, [b, 1]), device);
        let eps = Tensor::<2>::from_data(
            TensorData::new(normal(&mut rng, b * dim, 1.0), [b, dim]),
            device,
        );
        let x_t = x0.clone().add(eps.mul(sigma.clone()));
        let goal = match target {
            Some(t) => t.denoise(x_t.clone(), sigma.clone()).detach(),
            None => x0,
        };
        let loss = denoising_loss(
            net.denoise(x_t, sigma.clone()),
            goal,
            sigma,
            net.sigma_data(),
        );
        let value = f64::from(loss.clone().into_scalar::<f32>());
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        let progress_frac = step as f64 / settings.iterations as f64;
        let lr = settings.lr * 0.5 * (1.0 + (std::f64::consts::PI * progress_frac).cos());
        net = adam.step(net, &grads, lr);
        if !progress(step, value) {
            break;
        }
    }
    net
}
