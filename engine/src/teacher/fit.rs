//! Denoising regression of an MLP: trains toy teachers (target `x_0`) and the teacher-shaped
//! initialisation of θ and ψ (target `D_q(x_t; σ)`, lower variance, docs/algorithm.md §6),
//! which [`teacher_fit`] caches by its settings.

use std::path::Path;
use std::sync::{Mutex, PoisonError, TryLockError};

use burn::optim::GradientsParams;
use burn::prelude::*;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::Teacher;
use super::mlp_file::{load_network, save_network};
use crate::data::toy::ToyData;
use crate::diffusion::denoiser::Denoiser;
use crate::diffusion::edm::{SIGMA_MAX, SIGMA_MIN};
use crate::diffusion::loss::denoising_loss;
use crate::error::{EngineError, Result};
use crate::nets::mlp::{MlpConfig, MlpDenoiser};
use crate::optim::adam::Adam;
use crate::rng::{Stream, normal, rng_for};
use crate::store::fnv1a;
use sim_formats::limits;
use sim_formats::validation::{ValidationError, count, positive};

/// Fitting an MLP to the teacher by denoising regression; θ and ψ both start from it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InitConfig {
    /// Adam steps of the fit.
    pub iterations: u64,
    /// Batch size of the fit.
    pub batch: usize,
    /// Learning rate of the fit (cosine-decayed to zero).
    pub lr: f64,
    /// Reuse a cached fit with the same data, teacher, net and fit settings.
    pub cache: bool,
}

impl Default for InitConfig {
    fn default() -> Self {
        Self {
            iterations: 4000,
            batch: 1024,
            lr: 3e-3,
            cache: true,
        }
    }
}

impl InitConfig {
    /// Checks ranges; the key is relative to `[init]`.
    pub fn validate(&self) -> Result<(), ValidationError> {
        positive("lr", self.lr, "a learning rate such as 3e-3")?;
        limits::batch("batch", self.batch)?;
        Ok(())
    }
}

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

