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
use crate::distill::net::DistillNet;
use crate::error::{EngineError, Result};
use crate::image_run::{ImageWorld, VIEW_COLUMNS, write_view_png};
use crate::metrics::{Gaussian, Metrics, ToyMetrics, toy_metrics};
use crate::nets::mlp::MlpDenoiser;
use crate::protocol::{RunInfo, SampleView, ScoreField, Tweak};
use crate::rng::{Stream, normal, rng_for};
use crate::store::fnv1a;
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
    world: World,
    step: u64,
    dir: Option<RunDir>,
    wall_offset_s: f64,
    started: Instant,
    /// Heun steps of the teacher samples in the view, and those samples once computed.
    view_steps: usize,
    teacher_view: Option<Vec<f32>>,
    /// The teacher's own scores (image runs with `eval.teacher_metrics`).
    teacher_metrics: Option<Metrics>,
    /// The latest evaluation, so the final one is not logged twice.
    last_eval: Option<(u64, Metrics, SampleView)>,
}

/// The networks of a run and what their samples are judged against: 2-D MLPs, or image U-Nets.
#[derive(Debug)]
enum World {
    /// A 2-D toy run.
    Toy(Box<ToyWorld>),
    /// An image run.
    Image(Box<ImageWorld>),
}

/// The networks of a toy run and its reference.
#[derive(Debug)]
struct ToyWorld {
    nets: Networks<MlpDenoiser>,
    /// The exact mixture when the teacher is exact (exact IS and mode coverage).
    mixture: Option<GaussianMixture>,
    /// Gaussian fit of the teacher's samples.
    reference: Gaussian,
}

/// Points shown in the samples panel per side.
const VIEW_POINTS: usize = 2000;

