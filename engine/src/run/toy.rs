//! The 2-D world of a run: MLPs θ and ψ, an exact mixture or trained MLP teacher, and exact
//! metrics against the mixture (or a Gaussian fit of the teacher's samples).

use burn::module::Module;
use burn::prelude::*;

use super::{Distillation, Distils, World, networks};
use crate::config::RunConfig;
use crate::data::toy::GaussianMixture;
use crate::diffusion::denoiser::Denoiser;
use crate::diffusion::sampler::{Integrator, sample};
use crate::distill::STUDENT_SAMPLES;
use crate::error::{EngineError, Result};
use crate::metrics::{Gaussian, Metrics, finite_samples, toy_metrics};
use crate::nets::mlp::MlpDenoiser;
use crate::protocol::{SampleView, ScoreField};
use crate::rng::{Stream, rng_for};
use crate::store::tensor_file::TensorFile;
use crate::teacher::fit::teacher_fit;
use crate::teacher::{NON_FINITE_SAMPLES, Teacher};
use crate::tensor::{host, seeded_noise};

/// Points shown in the samples panel per side.
const VIEW_POINTS: usize = 2000;

/// Stream label of the reference samples.
const REFERENCE_STREAM: u64 = 0x7e;

/// The networks of a toy run, its teacher and its reference.
#[derive(Debug)]
pub(super) struct ToyWorld {
    /// θ, ψ and their teacher: the exact mixture or a trained MLP (never an image teacher).
    distillation: Distillation<MlpDenoiser, Teacher>,
    /// The exact mixture when the teacher is exact (exact IS and mode coverage).
    mixture: Option<GaussianMixture>,
    /// Gaussian fit of the teacher's samples.
    reference: Gaussian,
}

impl ToyWorld {
    /// The networks (copies of an MLP teacher or of the fit to an exact one, or a checkpoint's
    /// when `from` is given) and the reference: the exact mixture, or a Gaussian fit of the
    /// teacher's Heun samples (`eval.teacher_steps` steps).
    pub(super) fn new(
        teacher: Teacher,
        config: &RunConfig,
        from: Option<&TensorFile>,
        cache_dir: Option<&std::path::Path>,
        device: &Device,
        progress: &mut dyn FnMut(&str, f32),
    ) -> Result<Self> {
        let data = config.data.toy().ok_or_else(|| {
            EngineError::Invalid(
                "a 2-D run needs toy data; image data needs a U-Net teacher".into(),
            )
        })?;
        let init = match (&teacher, from) {
            (Teacher::Exact(_), None) => teacher_fit(
                data,
                &config.net,
                &config.init,
                &teacher,
                cache_dir,
                device,
                progress,
            )?,
            _ => start_shape(config, &teacher, device),
        };
        let nets = networks(init, config, from, device)?;
        let mixture = match &teacher {
            Teacher::Exact(m) => Some(m.clone()),
            _ => None,
        };
        let n = config.eval.samples;
        let reference_samples = match &mixture {
            Some(m) => {
                let mut rng = rng_for(config.seed, 0, Stream::Other(REFERENCE_STREAM));
                m.sample(&mut rng, n).0
            }
            None => {
                // No input requires a gradient, so no graph is recorded.
                let stream = Stream::Other(REFERENCE_STREAM);
                let noise = seeded_noise(config.seed, stream, n, 2, 1.0, device);
                let steps = config.eval.teacher_steps;
                let samples = host(sample(&teacher, Integrator::Heun, steps, noise))?;
                let whose = format!("the teacher's samples ({steps} Heun steps)");
                finite_samples(&samples, 2, &whose, NON_FINITE_SAMPLES)
                    .map_err(|e| config.teacher.blame_samples(e.into()))?;
                samples
            }
        };
        let reference = Gaussian::fit(&reference_samples, 2)
            .map_err(|e| EngineError::Invalid(format!("teacher reference samples: {e}")))?;
        Ok(Self {
            distillation: Distillation {
                nets,
                teacher,
                probe_rows: 0,
            },
            mixture,
            reference,
        })
    }

