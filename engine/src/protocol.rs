//! The only contract between the engine and its drivers (GUI, CLI, tests): commands in, events
//! out, plain data only (no tensors cross).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::RunConfig;
use crate::device::DeviceMemory;
use crate::diffusion::sigma::SigmaDistribution;
use crate::distill::config::DistillConfig;
use crate::distill::diagnostics::Diagnostics;
use crate::distill::distance::Distance;
use crate::distill::iteration::IterationStats;
use crate::distill::objective::{Objective, Weighting};
use crate::metrics::Metrics;
use sim_formats::validation::ValidationError;

/// A live change of a distillation setting, applied at the next iteration boundary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "setting", content = "value", rename_all = "snake_case")]
pub enum Tweak {
    /// Learning rate of θ.
    LrGenerator(f64),
    /// Learning rate of ψ.
    LrFake(f64),
    /// SIM distance and its parameters.
    Distance(Distance),
    /// Generator objective.
    Objective(Objective),
    /// σ distribution of the generator phase.
    GeneratorSigma(SigmaDistribution),
    /// σ distribution of the fake-denoiser phase.
    FakeSigma(SigmaDistribution),
    /// Weighting `w(σ)`.
    Weighting(Weighting),
    /// Fake steps per generator step.
    KFake(u32),
}

impl Tweak {
    /// The `[distill]` fields a tweak may change during a run — the only settings in which a
    /// checkpoint may differ from its run's `config.toml` (a tweak applied after it).
    pub const FIELDS: [&str; 8] = [
        "lr_generator",
        "lr_fake",
        "distance",
        "objective",
        "generator_sigma",
        "fake_sigma",
        "weighting",
        "k_fake",
    ];

    /// Applies the change to a config; the result is checked as a preset's `[distill]` is
    /// (`DistillConfig::validate`), and an invalid one leaves the config unchanged.
    pub fn apply(&self, config: &mut DistillConfig) -> Result<(), ValidationError> {
        let mut next = config.clone();
        match self {
            Self::LrGenerator(v) => next.lr_generator = *v,
            Self::LrFake(v) => next.lr_fake = *v,
            Self::Distance(d) => next.distance = *d,
            Self::Objective(o) => next.objective = *o,
            Self::GeneratorSigma(s) => next.generator_sigma = *s,
            Self::FakeSigma(s) => next.fake_sigma = *s,
            Self::Weighting(w) => next.weighting = *w,
            Self::KFake(k) => next.k_fake = *k,
        }
        next.validate()?;
        *config = next;
        Ok(())
    }

    /// A short label for plot markers: "lr θ = 1e-3".
    pub fn label(&self) -> String {
        match self {
            Self::LrGenerator(v) => format!("lr θ = {v:.1e}"),
            Self::LrFake(v) => format!("lr ψ = {v:.1e}"),
            Self::Distance(d) => d.label(),
            Self::Objective(o) => match o {
                Objective::Sim => "SIM".into(),
                Objective::Sid { alpha } => format!("SiD α={alpha}"),
                Objective::DiffInstruct => "Diff-Instruct".into(),
            },
            Self::GeneratorSigma(s) => format!("p_G = {}", s.label()),
            Self::FakeSigma(s) => format!("p_ψ = {}", s.label()),
            Self::Weighting(w) => format!("w = {w:?}"),
            Self::KFake(k) => format!("k_ψ = {k}"),
        }
    }
}

/// What a driver asks of the engine.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Start (or continue after a pause) running iterations.
    Resume,
    /// Stop running iterations after the current one; the run stays loaded.
    Pause,
    /// Run exactly this many iterations, then pause.
    Step(u64),
    /// Change a setting at the next iteration boundary; acknowledged by `Event::Applied`.
    Tweak(Tweak),
    /// Write a checkpoint now.
    SaveCheckpoint,
    /// Reload the last good checkpoint (after a divergence) and pause.
    RollBack,
    /// Heun steps of the teacher samples in the view; answered by fresh `Samples`.
    ViewSteps(usize),
    /// Compute the score field at σ on a `grid × grid` lattice over `[−extent, extent]²` (2-D
    /// runs only; an image run answers `Failed`).
    ScoreField {
        /// Noise level.
        sigma: f64,
        /// Lattice points per side.
        grid: usize,
        /// Half-width of the square.
        extent: f64,
    },
    /// Finish: final evaluation and checkpoint, then the engine thread ends.
    Stop,
}