impl Run {
    /// Builds a fresh run: teacher, teacher-shaped θ and ψ (SIM_SPEC §2, §6), reference.
    /// `progress(message, fraction)` reports the initial fit (toy) or the teacher's scoring.
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
        let beta2 = config.distill.adam_beta2;
        let world = match &teacher {
            // Every network starts as a copy of the teacher (trainable; the teacher stays
            // frozen, and an image teacher's dropout stays off, so runs are reproducible).
            Teacher::Image(t) => World::Image(Box::new(ImageWorld::new(
                Networks::from_init(t.net.clone().set_require_grad(true), beta2),
                t,
                &config,
                options.cache_dir.as_deref(),
                &device.clone().inner(),
            )?)),
            Teacher::Network(net) => World::Toy(Box::new(ToyWorld::new(
                Networks::from_init(net.clone().set_require_grad(true), beta2),
                &config,
                &teacher,
                &device,
            )?)),
            Teacher::Exact(_) => {
                let init = teacher_fit(&config, &teacher, options, &device, progress)?;
                World::Toy(Box::new(ToyWorld::new(
                    Networks::from_init(init, beta2),
                    &config,
                    &teacher,
                    &device,
                )?))
            }
        };
        let dir = match &options.runs_dir {
            Some(root) => Some(RunDir::create(root, &config)?),
            None => None,
        };
        let mut run = Self::assemble(config, selected, teacher, world, 0, dir, 0.0);
        if run.config.eval.teacher_metrics {
            progress("scoring the teacher", 0.0);
            run.score_teacher()?;
            progress("scoring the teacher", 1.0);
            // Training wall time starts now, not before the teacher's multi-step sampling.
            run.started = Instant::now();
        }
        Ok(run)
    }

    /// Continues a run from the newest checkpoint in its folder, bit for bit on the CPU backend.
    pub fn resume(folder: &Path, options: &RunOptions) -> Result<Self> {
        let dir = RunDir::open(folder)?;
        let mut run = Self::load_checkpoint(&dir, None, &[], options)?;
        dir.truncate_metrics_after(run.step)?;
        run.dir = Some(dir);
        Ok(run)
    }

    /// Loads the checkpoint of `step` (`None`: the newest) of the run in `folder`, its config
    /// with `overrides` (`eval.samples=5000`), and writes nothing to the folder: a finished or
    /// running student to score (`sim-workbench eval --run`).
    pub fn open(
        folder: &Path,
        step: Option<u64>,
        overrides: &[String],
        options: &RunOptions,
    ) -> Result<Self> {
        Self::load_checkpoint(&RunDir::open(folder)?, step, overrides, options)
    }

    /// The run of `dir` at the checkpoint of `step` (`None`: the newest), without a run folder.
    fn load_checkpoint(
        dir: &RunDir,
        step: Option<u64>,
        overrides: &[String],
        options: &RunOptions,
    ) -> Result<Self> {
        let config = RunConfig::load(&dir.config_path(), overrides)?;
        let (step, path) = match step {
            Some(step) => {
                let path = dir.checkpoint_path(step);
                if !path.is_file() {
                    return Err(EngineError::File {
                        path,
                        message: format!(
                            "no checkpoint of step {step}; the newest is {}",
                            dir.latest_checkpoint()
                                .map_or("none".into(), |(s, _)| format!("step {s}"))
                        ),
                    });
                }
                (step, path)
            }
            None => dir.latest_checkpoint().ok_or_else(|| EngineError::File {
                path: dir.path().to_owned(),
                message: "no checkpoint in checkpoints/".into(),
            })?,
        };
        let (selected, teacher) = prepare(&config, options)?;
        let file = TensorFile::read(&path)?;
        let world = restore_world(
            &file,
            &config,
            &teacher,
            &selected.device,
            options.cache_dir.as_deref(),
        )?;
        let wall: f64 = file.meta("wall_s")?.parse().unwrap_or(0.0);
        Ok(Self::assemble(
            config, selected, teacher, world, step, None, wall,
        ))
    }

    fn assemble(
        config: RunConfig,
        selected: SelectedDevice,
        teacher: Teacher,
        world: World,
        step: u64,
        dir: Option<RunDir>,
        wall_offset_s: f64,
    ) -> Self {
        let SelectedDevice {
            device,
            description: backend,
        } = selected;
        Self {
            config,
            device,
            backend,
            teacher,
            world,
            step,
            dir,
            wall_offset_s,
            started: Instant::now(),
            view_steps: 18,
            teacher_view: None,
            teacher_metrics: None,
            last_eval: None,
        }
    }

    /// Scores the teacher (image runs): Heun with `eval.teacher_steps` steps on the student's
    /// evaluation noise and labels, logged as `event: "teacher_eval"`. Toy runs have no
    /// teacher score beyond their reference.
    fn score_teacher(&mut self) -> Result<()> {
        let (World::Image(world), Teacher::Image(teacher)) = (&self.world, &self.teacher) else {
            return Ok(());
        };
        let metrics = Metrics::Image(world.evaluate_teacher(teacher, &self.config)?);
        if let Some(dir) = &self.dir {
            let mut line = serde_json::to_value(&metrics).unwrap_or_default();
            line["step"] = json!(self.step);
            line["event"] = json!("teacher_eval");
            line["teacher_steps"] = json!(self.config.eval.teacher_steps);
            line["nfe"] = json!(Integrator::Heun.nfe(self.config.eval.teacher_steps));
            dir.append_metrics(&line)?;
        }
        self.teacher_metrics = Some(metrics);
        Ok(())
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
        let modes = match &self.world {
            World::Toy(toy) => toy.mixture.as_ref().map(GaussianMixture::modes),
            World::Image(_) => None,
        };
        RunInfo {
            config: self.config.clone(),
            backend: self.backend.clone(),
            dir: self.dir().map(Path::to_owned),
            step: self.step,
            modes,
            teacher_metrics: self.teacher_metrics.clone(),
        }
    }

    /// Runs one iteration and logs it to `metrics.jsonl`.
    pub fn step(&mut self) -> Result<IterationStats> {
        let (config, seed, step) = (&self.config.distill, self.config.seed, self.step);
        let stats = match &mut self.world {
            World::Toy(toy) => iteration(
                &mut toy.nets,
                &self.teacher,
                config,
                seed,
                step,
                &self.device,
            ),
            World::Image(image) => iteration(
                &mut image.nets,
                &self.teacher,
                config,
                seed,
                step,
                &self.device,
            ),
        };
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
    /// returns the view: student `g(t*·u, y)` next to the teacher's Heun samples from `σ_max·u`
    /// with the same unit noise `u` and labels `y`.
    pub fn evaluate(&mut self) -> Result<(Metrics, SampleView)> {
        let inner = self.device.clone().inner();
        let (metrics, view) = match &self.world {
            World::Toy(toy) => {
                let (metrics, student) = toy.evaluate(&self.config, self.step, &inner)?;
                let k = VIEW_POINTS.min(self.config.eval.samples);
                let view = SampleView {
                    step: self.step,
                    dim: 2,
                    student: student[..2 * k].to_vec(),
                    teacher: Vec::new(),
                    teacher_steps: self.view_steps,
                    teacher_nfe: Integrator::Heun.nfe(self.view_steps),
                    image_shape: None,
                    labels: None,
                    columns: 0,
                };
                (Metrics::Toy(metrics), view)
            }
            World::Image(image) => {
                let metrics = image.evaluate(&self.config, &inner)?;
                let view = SampleView {
                    step: self.step,
                    dim: image.shape().iter().product(),
                    student: image.student_view(&self.config, &inner)?,
                    teacher: Vec::new(),
                    teacher_steps: self.view_steps,
                    teacher_nfe: Integrator::Heun.nfe(self.view_steps),
                    image_shape: Some(image.shape()),
                    labels: image.view_labels(),
                    columns: VIEW_COLUMNS,
                };
                (Metrics::Image(metrics), view)
            }
        };
        let view = SampleView {
            teacher: self.teacher_view()?,
            ..view
        };
        if let Some(dir) = &self.dir {
            let mut line = serde_json::to_value(&metrics).unwrap_or_default();
            line["step"] = json!(self.step);
            line["wall_s"] = json!(self.wall_s());
            line["event"] = json!("eval");
            dir.append_metrics(&line)?;
        }
        self.last_eval = Some((self.step, metrics.clone(), view.clone()));
        Ok((metrics, view))
    }

    /// The EMA generator's scores on `eval.samples` seeded latents (those of [`Run::evaluate`]),
    /// without a view and without a line in the run folder.
    pub fn score(&self) -> Result<Metrics> {
        let inner = self.device.clone().inner();
        Ok(match &self.world {
            World::Toy(toy) => Metrics::Toy(toy.evaluate(&self.config, self.step, &inner)?.0),
            World::Image(image) => Metrics::Image(image.evaluate(&self.config, &inner)?),
        })
    }

    /// The evaluation at the current step, reusing one made there already.
    pub fn evaluate_once(&mut self) -> Result<(Metrics, SampleView)> {
        if let Some((step, metrics, view)) = &self.last_eval
            && *step == self.step
        {
            return Ok((metrics.clone(), view.clone()));
        }
        self.evaluate()
    }

    /// Teacher samples of the view: Heun with `view_steps` steps from the student's unit noise
    /// (and labels).
    fn teacher_view(&mut self) -> Result<Vec<f32>> {
        if let Some(view) = &self.teacher_view {
            return Ok(view.clone());
        }
        let view = match (&self.world, &self.teacher) {
            (World::Image(world), Teacher::Image(teacher)) => {
                world.teacher_view(teacher, self.config.seed, self.view_steps)?
            }
            _ => {
                let k = VIEW_POINTS.min(self.config.eval.samples);
                let u = noise_tensor(self.config.seed, Stream::Eval, k, 2, 1.0, &self.device);
                host(sample(&self.teacher, Integrator::Heun, self.view_steps, u))?
            }
        };
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
    /// `[−extent, extent]²` (2-D runs only).
    pub fn score_field(&self, sigma: f64, grid: usize, extent: f64) -> Result<ScoreField> {
        let World::Toy(toy) = &self.world else {
            return Err(EngineError::Invalid(
                "the score field is drawn for 2-D runs only; this run distils images".into(),
            ));
        };
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
            fake: score(toy.nets.fake_denoiser.denoise(x.clone(), level).detach())?,
            points,
        })
    }

    /// Writes a sample snapshot PNG into the run folder: teacher grey and student blue points
    /// (2-D), or teacher | student image grids on the same noise and labels.
    pub fn snapshot(&self, view: &SampleView) -> Result<Option<PathBuf>> {
        let Some(dir) = &self.dir else {
            return Ok(None);
        };
        let path = dir.sample_path(self.step);
        match view.image_shape {
            Some(shape) => {
                write_view_png(&path, &view.teacher, &view.student, shape, view.columns)?
            }
            None => write_scatter_png(&path, &view.teacher, &view.student)?,
        }
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
        match &self.world {
            World::Toy(toy) => insert_networks(&mut file, &toy.nets)?,
            World::Image(image) => insert_networks(&mut file, &image.nets)?,
        }
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
        let (config, device) = (&self.config, &self.device);
        match (&mut self.world, &self.teacher) {
            (World::Image(image), Teacher::Image(t)) => {
                let blank = t.net.clone().set_require_grad(true);
                image.nets = restore_networks(&file, config, blank, device)?;
            }
            (World::Toy(toy), teacher) => {
                let blank = toy_blank(config, teacher, device);
                toy.nets = restore_networks(&file, config, blank, device)?;
            }
            (World::Image(_), _) => {
                return Err(EngineError::Invalid(
                    "an image run needs an image teacher".into(),
                ));
            }
        }
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

impl ToyWorld {
    /// The networks of a toy run and its reference: the exact mixture, or a Gaussian fit of
    /// the teacher's Heun samples (`eval.teacher_steps` steps).
    fn new(
        nets: Networks<MlpDenoiser>,
        config: &RunConfig,
        teacher: &Teacher,
        device: &Device,
    ) -> Result<Self> {
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
                let noise = noise_tensor(config.seed, Stream::Other(0x7e), n, 2, 1.0, device);
                host(sample(
                    teacher,
                    Integrator::Heun,
                    config.eval.teacher_steps,
                    noise,
                ))?
            }
        };
        let reference = Gaussian::fit(&reference_samples, 2)
            .map_err(|e| EngineError::Invalid(format!("teacher reference samples: {e}")))?;
        Ok(Self {
            nets,
            mixture,
            reference,
        })
    }

    /// Metrics of the EMA generator's samples `g(t*·u)` and the samples themselves.
    fn evaluate(
        &self,
        config: &RunConfig,
        step: u64,
        inner: &Device,
    ) -> Result<(ToyMetrics, Vec<f32>)> {
        let n = config.eval.samples;
        let t_star = config.distill.t_star;
        let z = noise_tensor(config.seed, Stream::Eval, n, 2, t_star, inner);
        let samples = host(
            self.nets
                .ema
                .denoise(z, Tensor::full([n, 1], t_star, inner)),
        )?;
        let metrics = toy_metrics(&samples, &self.reference, self.mixture.as_ref())
            .map_err(|e| EngineError::Invalid(format!("evaluation at step {step}: {e}")))?;
        Ok((metrics, samples))
    }
}

