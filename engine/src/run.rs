//! A run: teacher, generator θ, fake denoiser ψ, their optimisers and EMA, the run folder —
//! everything a driver steps, evaluates, checkpoints and resumes.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::prelude::*;
use serde_json::json;

use crate::config::{RunConfig, TeacherConfig};
use crate::data::toy::GaussianMixture;
use crate::device::{BackendChoice, SelectedDevice, select};
use crate::diffusion::denoiser::Denoiser;
use crate::diffusion::sampler::{Integrator, sample};
use crate::distill::adam::Adam;
use crate::distill::fit::{FitSettings, fit_denoiser};
use crate::distill::iteration::{IterationStats, Networks, iteration};
use crate::error::{EngineError, Result};
use crate::metrics::{Gaussian, ToyMetrics, toy_metrics};
use crate::nets::mlp::MlpDenoiser;
use crate::protocol::{RunInfo, SampleView, ScoreField, Tweak};
use crate::rng::{Stream, normal, rng_for};
use crate::store::run_dir::RunDir;
use crate::store::snapshot::write_scatter_png;
use crate::store::tensor_file::TensorFile;
use crate::teacher::{Teacher, load_network, save_network};

/// Where a run keeps its files and what it runs on; not part of the experiment's config.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Parent of run folders; `None` writes nothing (tests, benchmarks).
    pub runs_dir: Option<PathBuf>,
    /// Cache of teacher fits; `None` fits every time.
    pub cache_dir: Option<PathBuf>,
    /// Backend.
    pub backend: BackendChoice,
}

/// A loaded run.
pub struct Run {
    config: RunConfig,
    device: Device,
    backend: String,
    teacher: Teacher,
    nets: Networks,
    step: u64,
    mixture: Option<GaussianMixture>,
    reference: Gaussian,
    dir: Option<RunDir>,
    wall_offset_s: f64,
    started: Instant,
    /// Heun steps of the teacher samples in the view, and those samples once computed.
    view_steps: usize,
    teacher_view: Option<Vec<f32>>,
    /// The latest evaluation, so the final one is not logged twice.
    last_eval: Option<(u64, ToyMetrics, SampleView)>,
}

/// Points shown in the samples panel per side.
const VIEW_POINTS: usize = 2000;

impl Run {
    /// Builds a fresh run: teacher, teacher-shaped θ and ψ (SIM_SPEC §6), reference samples.
    /// `progress(message, fraction)` reports the initial fit.
    pub fn start(
        config: RunConfig,
        options: &RunOptions,
        progress: &mut dyn FnMut(&str, f32),
    ) -> Result<Self> {
        config.validate().map_err(|(key, message)| {
            EngineError::Config(crate::error::ConfigError::Field {
                origin: "config".into(),
                key: key.into(),
                message,
            })
        })?;
        let (selected, teacher) = prepare(&config, options)?;
        let device = selected.device.clone();
        let init = match &teacher {
            // Every network starts as a copy of the teacher (trainable; the teacher stays frozen).
            Teacher::Network(net) => net.clone().set_require_grad(true),
            Teacher::Exact(_) => teacher_fit(&config, &teacher, options, &device, progress)?,
        };
        let nets = Networks {
            generator: init.clone(),
            fake_denoiser: init.clone(),
            ema: init.valid(),
            adam_generator: Adam::new(0.0, config.distill.adam_beta2),
            adam_fake: Adam::new(0.0, config.distill.adam_beta2),
        };
        let dir = match &options.runs_dir {
            Some(root) => Some(RunDir::create(root, &config)?),
            None => None,
        };
        Self::assemble(config, selected, teacher, nets, 0, dir, 0.0)
    }

    /// Continues a run from the newest checkpoint in its folder, bit for bit on the CPU backend.
    pub fn resume(folder: &Path, options: &RunOptions) -> Result<Self> {
        let dir = RunDir::open(folder)?;
        let config = RunConfig::load(&dir.config_path(), &[])?;
        let (step, path) = dir.latest_checkpoint().ok_or_else(|| EngineError::File {
            path: folder.to_owned(),
            message: "no checkpoint to resume from in checkpoints/".into(),
        })?;
        let (selected, teacher) = prepare(&config, options)?;
        let file = TensorFile::read(&path)?;
        let nets = restore_networks(&file, &config, &teacher, &selected.device)?;
        let wall: f64 = file.meta("wall_s")?.parse().unwrap_or(0.0);
        dir.truncate_metrics_after(step)?;
        Self::assemble(config, selected, teacher, nets, step, Some(dir), wall)
    }