impl FitSettings {
    /// Checks ranges: at least one step, a batch within [`limits::batch`], a positive learning
    /// rate. Keys are the field names.
    pub fn validate(&self) -> Result<(), ValidationError> {
        count("iterations", self.iterations, 1, u64::MAX)?;
        limits::batch("batch", self.batch)?;
        positive("lr", self.lr, "a learning rate such as 2e-3")
    }
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

/// Held while a run of this process looks up, fits and saves a cached fit: the engines of a
/// race started on a cold cache would otherwise each fit the same network at once, sharing the
/// cores (four fits where one does); the first fits and saves, the others then load its file.
static CACHED_FIT: Mutex<()> = Mutex::new(());

/// The MLP fitted to an exact `teacher` of the toy `data` (the start of θ and ψ), from
/// `cache_dir` when an identical fit (data, net, init settings) was saved there before.
/// Fits with a cache wait for each other (`CACHED_FIT`). `progress(message, fraction)` reports
/// the fit.
pub fn teacher_fit(
    data: &ToyData,
    net: &MlpConfig,
    init: &InitConfig,
    teacher: &Teacher,
    cache_dir: Option<&Path>,
    device: &Device,
    progress: &mut dyn FnMut(&str, f32),
) -> Result<MlpDenoiser> {
    let key = format!(
        "v1\n{}\n{}\n{}",
        toml::to_string(data).unwrap_or_default(),
        toml::to_string(net).unwrap_or_default(),
        toml::to_string(init)
            .unwrap_or_default()
            .replace("cache = true", ""),
    );
    let cached = cache_dir.filter(|_| init.cache).map(|d| {
        d.join(format!(
            "teacher-fit-{:016x}.safetensors",
            fnv1a(key.as_bytes())
        ))
    });
    let _fitting = cached.as_ref().map(|_| match CACHED_FIT.try_lock() {
        Ok(guard) => guard,
        Err(TryLockError::Poisoned(p)) => p.into_inner(),
        Err(TryLockError::WouldBlock) => {
            progress("waiting for another run's teacher fit", 0.0);
            CACHED_FIT.lock().unwrap_or_else(PoisonError::into_inner)
        }
    });
    if let Some(path) = cached.as_ref().filter(|p| p.exists()) {
        match cached_fit(path, data, net, teacher.sigma_data(), device) {
            Ok(net) => {
                progress("teacher fit (cached)", 1.0);
                return Ok(net);
            }
            Err(why) => tracing::warn!(
                "{}: corrupt teacher-fit cache ({why}); discarded and refitted",
                path.display()
            ),
        }
    }
    let mut rng = rng_for(0, 0, Stream::Init);
    let start = MlpDenoiser::new(net, 2, teacher.sigma_data(), &mut rng, device);
    let total = init.iterations.max(1);
    let settings = FitSettings {
        iterations: init.iterations,
        batch: init.batch,
        lr: init.lr,
        seed: 0,
    };
    let fitted = fit_denoiser(
        start,
        data,
        Some(teacher),
        settings,
        device,
        &mut |step, _| {
            if step % 50 == 0 {
                progress("fitting θ and ψ to the teacher", step as f32 / total as f32);
            }
            true
        },
    );
    // A fit that diverged is an error; a cache that cannot be written (a folder in the way, a
    // full disk) only costs the next run a fit, as for the reference statistics.
    if let Some(path) = cached {
        match save_network(&path, &fitted, net, data) {
            Ok(()) => {}
            Err(e @ EngineError::NonFinite { .. }) => return Err(e),
            Err(e) => tracing::warn!("teacher fit not cached: {e}"),
        }
    }
    progress("teacher fit", 1.0);
    Ok(fitted)
}

/// The fit cached at `path`, checked as untrusted input: a readable MLP file
/// ([`load_network`] checks every field) of exactly these `data` and `net` settings and this
/// teacher's σ_d. The error says why it cannot be used.
fn cached_fit(
    path: &Path,
    data: &ToyData,
    net: &MlpConfig,
    sigma_data: f64,
    device: &Device,
) -> Result<MlpDenoiser, String> {
    let (fitted, fitted_net, fitted_data) =
        load_network(path, device).map_err(|e| e.to_string())?;
    if (&fitted_net, &fitted_data) != (net, data) {
        return Err(format!(
            "it holds a fit of {} with {fitted_net:?}, not of {} with {net:?}",
            fitted_data.label(),
            data.label()
        ));
    }
    if fitted.sigma_data() != sigma_data {
        return Err(format!(
            "its σ_d is {}, the teacher's {sigma_data}",
            fitted.sigma_data()
        ));
    }
    Ok(fitted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::host;

    /// A well-formed cache file of other settings under a fit's name is discarded and refitted,
    /// never used as that fit.
    #[test]
    fn a_cached_fit_of_other_settings_is_refitted() {
        let cache = tempfile::tempdir().expect("tempdir");
        let device = Device::flex().autodiff();
        let data = ToyData::default();
        let teacher = Teacher::Exact(data.mixture().expect("ring mixture"));
        let init = InitConfig {
            iterations: 3,
            batch: 16,
            ..InitConfig::default()
        };
        let files = || -> Vec<std::path::PathBuf> {
            let mut files: Vec<_> = std::fs::read_dir(cache.path())
                .expect("cache")
                .map(|e| e.expect("entry").path())
                .collect();
            files.sort();
            files
        };
        let fit = |net: &MlpConfig| {
            teacher_fit(
                &data,
                net,
                &init,
                &teacher,
                Some(cache.path()),
                &device,
                &mut |_, _| {},
            )
            .expect("fit")
        };
        let wide = MlpConfig::default();
        fit(&wide);
        let wide_file = files().remove(0);
        let narrow = MlpConfig {
            width: 8,
            ..MlpConfig::default()
        };
        fit(&narrow);
        let narrow_file = files()
            .into_iter()
            .find(|f| *f != wide_file)
            .expect("a second fit");
        std::fs::copy(&narrow_file, &wide_file).expect("copy");
        let sigma_data = teacher.sigma_data();
        let why = cached_fit(&wide_file, &data, &wide, sigma_data, &device).expect_err("narrow");
        assert!(why.contains("width: 8"), "{why}");
        fit(&wide);
        assert!(cached_fit(&wide_file, &data, &wide, sigma_data, &device).is_ok());
    }

    /// Two runs that start on a cold cache at the same moment fit once: the second waits for
    /// the first's file and loads it, the same network to the bit.
    #[test]
    fn runs_started_together_on_a_cold_cache_fit_once() {
        let cache = tempfile::tempdir().expect("tempdir");
        let data = ToyData::default();
        let teacher = Teacher::Exact(data.mixture().expect("ring mixture"));
        let net = MlpConfig::default();
        let init = InitConfig {
            iterations: 30,
            batch: 64,
            ..InitConfig::default()
        };
        let start = std::sync::Barrier::new(2);
        let fits: Vec<(Vec<String>, Vec<f32>)> = std::thread::scope(|s| {
            let run = || {
                let device = Device::flex().autodiff();
                let mut messages = Vec::new();
                start.wait();
                let fitted = teacher_fit(
                    &data,
                    &net,
                    &init,
                    &teacher,
                    Some(cache.path()),
                    &device,
                    &mut |message, _| messages.push(message.to_owned()),
                )
                .expect("fit");
                let x = Tensor::<2>::from_floats([[0.3, -0.7], [1.0, 0.2]], &device);
                let sigma = Tensor::<2>::from_floats([[0.5], [2.0]], &device);
                (messages, host(fitted.denoise(x, sigma)).expect("host"))
            };
            let handles = [s.spawn(run), s.spawn(run)];
            handles.map(|h| h.join().expect("fit thread")).into()
        });
        let loaded = |m: &[String]| m.iter().any(|m| m == "teacher fit (cached)");
        assert_eq!(
            fits.iter().filter(|(m, _)| loaded(m)).count(),
            1,
            "one fit, one load: {fits:?}"
        );
        assert_eq!(fits[0].1, fits[1].1);
    }
}