    /// The EMA generator's samples `g(t*·u)` on the evaluation noise.
    fn student(&self, config: &RunConfig, device: &Device) -> Result<Vec<f32>> {
        let n = config.eval.samples;
        let t_star = config.distill.t_star;
        let z = seeded_noise(config.seed, Stream::Eval, n, 2, t_star, device);
        host(
            self.distillation
                .nets
                .ema
                .denoise(z, Tensor::full([n, 1], t_star, device)),
        )
    }

    /// Exact metrics of `samples`, the student's.
    fn judge(&self, samples: &[f32]) -> Result<Metrics> {
        let (whose, cause) = STUDENT_SAMPLES;
        finite_samples(samples, 2, whose, cause)?;
        toy_metrics(samples, &self.reference, self.mixture.as_ref())
            .map(Metrics::Toy)
            .map_err(|e| EngineError::Invalid(format!("evaluation: {e}")))
    }
}

/// What θ and ψ start from when no fit is needed: a copy of an MLP teacher (trainable), or,
/// for an exact teacher whose checkpoint overwrites every value, any network of the run's shape.
fn start_shape(config: &RunConfig, teacher: &Teacher, device: &Device) -> MlpDenoiser {
    match teacher {
        Teacher::Network(net) => net.clone().set_require_grad(true),
        _ => {
            let mut rng = rng_for(0, 0, Stream::Init);
            MlpDenoiser::new(&config.net, 2, teacher.sigma_data(), &mut rng, device)
        }
    }
}

impl World for ToyWorld {
    fn distillation(&self) -> &dyn Distils {
        &self.distillation
    }

    fn distillation_mut(&mut self) -> &mut dyn Distils {
        &mut self.distillation
    }

    fn score(&self, config: &RunConfig, device: &Device) -> Result<Metrics> {
        self.judge(&self.student(config, device)?)
    }

    fn evaluate(&self, config: &RunConfig, device: &Device) -> Result<(Metrics, SampleView)> {
        let student = self.student(config, device)?;
        let metrics = self.judge(&student)?;
        let k = VIEW_POINTS.min(config.eval.samples);
        let view = SampleView {
            dim: 2,
            student: student[..2 * k].to_vec(),
            ..SampleView::default()
        };
        Ok((metrics, view))
    }

    fn teacher_view(&self, config: &RunConfig, steps: usize, device: &Device) -> Result<Vec<f32>> {
        let k = VIEW_POINTS.min(config.eval.samples);
        let u = seeded_noise(config.seed, Stream::Eval, k, 2, 1.0, device);
        host(sample(
            &self.distillation.teacher,
            Integrator::Heun,
            steps,
            u,
        ))
    }

    fn score_teacher(&self, _: &RunConfig) -> Result<Option<Metrics>> {
        Ok(None)
    }

    fn modes(&self) -> Option<usize> {
        self.mixture.as_ref().map(GaussianMixture::modes)
    }

    fn score_field(
        &self,
        sigma: f64,
        grid: usize,
        extent: f64,
        device: &Device,
    ) -> Result<ScoreField> {
        let grid = grid.clamp(2, 64);
        let points: Vec<f32> = (0..grid * grid)
            .flat_map(|i| {
                let at = |j: usize| (-extent + 2.0 * extent * j as f64 / (grid - 1) as f64) as f32;
                [at(i % grid), at(i / grid)]
            })
            .collect();
        let n = grid * grid;
        let Distillation { nets, teacher, .. } = &self.distillation;
        let x = Tensor::<2>::from_data(TensorData::new(points.clone(), [n, 2]), device);
        let level = Tensor::<2>::full([n, 1], sigma, device);
        let score =
            |d: Tensor<2>| -> Result<Vec<f32>> { host(d.sub(x.clone()).div_scalar(sigma * sigma)) };
        Ok(ScoreField {
            sigma,
            teacher: score(teacher.denoise(x.clone(), level.clone()))?,
            fake: score(nets.fake_denoiser.denoise(x.clone(), level).detach())?,
            points,
        })
    }

    fn load(&mut self, file: &TensorFile, config: &RunConfig, device: &Device) -> Result<()> {
        let init = start_shape(config, &self.distillation.teacher, device);
        self.distillation.nets = networks(init, config, Some(file), device)?;
        Ok(())
    }
}
