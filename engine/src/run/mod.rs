//! A run: teacher, generator θ, fake denoiser ψ, their optimisers and EMA, the run folder —
//! everything a driver steps, evaluates, checkpoints and resumes.
//!
//! - this file: [`Run`], the same for every data set, over a [`World`];
//! - [`toy`] and [`image`]: the two worlds (2-D MLPs judged exactly, image U-Nets judged by a
//!   classifier), the only places that know which one a run is;
//! - [`view`]: what the samples panel and the run folder's PNGs show;
//! - [`log`]: the run folder's `metrics.jsonl`, one typed line per event;
//! - [`resume`]: what a resume may change (the checkpoint's config against `config.toml`);
//! - [`replay`]: what a replay of a folder runs (its start config and its tweaks by step);
//! - [`auto`]: `--backend auto` between a GPU and the CPU, by a cached calibration.

mod auto;
mod clock;
pub mod image;
pub mod log;
mod replay;
mod resume;
mod toy;
pub mod view;

use std::path::{Path, PathBuf};

use burn::prelude::*;

use self::clock::TrainingClock;
use self::image::{ImageJudge, ImageWorld};
use self::log::MetricsLine;
use self::toy::ToyWorld;
use crate::config::RunConfig;
use crate::data::DataConfig;
use crate::device::{BackendChoice, DeviceMemory, Probe, SelectedDevice, select};
use crate::diffusion::denoiser::LabelledDenoiser;
use crate::diffusion::sampler::Integrator;
use crate::distill::diagnostics::Diagnostics;
use crate::distill::iteration::{IterationStats, Networks, iteration};
use crate::distill::net::{DistillNet, ImageDenoiser};
use crate::error::{EngineError, Result};
use crate::metrics::Metrics;
use crate::optim::adam::Adam;
use crate::pool::warm;
use crate::protocol::{RunInfo, SampleView, ScoreField, Tweak};
use crate::store::atomic::write_atomic;
use crate::store::run_dir::RunDir;
use crate::store::tensor_file::TensorFile;
use crate::teacher::Teacher;

/// Where a run keeps its files and what it runs on; not part of the experiment's config.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Parent of run folders; `None` writes nothing (tests, benchmarks).
    pub runs_dir: Option<PathBuf>,
    /// Cache of teacher fits and reference statistics; `None` computes them every time.
    pub cache_dir: Option<PathBuf>,
    /// Backend.
    pub backend: BackendChoice,
    /// Where `backend` learns which GPU adapters exist (a driver's choice: the binary asks a
    /// child process, the tests this one).
    pub probe: Probe,
}

/// The networks of a run, its teacher and what their samples are judged against: the part of
/// a run that depends on its data. [`Run`] drives it the same way for toys and images.
trait World: std::fmt::Debug + Send {
    /// θ, ψ, the EMA and their Adams, and the teacher they learn from.
    fn distillation(&self) -> &dyn Distils;

    /// [`World::distillation`], to train it.
    fn distillation_mut(&mut self) -> &mut dyn Distils;

    /// The EMA generator's scores on `eval.samples` seeded latents (the same every time).
    fn score(&self, config: &RunConfig, device: &Device) -> Result<Metrics>;

    /// [`World::score`] and the view's student half: `g(t*·u, y)` on the view's unit noise
    /// `u` and labels `y` (`teacher` left empty).
    fn evaluate(&self, config: &RunConfig, device: &Device) -> Result<(Metrics, SampleView)>;

    /// The view's teacher half: Heun with `steps` steps from `σ_max·u`, the same `u` and `y`.
    fn teacher_view(&self, config: &RunConfig, steps: usize, device: &Device) -> Result<Vec<f32>>;

    /// The teacher's own scores (Heun, `eval.teacher_steps`, on the evaluation noise), where
    /// the world scores teachers (images); `None` otherwise.
    fn score_teacher(&self, config: &RunConfig) -> Result<Option<Metrics>>;

    /// Modes of an exact mixture teacher (the IS maximum), if it is one.
    fn modes(&self) -> Option<usize>;

    /// Teacher and fake-denoiser scores on a lattice (2-D worlds only).
    fn score_field(
        &self,
        sigma: f64,
        grid: usize,
        extent: f64,
        device: &Device,
    ) -> Result<ScoreField>;