/// What `start` and `resume` both build first: the device, and the teacher on it.
fn prepare(config: &RunConfig, options: &RunOptions) -> Result<(SelectedDevice, Teacher)> {
    let selected = select(options.backend)?;
    let teacher = Teacher::load(&config.teacher, &config.data, &selected.device)?;
    Ok((selected, teacher))
}

/// A network of the toy run's shape (values to be overwritten by a checkpoint).
fn toy_blank(config: &RunConfig, teacher: &Teacher, device: &Device) -> MlpDenoiser {
    match teacher {
        Teacher::Network(net) => net.clone().set_require_grad(true),
        _ => {
            let mut rng = rng_for(0, 0, Stream::Init);
            MlpDenoiser::new(&config.net, 2, teacher.sigma_data(), &mut rng, device)
        }
    }
}

/// Rebuilds a run's networks from a checkpoint.
fn restore_world(
    file: &TensorFile,
    config: &RunConfig,
    teacher: &Teacher,
    device: &Device,
    cache_dir: Option<&Path>,
) -> Result<World> {
    Ok(match teacher {
        Teacher::Image(t) => {
            let blank = t.net.clone().set_require_grad(true);
            let nets = restore_networks(file, config, blank, device)?;
            let inner = device.clone().inner();
            World::Image(Box::new(ImageWorld::new(
                nets, t, config, cache_dir, &inner,
            )?))
        }
        _ => {
            let nets = restore_networks(file, config, toy_blank(config, teacher, device), device)?;
            World::Toy(Box::new(ToyWorld::new(nets, config, teacher, device)?))
        }
    })
}