    fn assemble(
        config: RunConfig,
        selected: SelectedDevice,
        teacher: Teacher,
        nets: Networks,
        step: u64,
        dir: Option<RunDir>,
        wall_offset_s: f64,
    ) -> Result<Self> {
        let SelectedDevice {
            device,
            description: backend,
        } = selected;
        let mixture = config
            .data
            .mixture()
            .filter(|_| config.teacher == TeacherConfig::Exact);
        let n = config.eval.samples;
        let reference_samples = match &mixture {
            Some(m) => {
                m.sample(&mut rng_for(config.seed, 0, Stream::Other(0x7e)), n)
                    .0
            }
            None => {
                // No input requires a gradient, so no graph is recorded.
                let noise = noise_tensor(config.seed, Stream::Other(0x7e), n, 2, 1.0, &device);
                host(sample(
                    &teacher,
                    Integrator::Heun,
                    config.eval.teacher_steps,
                    noise,
                ))?
            }
        };
        let reference = Gaussian::fit(&reference_samples, 2)
            .map_err(|e| EngineError::Invalid(format!("teacher reference samples: {e}")))?;
        Ok(Self {
            mixture,
            reference,
            config,
            device,
            backend,
            teacher,
            nets,
            step,
            dir,
            wall_offset_s,
            started: Instant::now(),
            view_steps: 18,
            teacher_view: None,
            last_eval: None,
        })
    }

    /// The run's config (with every tweak applied so far).
    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    /// Iterations done.
    pub fn step_index(&self) -> u64 {
        self.step
    }

    /// Training wall-clock seconds, including time before a resume.
    pub fn wall_s(&self) -> f64 {
        self.wall_offset_s + self.started.elapsed().as_secs_f64()
    }