    /// Replaces θ, ψ, the EMA and both Adams by a checkpoint's.
    fn load(&mut self, file: &TensorFile, config: &RunConfig, device: &Device) -> Result<()>;
}

/// A loaded run.
pub struct Run {
    config: RunConfig,
    device: Device,
    backend: String,
    /// Whether the iterations run on the CPU backend (then on a warm pool, `pool::warm`).
    on_cpu: bool,
    world: Box<dyn World>,
    step: u64,
    dir: Option<RunDir>,
    /// Training seconds: runs while iterations run (the session starts and stops it).
    clock: TrainingClock,
    /// Heun steps of the teacher samples in the view, and those samples once computed.
    view_steps: usize,
    teacher_view: Option<Vec<f32>>,
    /// The teacher's own scores (image runs with `eval.teacher_metrics`).
    teacher_metrics: Option<Metrics>,
    /// The latest evaluation, so the final one is not logged twice.
    last_eval: Option<(u64, Metrics, SampleView)>,
    /// The diagnostics of the latest iteration, when it read them (`eval.diagnostics_every`).
    diagnostics: Option<Diagnostics>,
    /// Tweaks still to apply, by the step they take effect at (a replay), in step order.
    schedule: std::collections::VecDeque<(u64, Tweak)>,
}

impl Run {
    /// Builds a fresh run: teacher, teacher-shaped θ and ψ (docs/algorithm.md §2, §6),
    /// reference. `progress(message, fraction)` reports the initial fit (toy) or the teacher's
    /// scoring.
    pub fn start(
        config: RunConfig,
        options: &RunOptions,
        progress: &mut dyn FnMut(&str, f32),
    ) -> Result<Self> {
        config.validate().map_err(crate::error::ConfigError::from)?;
        let selected = device_for(&config, options, progress)?;
        let world = build_world(&config, options, &selected.device, None, progress)?;
        let dir = match &options.runs_dir {
            Some(root) => Some(RunDir::create(root, &config.name, &config.to_toml())?),
            None => None,
        };
        let mut run = Self::assemble(config, selected, world, 0, dir, 0.0);
        if run.config.eval.teacher_metrics {
            progress("scoring the teacher", 0.0);
            run.score_teacher()?;
            progress("scoring the teacher", 1.0);
        }
        Ok(run)
    }

    /// A new run that replays the run in `folder`: its start config (`start.toml`) with a new
    /// folder under `options.runs_dir`, and its live tweaks applied at the steps they took
    /// effect, so its curve is the folder's, bit for bit on the CPU backend ([`replay`]).
    pub fn replay(
        folder: &Path,
        options: &RunOptions,
        progress: &mut dyn FnMut(&str, f32),
    ) -> Result<Self> {
        let (config, tweaks) = replay::schedule(&RunDir::open(folder)?)?;
        let mut run = Self::start(config, options, progress)?;
        run.schedule = tweaks.into();
        Ok(run)
    }

    /// Continues a run from the newest checkpoint in its folder, bit for bit on the CPU backend,
    /// under the config the checkpoint was written with ([`resume`]), with a new total of
    /// `iterations` when given; `config.toml` is rewritten to the config it continues under.
    pub fn resume(folder: &Path, iterations: Option<u64>, options: &RunOptions) -> Result<Self> {
        let dir = RunDir::open(folder)?.lock()?;
        let mut run = Self::load_checkpoint(&dir, None, &[], options)?;
        run.config = resume::with_iterations(run.config, iterations, run.step)?;
        if RunConfig::load(&dir.config_path(), &[])? != run.config {
            write_atomic(&dir.config_path(), run.config.to_toml().as_bytes())?;
        }
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
        let config_path = dir.config_path();
        let file_config = RunConfig::load(&config_path, &[])?;
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
        let file = TensorFile::read(&path)?;
        resume::check_format(&file, &path)?;
        let config = resume::reconcile(file_config, &file, &path)?;
        let config = match overrides.is_empty() {
            true => config,
            false => RunConfig::parse(
                &config.to_toml(),
                &config_path.display().to_string(),
                overrides,
            )?,
        };
        let selected = device_for(&config, options, &mut |_, _| {})?;
        let world = build_world(
            &config,
            options,
            &selected.device,
            Some(&file),
            &mut |_, _| {},
        )?;
        let wall = seconds(&file, "wall_s")?;
        Ok(Self::assemble(config, selected, world, step, None, wall))
    }