/// A snapshot of samples for the samples panel.
///
/// Toy runs: 2-D points. Image runs: `image_shape` is `Some([C, H, W])`, each row of `student`
/// and `teacher` is one image (NCHW, values in `[-1, 1]`), and the images form a grid of
/// `columns` per row; a class-conditional run has one row per class (`labels[i] = i / columns`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SampleView {
    /// Iteration of the generator.
    pub step: u64,
    /// Data dimension (2 for toys, `C·H·W` for images).
    pub dim: usize,
    /// One-step student (EMA generator) samples, row-major.
    pub student: Vec<f32>,
    /// Teacher samples (Heun from the same unit noise and labels as the student), row-major.
    pub teacher: Vec<f32>,
    /// `[C, H, W]` of an image run; `None` for 2-D points.
    pub image_shape: Option<[usize; 3]>,
    /// The class of each sample (the same for student and teacher) of a class-conditional run;
    /// `None` when unconditional.
    pub labels: Option<Vec<usize>>,
    /// Images per grid row (0 for 2-D points).
    pub columns: usize,
    /// Heun steps of the teacher samples.
    pub teacher_steps: usize,
    /// Network evaluations those steps cost (`2N − 1`).
    pub teacher_nfe: usize,
}

/// Teacher and fake-denoiser scores on a lattice, for the score-field view.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScoreField {
    /// Noise level σ.
    pub sigma: f64,
    /// Lattice points, row-major `[n, 2]`.
    pub points: Vec<f32>,
    /// Teacher score at each point.
    pub teacher: Vec<f32>,
    /// Fake-denoiser (ψ) score at each point.
    pub fake: Vec<f32>,
}

/// Facts about a started run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunInfo {
    /// The resolved config.
    pub config: RunConfig,
    /// The backend in use, e.g. "cpu (flex)".
    pub backend: String,
    /// The run folder, if the run writes one.
    pub dir: Option<PathBuf>,
    /// Iteration the run starts at (non-zero when resumed).
    pub step: u64,
    /// Number of mixture modes when the teacher is exact (the IS maximum).
    pub modes: Option<usize>,
    /// The teacher's own scores (multi-step Heun, `eval.teacher_steps`) on the student's
    /// evaluation noise and labels, when `eval.teacher_metrics` asked for them (image runs).
    pub teacher_metrics: Option<Metrics>,
}

/// What the engine reports.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// Initialisation progress (teacher fit), as a message and a fraction in [0, 1].
    Preparing {
        /// What is happening.
        message: String,
        /// Progress.
        fraction: f32,
    },
    /// The run is loaded and paused, ready for `Resume`.
    Ready(Box<RunInfo>),
    /// A `Launch::Prepare` is done: the device has compiled and tuned the kernels of a run of
    /// its shape (`seconds`, loading included); the engine thread ends.
    Prepared {
        /// Seconds from the launch to here.
        seconds: f64,
        /// Whether the backend chosen was a GPU (on the CPU there is nothing to prepare).
        on_gpu: bool,
    },
    /// One iteration finished.
    Progress {
        /// Iterations done.
        step: u64,
        /// Wall-clock seconds of training so far.
        wall_s: f64,
        /// Iterations per second over the last second or so.
        it_per_s: f64,
        /// The iteration's measurements.
        stats: IterationStats,
    },
    /// What the run's device holds (GPU backends only), every few seconds while it runs.
    Memory(DeviceMemory),
    /// An evaluation of the EMA generator.
    Evaluated {
        /// Iterations done.
        step: u64,
        /// The metrics (toy or image).
        metrics: Metrics,
        /// Seconds the evaluation took.
        eval_s: f64,
    },
    /// Fresh samples for the view.
    Samples(SampleView),
    /// A score field asked for by `Command::ScoreField`.
    ScoreField(ScoreField),
    /// The diagnostics of the generator phase of iteration `step` (`eval.diagnostics_every`).
    Diagnostics {
        /// Iterations done.
        step: u64,
        /// What it showed.
        diagnostics: Box<Diagnostics>,
    },
    /// A tweak took effect before iteration `step`.
    Applied {
        /// First iteration that uses the new setting.
        step: u64,
        /// The change.
        tweak: Tweak,
    },
    /// A tweak was refused.
    Rejected {
        /// The change.
        tweak: Tweak,
        /// Why.
        reason: String,
    },
    /// Running stopped at `step` (pause, end of a `Step`, or divergence).
    Paused {
        /// Iterations done.
        step: u64,
    },
    /// Running (re)started.
    Running {
        /// Iterations done.
        step: u64,
    },
    /// A checkpoint was written.
    Checkpointed {
        /// Its iteration.
        step: u64,
        /// The file.
        path: PathBuf,
    },
    /// NaN/Inf or an exploding loss: the run is paused; `RollBack` restores `last_good`.
    Diverged {
        /// Iteration that diverged.
        step: u64,
        /// What was seen.
        reason: String,
        /// The last checkpoint written before it, if any.
        last_good: Option<PathBuf>,
    },
    /// The run reached its last iteration (or was stopped) and wrote its final state.
    Finished {
        /// Iterations done.
        step: u64,
        /// The final evaluation.
        metrics: Option<Metrics>,
    },
    /// Something failed; the message says what and how to fix it.
    Failed(String),
    /// The engine thread ended on an error it cannot go on from — a failed iteration or a
    /// panic — after its last checkpoint; no event follows.
    Crashed(String),
}