    /// The run folder, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(RunDir::path)
    }

    /// Facts for `Event::Ready`.
    pub fn info(&self) -> RunInfo {
        RunInfo {
            config: self.config.clone(),
            backend: self.backend.clone(),
            dir: self.dir().map(Path::to_owned),
            step: self.step,
            modes: self.mixture.as_ref().map(GaussianMixture::modes),
        }
    }

    /// Runs one iteration and logs it to `metrics.jsonl`.
    pub fn step(&mut self) -> Result<IterationStats> {
        let stats = iteration(
            &mut self.nets,
            &self.teacher,
            &self.config.distill,
            self.config.seed,
            self.step,
            &self.device,
        );
        self.step += 1;
        if let Some(dir) = &self.dir {
            let mut line = serde_json::to_value(&stats).unwrap_or_default();
            line["step"] = json!(self.step);
            line["wall_s"] = json!(self.wall_s());
            dir.append_metrics(&line)?;
        }
        Ok(stats)
    }

    /// Evaluates the EMA generator on `eval.samples` seeded latents (the same every time), and
    /// returns the view: student `g(t*·u)` next to the teacher's Heun samples from `σ_max·u`,
    /// the same unit noise `u`.
    pub fn evaluate(&mut self) -> Result<(ToyMetrics, SampleView)> {
        let n = self.config.eval.samples;
        let t_star = self.config.distill.t_star;
        let inner = self.device.clone().inner();
        let z = noise_tensor(self.config.seed, Stream::Eval, n, 2, t_star, &inner);
        let samples = host(
            self.nets
                .ema
                .denoise(z, Tensor::full([n, 1], t_star, &inner)),
        )?;
        let metrics = toy_metrics(&samples, &self.reference, self.mixture.as_ref())
            .map_err(|e| EngineError::Invalid(format!("evaluation at step {}: {e}", self.step)))?;
        if let Some(dir) = &self.dir {
            let mut line = serde_json::to_value(&metrics).unwrap_or_default();
            line["step"] = json!(self.step);
            line["wall_s"] = json!(self.wall_s());
            line["event"] = json!("eval");
            dir.append_metrics(&line)?;
        }
        let k = VIEW_POINTS.min(n);
        let teacher = self.teacher_view()?;
        let view = SampleView {
            step: self.step,
            dim: 2,
            student: samples[..2 * k].to_vec(),
            teacher,
            teacher_steps: self.view_steps,
            teacher_nfe: Integrator::Heun.nfe(self.view_steps),
        };
        self.last_eval = Some((self.step, metrics.clone(), view.clone()));
        Ok((metrics, view))
    }

    /// The evaluation at the current step, reusing one made there already.
    pub fn evaluate_once(&mut self) -> Result<(ToyMetrics, SampleView)> {
        if let Some((step, metrics, view)) = &self.last_eval
            && *step == self.step
        {
            return Ok((metrics.clone(), view.clone()));
        }
        self.evaluate()
    }

    /// Teacher samples of the view: Heun with `view_steps` steps from the student's unit noise.
    fn teacher_view(&mut self) -> Result<Vec<f32>> {
        if let Some(view) = &self.teacher_view {
            return Ok(view.clone());
        }
        let k = VIEW_POINTS.min(self.config.eval.samples);
        let u = noise_tensor(self.config.seed, Stream::Eval, k, 2, 1.0, &self.device);
        let view = host(sample(&self.teacher, Integrator::Heun, self.view_steps, u))?;
        self.teacher_view = Some(view.clone());
        Ok(view)
    }

    /// Sets the teacher's Heun steps in the view (recomputed at the next evaluation).
    pub fn set_view_steps(&mut self, steps: usize) {
        let steps = steps.clamp(1, 256);
        if steps != self.view_steps {
            self.view_steps = steps;
            self.teacher_view = None;
        }
    }

    /// Teacher and fake-denoiser scores `(D − x)/σ²` (B.3) on a `grid × grid` lattice over
    /// `[−extent, extent]²`.
    pub fn score_field(&self, sigma: f64, grid: usize, extent: f64) -> Result<ScoreField> {
        let grid = grid.clamp(2, 64);
        let points: Vec<f32> = (0..grid * grid)
            .flat_map(|i| {
                let at = |j: usize| (-extent + 2.0 * extent * j as f64 / (grid - 1) as f64) as f32;
                [at(i % grid), at(i / grid)]
            })
            .collect();
        let n = grid * grid;
        let x = Tensor::<2>::from_data(TensorData::new(points.clone(), [n, 2]), &self.device);
        let level = Tensor::<2>::full([n, 1], sigma, &self.device);
        let score =
            |d: Tensor<2>| -> Result<Vec<f32>> { host(d.sub(x.clone()).div_scalar(sigma * sigma)) };
        Ok(ScoreField {
            sigma,
            teacher: score(self.teacher.denoise(x.clone(), level.clone()))?,
            fake: score(self.nets.fake_denoiser.denoise(x.clone(), level).detach())?,
            points,
        })
    }

    /// Writes a sample snapshot PNG (teacher grey, student blue) into the run folder.
    pub fn snapshot(&self, view: &SampleView) -> Result<Option<PathBuf>> {
        let Some(dir) = &self.dir else {
            return Ok(None);
        };
        let path = dir.sample_path(self.step);
        write_scatter_png(&path, &view.teacher, &view.student)?;
        Ok(Some(path))
    }

    /// Applies a live tweak; logged to `metrics.jsonl` with the step it takes effect at.
    pub fn apply(&mut self, tweak: &Tweak) -> std::result::Result<(), String> {
        tweak.apply(&mut self.config.distill)?;
        if let Some(dir) = &self.dir {
            let line = json!({ "step": self.step, "event": "tweak", "tweak": tweak, "label": tweak.label() });
            dir.append_metrics(&line).map_err(|e| e.to_string())?;
            // Keep config.toml the resolved config of the run as it now stands.
            crate::store::atomic::write_atomic(
                &dir.config_path(),
                self.config.to_toml().as_bytes(),
            )
            .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Writes a checkpoint of the whole state (θ, ψ, EMA, both Adams, step, wall time).
    pub fn checkpoint(&self) -> Result<Option<PathBuf>> {
        let Some(dir) = &self.dir else {
            return Ok(None);
        };
        let mut file = TensorFile::new();
        file.insert_module("generator.", &self.nets.generator)?;
        file.insert_module("fake_denoiser.", &self.nets.fake_denoiser)?;
        file.insert_module("ema.", &self.nets.ema)?;
        file.insert_adam("adam_generator.", &self.nets.adam_generator)?;
        file.insert_adam("adam_fake.", &self.nets.adam_fake)?;
        file.metadata.insert("step".into(), self.step.to_string());
        file.metadata
            .insert("wall_s".into(), self.wall_s().to_string());
        file.metadata
            .insert("format".into(), "sim-workbench checkpoint v1".into());
        let path = dir.checkpoint_path(self.step);
        file.write(&path)?;
        Ok(Some(path))
    }

    /// Replaces the state by a checkpoint's (roll-back after divergence).
    pub fn restore(&mut self, path: &Path) -> Result<()> {
        let file = TensorFile::read(path)?;
        self.nets = restore_networks(&file, &self.config, &self.teacher, &self.device)?;
        self.step = file.meta("step")?.parse().map_err(|e| EngineError::File {
            path: path.to_owned(),
            message: format!("metadata `step`: {e}"),
        })?;
        if let Some(dir) = &self.dir {
            dir.truncate_metrics_after(self.step)?;
        }
        Ok(())
    }
}

/// What `start` and `resume` both build first: the device, and the teacher on it.
fn prepare(config: &RunConfig, options: &RunOptions) -> Result<(SelectedDevice, Teacher)> {
    let selected = select(options.backend)?;
    let teacher = Teacher::load(&config.teacher, &config.data, &selected.device)?;
    Ok((selected, teacher))
}

/// Rebuilds θ, ψ, the EMA and both Adams from a checkpoint.
fn restore_networks(
    file: &TensorFile,
    config: &RunConfig,
    teacher: &Teacher,
    device: &Device,
) -> Result<Networks> {
    let blank = || match teacher {
        Teacher::Network(net) => net.clone().set_require_grad(true),
        Teacher::Exact(m) => {
            let mut rng = rng_for(0, 0, Stream::Init);
            MlpDenoiser::new(&config.net, 2, m.sigma_data(), &mut rng, device)
        }
    };
    let mut adam_generator = Adam::new(0.0, config.distill.adam_beta2);
    let mut adam_fake = Adam::new(0.0, config.distill.adam_beta2);
    file.load_adam("adam_generator.", &mut adam_generator, device)?;
    file.load_adam("adam_fake.", &mut adam_fake, device)?;
    Ok(Networks {
        generator: file.load_module("generator.", blank(), device)?,
        fake_denoiser: file.load_module("fake_denoiser.", blank(), device)?,
        ema: file.load_module("ema.", blank().valid(), &device.clone().inner())?,
        adam_generator,
        adam_fake,
    })
}

/// The MLP fitted to an exact teacher, from the cache when an identical fit exists.
fn teacher_fit(
    config: &RunConfig,
    teacher: &Teacher,
    options: &RunOptions,
    device: &Device,
    progress: &mut dyn FnMut(&str, f32),
) -> Result<MlpDenoiser> {
    let key = format!(
        "v1\n{}\n{}\n{}",
        toml::to_string(&config.data).unwrap_or_default(),
        toml::to_string(&config.net).unwrap_or_default(),
        toml::to_string(&config.init)
            .unwrap_or_default()
            .replace("cache = true", ""),
    );
    let cached = options
        .cache_dir
        .as_ref()
        .filter(|_| config.init.cache)
        .map(|d| {
            d.join(format!(
                "teacher-fit-{:016x}.safetensors",
                fnv1a(key.as_bytes())
            ))
        });
    if let Some(path) = cached.as_ref().filter(|p| p.is_file())
        && let Ok((net, _, _)) = load_network(path, device)
    {
        progress("teacher fit (cached)", 1.0);
        return Ok(net);
    }
    let mut rng = rng_for(0, 0, Stream::Init);
    let net = MlpDenoiser::new(&config.net, 2, teacher.sigma_data(), &mut rng, device);
    let total = config.init.iterations.max(1);
    let settings = FitSettings {
        iterations: config.init.iterations,
        batch: config.init.batch,
        lr: config.init.lr,
        seed: 0,
    };
    let net = fit_denoiser(
        net,
        &config.data,
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
    if let Some(path) = cached {
        save_network(&path, &net, &config.net, &config.data)?;
    }
    progress("teacher fit", 1.0);
    Ok(net)
}

/// FNV-1a, a stable hash for cache keys.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Seeded `N(0, std²)` noise of shape `[n, dim]`.
fn noise_tensor(
    seed: u64,
    stream: Stream,
    n: usize,
    dim: usize,
    std: f64,
    device: &Device,
) -> Tensor<2> {
    let mut rng = rng_for(seed, 0, stream);
    Tensor::from_data(
        TensorData::new(normal(&mut rng, n * dim, std), [n, dim]),
        device,
    )
}

fn host(t: Tensor<2>) -> Result<Vec<f32>> {
    t.try_into_vec_as::<f32>()
        .map_err(|e| EngineError::Device(format!("{e:?}")))
}