    fn assemble(
        config: RunConfig,
        selected: SelectedDevice,
        world: Box<dyn World>,
        step: u64,
        dir: Option<RunDir>,
        wall_offset_s: f64,
    ) -> Self {
        let SelectedDevice {
            device,
            description: backend,
            on_cpu,
        } = selected;
        Self {
            config,
            device,
            backend,
            on_cpu,
            world,
            step,
            dir,
            clock: TrainingClock::new(wall_offset_s),
            view_steps: 18,
            teacher_view: None,
            teacher_metrics: None,
            last_eval: None,
            diagnostics: None,
            schedule: Default::default(),
        }
    }

    /// Scores the teacher where the world does (images): Heun with `eval.teacher_steps` steps
    /// on the student's evaluation noise and labels, logged as a `teacher_eval` line.
    fn score_teacher(&mut self) -> Result<()> {
        let Some(metrics) = self.world.score_teacher(&self.config)? else {
            return Ok(());
        };
        if let Some(dir) = &self.dir {
            let steps = self.config.eval.teacher_steps;
            MetricsLine::TeacherEval {
                step: self.step,
                teacher_steps: steps,
                nfe: Integrator::Heun.nfe(steps),
                metrics: metrics.clone(),
            }
            .append(dir)?;
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

    /// Training seconds: time spent iterating (paused time left out), including time before
    /// a resume.
    pub fn wall_s(&self) -> f64 {
        self.clock.seconds()
    }

    /// Starts or stops the training clock: running exactly while iterations run.
    pub fn set_clock_running(&mut self, running: bool) {
        self.clock.set_running(running);
    }

    /// The run folder, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(RunDir::path)
    }

    /// The newest checkpoint in the run folder, if any.
    pub fn latest_checkpoint(&self) -> Option<PathBuf> {
        self.dir.as_ref()?.latest_checkpoint().map(|(_, path)| path)
    }

    /// What the run's device holds now (GPU backends; `None` on the CPU). Waits for the
    /// device's queued work.
    pub fn memory(&self) -> Option<DeviceMemory> {
        DeviceMemory::of(&self.device)
    }

    /// Facts for `Event::Ready`.
    pub fn info(&self) -> RunInfo {
        RunInfo {
            config: self.config.clone(),
            backend: self.backend.clone(),
            dir: self.dir().map(Path::to_owned),
            step: self.step,
            modes: self.world.modes(),
            teacher_metrics: self.teacher_metrics.clone(),
        }
    }

    /// Runs one iteration and logs it to `metrics.jsonl`, with its diagnostics' σ bins when it
    /// read them ([`Run::take_diagnostics`]).
    pub fn step(&mut self) -> Result<IterationStats> {
        let probe = self.config.eval.diagnoses(self.step + 1);
        let iterate = || {
            self.world
                .distillation_mut()
                .step(&self.config, self.step, &self.device, probe)
        };
        let (stats, diagnostics) = on_its_device(self.on_cpu, iterate);
        self.step += 1;
        if let Some(dir) = &self.dir {
            MetricsLine::Iteration {
                step: self.step,
                wall_s: self.wall_s(),
                stats: stats.clone(),
            }
            .append(dir)?;
            if let Some(diagnostics) = &diagnostics {
                MetricsLine::Diagnostics {
                    step: self.step,
                    bins: diagnostics.bins.clone(),
                }
                .append(dir)?;
            }
        }
        self.diagnostics = diagnostics;
        Ok(stats)
    }

    /// Whether the run's kernels run on a GPU.
    pub fn on_gpu(&self) -> bool {
        !self.on_cpu
    }

    /// Whether [`Run::prepare`] has work to do: the run is on a GPU, and no run of its shape
    /// (`RunConfig::shape`) was prepared on its device in this process.
    pub fn needs_preparation(&self) -> bool {
        !self.on_cpu && !prepared().contains(&self.shape_key())
    }

    /// Prepares the device for this run (docs/platform.md, "On a GPU"): when
    /// [`Run::needs_preparation`], one iteration is rehearsed ([`Run::rehearse`]), so that the
    /// GPU compiles and tunes its kernels now and the first iteration that counts runs at
    /// speed. Returns the seconds it took, or `None` when there was nothing to do.
    pub fn prepare(&mut self) -> Option<f64> {
        if !self.needs_preparation() {
            return None;
        }
        let started = std::time::Instant::now();
        self.rehearse();
        prepared().insert(self.shape_key());
        Some(started.elapsed().as_secs_f64())
    }

    /// Runs the next iteration on a copy of θ, ψ and their Adams and drops the result
    /// (`Distils::rehearse`): the device compiles and tunes the iteration's kernels, and the run
    /// — its networks, step, clock and log — is left exactly as it was. The random draws are
    /// seeded by (seed, iteration, stream), so the iteration that counts draws the same ones.
    pub fn rehearse(&self) {
        on_its_device(self.on_cpu, || {
            self.world
                .distillation()
                .rehearse(&self.config, self.step, &self.device);
        });
    }

    /// What decides which kernels a run compiles: its device and its config's shape.
    fn shape_key(&self) -> String {
        format!("{}\n{}", self.backend, self.config.shape())
    }

    /// The replayed tweaks due before the next iteration, taken off the schedule: the driver
    /// applies them as it applies its own ([`Run::apply`]), before [`Run::step`].
    pub fn due_tweaks(&mut self) -> Vec<Tweak> {
        let mut due = Vec::new();
        while let Some((step, _)) = self.schedule.front()
            && *step <= self.step
        {
            due.extend(self.schedule.pop_front().map(|(_, tweak)| tweak));
        }
        due
    }

    /// The diagnostics of the latest iteration, once, if it read them.
    pub fn take_diagnostics(&mut self) -> Option<Diagnostics> {
        self.diagnostics.take()
    }

    /// Evaluates the EMA generator on `eval.samples` seeded latents (the same every time), and
    /// returns the view: student `g(t*·u, y)` next to the teacher's Heun samples from `σ_max·u`
    /// with the same unit noise `u` and labels `y`.
    pub fn evaluate(&mut self) -> Result<(Metrics, SampleView)> {
        let inner = self.device.clone().inner();
        let (metrics, view) = self.world.evaluate(&self.config, &inner)?;
        let view = SampleView {
            step: self.step,
            teacher: self.teacher_view()?,
            teacher_steps: self.view_steps,
            teacher_nfe: Integrator::Heun.nfe(self.view_steps),
            ..view
        };
        if let Some(dir) = &self.dir {
            MetricsLine::Eval {
                step: self.step,
                wall_s: self.wall_s(),
                metrics: metrics.clone(),
            }
            .append(dir)?;
        }
        self.last_eval = Some((self.step, metrics.clone(), view.clone()));
        Ok((metrics, view))
    }

    /// The EMA generator's scores on `eval.samples` seeded latents (those of [`Run::evaluate`]),
    /// without a view and without a line in the run folder.
    pub fn score(&self) -> Result<Metrics> {
        self.world.score(&self.config, &self.device.clone().inner())
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

    /// Teacher samples of the view, computed once per number of Heun steps.
    fn teacher_view(&mut self) -> Result<Vec<f32>> {
        if let Some(view) = &self.teacher_view {
            return Ok(view.clone());
        }
        let view = self
            .world
            .teacher_view(&self.config, self.view_steps, &self.device)?;
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
        self.world.score_field(sigma, grid, extent, &self.device)
    }

    /// Writes a sample snapshot PNG into the run folder ([`view::write_view`]).
    pub fn snapshot(&self, view: &SampleView) -> Result<Option<PathBuf>> {
        let Some(dir) = &self.dir else {
            return Ok(None);
        };
        let path = dir.sample_path(self.step);
        view::write_view(&path, view)?;
        Ok(Some(path))
    }

    /// Applies a live tweak, and records it in the run folder (`config.toml` and a `tweak` line
    /// with the step it takes effect at) — all of it or nothing: when a file cannot be written
    /// the run keeps its settings and the error says why.
    pub fn apply(&mut self, tweak: &Tweak) -> std::result::Result<(), String> {
        let mut next = self.config.clone();
        tweak.apply(&mut next.distill).map_err(|e| e.to_string())?;
        if let Some(dir) = &self.dir {
            let line = MetricsLine::Tweak {
                step: self.step,
                tweak: tweak.clone(),
                label: tweak.label(),
            };
            let config_path = dir.config_path();
            write_atomic(&config_path, next.to_toml().as_bytes()).map_err(|e| e.to_string())?;
            if let Err(e) = line.append(dir) {
                // Undo: config.toml stays the config of the run as it now stands.
                let _ = write_atomic(&config_path, self.config.to_toml().as_bytes());
                return Err(e.to_string());
            }
        }
        self.config = next;
        Ok(())
    }

    /// Writes a checkpoint of the whole state (θ, ψ, EMA, both Adams, step, wall time).
    pub fn checkpoint(&self) -> Result<Option<PathBuf>> {
        let Some(dir) = &self.dir else {
            return Ok(None);
        };
        let mut file = TensorFile::new();
        self.world.distillation().save(&mut file)?;
        file.metadata.insert("step".into(), self.step.to_string());
        file.metadata
            .insert("wall_s".into(), self.wall_s().to_string());
        file.metadata
            .insert("format".into(), resume::CHECKPOINT_FORMAT.into());
        file.metadata
            .insert(resume::CONFIG_KEY.into(), self.config.to_toml());
        let path = dir.checkpoint_path(self.step);
        file.write(&path)?;
        Ok(Some(path))
    }

    /// Replaces the state by a checkpoint's (roll-back after divergence).
    pub fn restore(&mut self, path: &Path) -> Result<()> {
        let file = TensorFile::read(path)?;
        resume::check_format(&file, path)?;
        self.world.load(&file, &self.config, &self.device)?;
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

/// The metadata `key` of a checkpoint `file`: a finite number of seconds ≥ 0.
fn seconds(file: &TensorFile, key: &str) -> Result<f64> {
    let text = file.meta(key)?;
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value >= 0.0 => Ok(value),
        _ => Err(EngineError::File {
            path: file.origin().to_owned(),
            message: format!(
                "metadata `{key}` is {text:?}, not a finite number of seconds ≥ 0; the \
                 checkpoint is damaged — resume from an earlier one"
            ),
        }),
    }
}

/// What an iteration trains and what it learns from, alike in every world: θ, ψ, the EMA and
/// their Adams, and the frozen teacher.
#[derive(Debug)]
struct Distillation<N, T> {
    nets: Networks<N>,
    teacher: T,
    /// Samples of a diagnosed generator batch kept as images (0 where none are shown).
    probe_rows: usize,
}

/// A [`Distillation`] whatever its networks and teacher: how every world trains and saves.
trait Distils {
    /// Iteration `step` of the distillation (`crate::distill::iteration`), and with `probe` the
    /// diagnostics of its generator phase.
    fn step(
        &mut self,
        config: &RunConfig,
        step: u64,
        device: &Device,
        probe: bool,
    ) -> (IterationStats, Option<Diagnostics>);

    /// Iteration `step` on a copy of θ, ψ and their Adams, its result dropped: the device
    /// compiles and tunes the iteration's kernels, and the run is left as it was
    /// ([`Run::rehearse`]).
    fn rehearse(&self, config: &RunConfig, step: u64, device: &Device);

    /// Adds θ, ψ, the EMA and both Adams to a checkpoint.
    fn save(&self, file: &mut TensorFile) -> Result<()>;
}

impl<N: DistillNet, T: LabelledDenoiser> Distils for Distillation<N, T> {
    fn step(
        &mut self,
        config: &RunConfig,
        step: u64,
        device: &Device,
        probe: bool,
    ) -> (IterationStats, Option<Diagnostics>) {
        iteration(
            &mut self.nets,
            &self.teacher,
            &config.distill,
            config.seed,
            step,
            device,
            probe.then_some(self.probe_rows),
        )
    }

    fn rehearse(&self, config: &RunConfig, step: u64, device: &Device) {
        iteration(
            &mut self.nets.clone(),
            &self.teacher,
            &config.distill,
            config.seed,
            step,
            device,
            None,
        );
    }

    fn save(&self, file: &mut TensorFile) -> Result<()> {
        file.insert_module("generator.", &self.nets.generator)?;
        file.insert_module("fake_denoiser.", &self.nets.fake_denoiser)?;
        file.insert_module("ema.", &self.nets.ema)?;
        file.insert_adam("adam_generator.", &self.nets.adam_generator)?;
        file.insert_adam("adam_fake.", &self.nets.adam_fake)
    }
}

/// Runs `f`, which computes on the run's device: on the CPU backend with the pool kept warm
/// (`pool::warm`), so that each short kernel is picked up at once.
fn on_its_device<R>(on_cpu: bool, f: impl FnOnce() -> R) -> R {
    if on_cpu { warm(f) } else { f() }
}

/// The device `options.backend` chooses for `config`: `auto` weighs a hardware GPU against
/// the CPU by a calibration of this run's shape ([`auto`]).
fn device_for(
    config: &RunConfig,
    options: &RunOptions,
    progress: &mut dyn FnMut(&str, f32),
) -> Result<SelectedDevice> {
    let selected = select(options.backend, &options.probe)?;
    if options.backend == BackendChoice::Auto && !selected.on_cpu {
        auto::choose(config, options, selected, progress)
    } else {
        Ok(selected)
    }
}

/// The shapes of run ([`Run::shape_key`]) this process has prepared its GPU for: compiled
/// kernels and tuning results live as long as the process.
fn prepared() -> std::sync::MutexGuard<'static, std::collections::HashSet<String>> {
    static PREPARED: std::sync::LazyLock<std::sync::Mutex<std::collections::HashSet<String>>> =
        std::sync::LazyLock::new(Default::default);
    PREPARED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The world of `config`'s teacher: loaded on `device`, its networks copies of the teacher
/// (or of its fit), or of a checkpoint's when `from` is given.
fn build_world(
    config: &RunConfig,
    options: &RunOptions,
    device: &Device,
    from: Option<&TensorFile>,
    progress: &mut dyn FnMut(&str, f32),
) -> Result<Box<dyn World>> {
    let teacher = Teacher::load(&config.teacher, &config.data, device)?;
    let (classifier, cache) = (
        config.eval.classifier.as_deref(),
        options.cache_dir.as_deref(),
    );
    Ok(match teacher {
        Teacher::Image(teacher) => {
            let judge =
                ImageJudge::for_teacher(classifier, &teacher, cache, &device.clone().inner())?;
            Box::new(ImageWorld::new(teacher.net, judge, config, from, device)?)
        }
        Teacher::Edm(teacher) => {
            let DataConfig::Image(source) = &config.data else {
                return Err(EngineError::Invalid(
                    "teacher.kind = \"edm\" needs image data in [data]".into(),
                ));
            };
            let set = source
                .load()
                .map_err(|e| EngineError::Invalid(e.to_string()))?;
            let shape = teacher.net.image_shape();
            let judge = ImageJudge::new(
                classifier,
                source,
                set,
                shape,
                cache,
                &device.clone().inner(),
            )?;
            Box::new(ImageWorld::new(teacher.net, judge, config, from, device)?)
        }
        teacher => Box::new(ToyWorld::new(
            teacher,
            config,
            from,
            options.cache_dir.as_deref(),
            device,
            progress,
        )?),
    })
}

/// θ, ψ and the EMA as copies of `init` with fresh Adams, or a checkpoint's (`from`) rebuilt
/// into copies of it. `init` is trainable; the EMA is kept without autodiff.
fn networks<N: DistillNet>(
    init: N,
    config: &RunConfig,
    from: Option<&TensorFile>,
    device: &Device,
) -> Result<Networks<N>> {
    let beta2 = config.distill.adam_beta2;
    let Some(file) = from else {
        return Ok(Networks::from_init(init, beta2));
    };
    let mut adam_generator = Adam::new(0.0, beta2);
    let mut adam_fake = Adam::new(0.0, beta2);
    file.load_adam("adam_generator.", &mut adam_generator, &init, device)?;
    file.load_adam("adam_fake.", &mut adam_fake, &init, device)?;
    Ok(Networks {
        generator: file.load_module("generator.", init.clone(), device)?,
        fake_denoiser: file.load_module("fake_denoiser.", init.clone(), device)?,
        ema: file.load_module("ema.", init.valid(), &device.clone().inner())?,
        adam_generator,
        adam_fake,
    })
}