/// Adds θ, ψ, the EMA and both Adams to a checkpoint.
fn insert_networks<N: DistillNet>(file: &mut TensorFile, nets: &Networks<N>) -> Result<()> {
    file.insert_module("generator.", &nets.generator)?;
    file.insert_module("fake_denoiser.", &nets.fake_denoiser)?;
    file.insert_module("ema.", &nets.ema)?;
    file.insert_adam("adam_generator.", &nets.adam_generator)?;
    file.insert_adam("adam_fake.", &nets.adam_fake)
}

/// Rebuilds θ, ψ, the EMA and both Adams from a checkpoint, into copies of `blank`.
fn restore_networks<N: DistillNet>(
    file: &TensorFile,
    config: &RunConfig,
    blank: N,
    device: &Device,
) -> Result<Networks<N>> {
    let mut adam_generator = Adam::new(0.0, config.distill.adam_beta2);
    let mut adam_fake = Adam::new(0.0, config.distill.adam_beta2);
    file.load_adam("adam_generator.", &mut adam_generator, device)?;
    file.load_adam("adam_fake.", &mut adam_fake, device)?;
    Ok(Networks {
        generator: file.load_module("generator.", blank.clone(), device)?,
        fake_denoiser: file.load_module("fake_denoiser.", blank.clone(), device)?,
        ema: file.load_module("ema.", blank.valid(), &device.clone().inner())?,
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
    let Some(data) = config.data.toy() else {
        return Err(EngineError::Invalid(
            "the teacher fit is for 2-D toy data; image runs copy their U-Net teacher".into(),
        ));
    };
    let key = format!(
        "v1\n{}\n{}\n{}",
        toml::to_string(data).unwrap_or_default(),
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
    if let Some(path) = cached {
        save_network(&path, &net, &config.net, data)?;
    }
    progress("teacher fit", 1.0);
    Ok(net)
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
