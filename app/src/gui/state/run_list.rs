//! The run list: every run of the session and every run read from a run folder, each with
//! what its engine has said. It drains engine events each frame (never waiting); panels only
//! read it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use eframe::egui::{self, Color32};
use sim_engine::config::RunConfig;
use sim_engine::data::DataConfig;
use sim_engine::device::{BackendChoice, DeviceMemory, Probe};
use sim_engine::diffusion::sampler::Integrator;
use sim_engine::distill::diagnostics::Diagnostics;
use sim_engine::distill::iteration::IterationStats;
use sim_engine::metrics::Metrics;
use sim_engine::protocol::{Command, Event, SampleView, ScoreField, Tweak};
use sim_engine::run::RunOptions;
use sim_engine::run::log::{MetricsLine, read_metrics};
use sim_engine::session::{Launch, Session, Waker};

use crate::gui::palette;

/// Lifecycle of a run as the GUI sees it.
#[derive(Clone, Debug, PartialEq)]
pub enum RunStatus {
    /// Fitting θ and ψ to the teacher.
    Preparing(String, f32),
    /// Iterating.
    Running,
    /// Loaded, not iterating.
    Paused,
    /// NaN/Inf or exploding loss at this step.
    Diverged {
        /// Iteration.
        step: u64,
        /// What was seen.
        reason: String,
        /// Checkpoint to roll back to.
        last_good: Option<PathBuf>,
    },
    /// Reached its last iteration.
    Finished,
    /// Ended by the user before its last iteration (final evaluation and checkpoint written).
    Stopped,
    /// The engine stopped with an error.
    Failed(String),
    /// Read from a run folder; no engine.
    Loaded,
}

/// One iteration's numbers, as plotted and exported.
#[derive(Clone, Debug, Default)]
pub struct ProgressPoint {
    /// Iterations done.
    pub step: u64,
    /// Training seconds.
    pub wall_s: f64,
    /// Iterations per second (the engine's meter; 0 for a run read from disk).
    pub it_per_s: f64,
    /// What the iteration logged: losses, gradient norms, dropped samples.
    pub stats: IterationStats,
}

/// One evaluation.
#[derive(Clone, Debug)]
pub struct EvalPoint {
    /// Iterations done.
    pub step: u64,
    /// Training seconds.
    pub wall_s: f64,
    /// The metrics (toy or image).
    pub metrics: Metrics,
}

/// A live change, drawn as a labelled vertical marker.
#[derive(Clone, Debug)]
pub struct Marker {
    /// First iteration with the change.
    pub step: u64,
    /// Training seconds then.
    pub wall_s: f64,
    /// What changed.
    pub label: String,
}

/// What the engine has said about a run, mirrored: changed only by its events (or, for a run
/// read from disk, by its folder).
pub struct EngineMirror {
    /// Its config (tweaks applied).
    pub config: RunConfig,
    /// Lifecycle.
    pub status: RunStatus,
    /// Backend description.
    pub backend: String,
    /// What the device's allocator holds (GPU backends), from the engine's latest report.
    pub memory: Option<DeviceMemory>,
    /// Run folder.
    pub dir: Option<PathBuf>,
    /// Number of modes of an exact teacher.
    pub modes: Option<usize>,
    /// The teacher's own scores (image runs with `eval.teacher_metrics`).
    pub teacher: Option<TeacherScore>,
    /// Iterations done.
    pub step: u64,
    /// Iteration the run (re)started at.
    pub first_step: u64,
    /// Iterations per second (engine's meter).
    pub it_per_s: f64,
    /// Training seconds.
    pub wall_s: f64,
    /// Seconds of the latest evaluation.
    pub eval_s: f64,
}

/// The multi-step teacher's scores, drawn as a dashed reference line on the curves.
#[derive(Clone, Debug, PartialEq)]
pub struct TeacherScore {
    /// FID / IS of the teacher.
    pub metrics: Metrics,
    /// Network evaluations per sample of its sampler (35 for 18 Heun steps).
    pub nfe: usize,
}

/// What happened in a run, as plotted and shown.
#[derive(Default)]
pub struct History {
    /// Per-iteration numbers.
    pub progress: Vec<ProgressPoint>,
    /// Evaluations.
    pub evals: Vec<EvalPoint>,
    /// Tweak markers.
    pub markers: Vec<Marker>,
    /// Latest samples.
    pub samples: Option<SampleView>,
    /// Latest score field.
    pub score_field: Option<ScoreField>,
    /// Latest diagnostics of the generator phase and their iteration (from a run folder: the
    /// σ bins only).
    pub diagnostics: Option<(u64, Diagnostics)>,
    /// Messages (checkpoints, refused tweaks).
    pub log: Vec<String>,
}

/// How the user has chosen to see a run.
pub struct ViewFlags {
    /// Shown in the curves.
    pub visible: bool,
    /// σ of the score field to refresh after every evaluation; `None` = off.
    pub score_sigma: Option<f64>,
}

/// A run and everything the GUI knows of it.
pub struct RunRecord {
    /// Display name.
    pub label: String,
    /// Curve colour.
    pub color: Color32,
    /// The race variant whose seeds it is one of (drawn together as a mean and a band).
    pub group: Option<String>,
    /// The engine, while the run is loaded.
    session: Option<Session>,
    /// What the engine reported.
    pub engine: EngineMirror,
    /// Its curves, samples and messages.
    pub history: History,
    /// The user's view of it.
    pub view: ViewFlags,
    /// Live changes sent to the engine and not yet answered, oldest first: the panel shows
    /// them as "applying" until the engine's `Applied` (or `Rejected`) arrives.
    pub pending: Vec<Tweak>,
    /// The engine's answers to live changes since the window last took them: the change it
    /// applied, or why it refused one.
    answers: Vec<Result<Tweak, String>>,
    /// When its engine was started, until its first iteration is logged ("first iteration …
    /// after Start": what a prepared GPU saves).
    spawned: Option<std::time::Instant>,
}

impl RunRecord {
    fn new(label: String, color: Color32, config: RunConfig) -> Self {
        Self {
            label,
            color,
            group: None,
            session: None,
            engine: EngineMirror {
                config,
                status: RunStatus::Preparing("starting".into(), 0.0),
                backend: String::new(),
                memory: None,
                dir: None,
                modes: None,
                teacher: None,
                step: 0,
                first_step: 0,
                it_per_s: 0.0,
                wall_s: 0.0,
                eval_s: 0.0,
            },
            history: History::default(),
            view: ViewFlags {
                visible: true,
                score_sigma: None,
            },
            pending: Vec::new(),
            answers: Vec::new(),
            spawned: None,
        }
    }

    /// The kind of data it learns ([`data_kind`]).
    pub fn data_kind(&self) -> String {
        data_kind(&self.engine.config)
    }

    /// Sends a live change to the engine; it counts as pending until the engine answers.
    pub fn send_tweak(&mut self, tweak: Tweak) {
        if self.send(Command::Tweak(tweak.clone())) {
            self.pending.push(tweak);
        }
    }

    /// The engine's answers to live changes since the last call: each applied change (for the
    /// draft to follow) or the reason one was refused.
    pub fn take_answers(&mut self) -> Vec<Result<Tweak, String>> {
        std::mem::take(&mut self.answers)
    }

    /// Forgets the pending copy of an answered change.
    fn settle(&mut self, tweak: &Tweak) {
        if let Some(i) = self.pending.iter().position(|p| p == tweak) {
            self.pending.remove(i);
        }
    }

    /// Sends a command to the engine, if the run has one.
    pub fn send(&self, command: Command) -> bool {
        self.session.as_ref().is_some_and(|s| s.send(command))
    }

    /// Whether the engine is loaded (can take commands).
    pub fn is_live(&self) -> bool {
        self.session.is_some()
            && !matches!(
                self.engine.status,
                RunStatus::Failed(_) | RunStatus::Loaded | RunStatus::Stopped
            )
    }

    /// Takes in one event of its engine.
    fn handle(&mut self, event: Event) {
        match event {
            Event::Progress { .. }
            | Event::Evaluated { .. }
            | Event::Samples(_)
            | Event::ScoreField(_)
            | Event::Memory(_)
            | Event::Diagnostics { .. }
            | Event::Checkpointed { .. } => self.record(event),
            Event::Applied { .. } | Event::Rejected { .. } => self.answered(event),
            Event::Preparing { .. }
            | Event::Ready(_)
            | Event::Paused { .. }
            | Event::Running { .. }
            | Event::Diverged { .. }
            | Event::Finished { .. }
            | Event::Failed(_)
            | Event::Crashed(_)
            | Event::Prepared { .. } => self.follow_status(event),
        }
    }

    /// What the run did: iterations, evaluations, samples, score fields, memory,
    /// diagnostics, checkpoints.
    fn record(&mut self, event: Event) {
        match event {
            Event::Progress {
                step,
                wall_s,
                it_per_s,
                stats,
            } => {
                if let Some(spawned) = self.spawned.take() {
                    let message = format!(
                        "first iteration {:.2} s after Start",
                        spawned.elapsed().as_secs_f64()
                    );
                    tracing::info!("{}: {message}", self.label);
                    self.history.log.push(message);
                }
                self.engine.step = step;
                self.engine.wall_s = wall_s;
                self.engine.it_per_s = it_per_s;
                self.history.progress.push(ProgressPoint {
                    step,
                    wall_s,
                    it_per_s,
                    stats,
                });
            }
            Event::Evaluated {
                step,
                metrics,
                eval_s,
            } => {
                self.engine.eval_s = eval_s;
                self.history.evals.retain(|e| e.step < step);
                self.history.evals.push(EvalPoint {
                    step,
                    wall_s: self.engine.wall_s,
                    metrics,
                });
            }
            Event::Samples(view) => {
                if let Some(sigma) = self.view.score_sigma {
                    self.send(score_field_command(sigma, &view));
                }
                self.history.samples = Some(view);
            }
            Event::ScoreField(field) => self.history.score_field = Some(field),
            Event::Memory(memory) => self.engine.memory = Some(memory),
            Event::Diagnostics { step, diagnostics } => {
                self.history.diagnostics = Some((step, *diagnostics));
            }
            Event::Checkpointed { step, path } => {
                self.history
                    .log
                    .push(format!("checkpoint {step}: {}", path.display()));
            }
            _ => {}
        }
    }

    /// The engine's answer to a live change: applied from an iteration on (a marker), or
    /// refused.
    fn answered(&mut self, event: Event) {
        match event {
            Event::Applied { step, tweak } => {
                tweak.apply(&mut self.engine.config.distill).ok();
                self.history.markers.push(Marker {
                    step,
                    wall_s: self.engine.wall_s,
                    label: tweak.label(),
                });
                self.settle(&tweak);
                self.answers.push(Ok(tweak));
            }
            Event::Rejected { tweak, reason } => {
                let message = format!("refused {}: {reason}", tweak.label());
                self.history.log.push(message.clone());
                self.settle(&tweak);
                self.answers.push(Err(message));
            }
            _ => {}
        }
    }

    /// Where the run stands: preparing, ready, paused (or rolled back), running, diverged,
    /// finished or stopped, failed.
    fn follow_status(&mut self, event: Event) {
        match event {
            Event::Preparing { message, fraction } => {
                self.engine.status = RunStatus::Preparing(message, fraction);
            }
            Event::Ready(info) => {
                self.engine.backend = info.backend;
                self.engine.dir = info.dir;
                self.engine.modes = info.modes;
                let nfe = Integrator::Heun.nfe(info.config.eval.teacher_steps);
                self.engine.teacher = info
                    .teacher_metrics
                    .map(|metrics| TeacherScore { metrics, nfe });
                self.engine.step = info.step;
                self.engine.first_step = info.step;
                self.engine.status = RunStatus::Paused;
            }
            Event::Paused { step } => {
                if !matches!(self.engine.status, RunStatus::Diverged { .. })
                    || step < self.engine.step
                {
                    self.engine.status = RunStatus::Paused;
                }
                if step < self.engine.step {
                    // Rolled back: forget what came after.
                    self.history.progress.retain(|p| p.step <= step);
                    self.history.evals.retain(|e| e.step <= step);
                    self.history.markers.retain(|m| m.step <= step);
                    self.engine.step = step;
                }
            }
            Event::Running { .. } => self.engine.status = RunStatus::Running,
            Event::Diverged {
                step,
                reason,
                last_good,
            } => {
                self.engine.status = RunStatus::Diverged {
                    step,
                    reason,
                    last_good,
                };
            }
            Event::Finished { step, .. } => {
                self.engine.step = step;
                if !matches!(self.engine.status, RunStatus::Diverged { .. }) {
                    self.engine.status = if step < self.engine.config.iterations {
                        RunStatus::Stopped
                    } else {
                        RunStatus::Finished
                    };
                }
            }
            Event::Failed(message) => {
                if matches!(self.engine.status, RunStatus::Preparing(..)) {
                    self.engine.status = RunStatus::Failed(message.clone());
                }
                self.history.log.push(message);
            }
            Event::Crashed(message) => {
                self.pending.clear();
                self.engine.status = RunStatus::Failed(message.clone());
                self.history.log.push(message);
            }
            // A run's engine is never a preparation (`state::preparation` owns those).
            Event::Prepared { .. } => {}
            _ => {}
        }
    }

    /// Marks the run failed when its engine thread has ended without a last word (the engine
    /// always sends one — `Finished` is followed by waiting, an error by `Failed` or `Crashed`
    /// — so this is the guard for what it could not send).
    /// `ended`: the thread had ended before its events were drained, so all of them are in.
    fn notice_a_silent_end(&mut self, ended: bool) {
        let mid_run = matches!(
            self.engine.status,
            RunStatus::Preparing(..) | RunStatus::Running | RunStatus::Paused
        );
        if ended && mid_run {
            self.pending.clear();
            let message = "the engine stopped without saying why".to_owned();
            self.engine.status = RunStatus::Failed(message.clone());
            self.history.log.push(message);
        }
    }

    /// Reads a run folder written by the CLI or an earlier session (`metrics.jsonl` through
    /// the engine's one reader); lines it cannot read are reported, not fatal.
    pub fn load(dir: &Path, index: usize) -> Result<Self, String> {
        let config = RunConfig::load(&dir.join("config.toml"), &[]).map_err(|e| e.to_string())?;
        let log = read_metrics(&dir.join("metrics.jsonl")).map_err(|e| e.to_string())?;
        let label = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| config.name.clone());
        let mut record = Self::new(label, palette::run_color(index), config);
        record.engine.status = RunStatus::Loaded;
        record.engine.dir = Some(dir.to_owned());
        record.engine.modes = record.engine.config.data.mixture().map(|m| m.modes());
        if !log.skipped.is_empty() {
            record.history.log.push(format!(
                "metrics.jsonl: skipped unreadable line(s) {:?}",
                log.skipped
            ));
        }
        for line in log.lines {
            match line {
                MetricsLine::Iteration {
                    step,
                    wall_s,
                    stats,
                } => {
                    record.history.progress.push(ProgressPoint {
                        step,
                        wall_s,
                        it_per_s: 0.0,
                        stats,
                    });
                    record.engine.step = record.engine.step.max(step);
                    record.engine.wall_s = wall_s;
                }
                MetricsLine::Eval {
                    step,
                    wall_s,
                    metrics,
                } => record.history.evals.push(EvalPoint {
                    step,
                    wall_s,
                    metrics,
                }),
                MetricsLine::TeacherEval { metrics, nfe, .. } => {
                    record.engine.teacher = Some(TeacherScore { metrics, nfe });
                }
                MetricsLine::Diagnostics { step, bins } => {
                    let diagnostics = Diagnostics {
                        bins,
                        ..Diagnostics::default()
                    };
                    record.history.diagnostics = Some((step, diagnostics));
                }
                MetricsLine::Tweak { step, label, .. } => {
                    // A tweak line has no wall time of its own: the iteration before it has.
                    let wall_s = record.engine.wall_s;
                    record.history.markers.push(Marker {
                        step,
                        wall_s,
                        label,
                    });
                }
            }
        }
        Ok(record)
    }
}

/// The kind of data a run learns, as the curves separate runs: "2-D toy" for every toy set
/// (their scores are the same quantities), else the image set ("sklearn digits").
pub fn data_kind(config: &RunConfig) -> String {
    match &config.data {
        DataConfig::Toy(_) => "2-D toy".into(),
        DataConfig::Image(source) => source.label(),
    }
}

/// The Inception Score of an evaluation (exact for toys, classifier-based for images).
pub fn inception(metrics: &Metrics) -> Option<f64> {
    match metrics {
        Metrics::Toy(t) => t.is,
        Metrics::Image(i) => Some(i.is),
    }
}

/// The score-field request for a view: a 21 × 21 lattice over the teacher samples' extent.
pub fn score_field_command(sigma: f64, view: &SampleView) -> Command {
    let extent = view.teacher.iter().fold(0.5f32, |m, v| m.max(v.abs())) as f64 * 1.2;
    Command::ScoreField {
        sigma,
        grid: 21,
        extent,
    }
}

/// All runs, and which one the controls act on.
pub struct RunList {
    /// The runs, oldest first.
    pub records: Vec<RunRecord>,
    /// Index of the run the toolbar and live settings act on.
    pub active: Option<usize>,
    /// A short message for the status bar (exports, loads).
    pub notice: Option<String>,
    /// The latest iterations per second measured per kind of data ([`data_kind`]), kept
    /// between launches: what the panel's run-length estimate uses before a run starts.
    pub speeds: BTreeMap<String, f64>,
    /// Milliseconds between redraws that engine events ask for (`Settings::redraw_ms`, else
    /// `Rendering::refresh_ms`).
    pub refresh_ms: Arc<AtomicU64>,
    ctx: egui::Context,
}

impl RunList {
    /// An empty list that wakes `ctx` when engines report, redrawing within `refresh_ms`.
    pub fn new(ctx: egui::Context, refresh_ms: u64) -> Self {
        Self {
            records: Vec::new(),
            active: None,
            notice: None,
            speeds: BTreeMap::new(),
            refresh_ms: Arc::new(AtomicU64::new(refresh_ms)),
            ctx,
        }
    }

    /// The redraw interval engine events ask for.
    pub fn refresh(&self) -> Duration {
        Duration::from_millis(self.refresh_ms.load(Ordering::Relaxed))
    }

    /// The active run.
    pub fn active(&self) -> Option<&RunRecord> {
        self.active.and_then(|i| self.records.get(i))
    }

    /// What an engine calls after each event: a redraw within the refresh interval, not at
    /// once, since frames cost CPU (all of it under software rendering) that training would
    /// otherwise get.
    pub fn waker(&self) -> Waker {
        let ctx = self.ctx.clone();
        let refresh = Arc::clone(&self.refresh_ms);
        Box::new(move || {
            ctx.request_repaint_after(Duration::from_millis(refresh.load(Ordering::Relaxed)))
        })
    }

    /// Whether a run was started and has not iterated yet: the window then looks often, so the
    /// first iteration shows at once whatever the refresh interval.
    pub fn awaiting_first_iteration(&self) -> bool {
        self.records
            .iter()
            .any(|r| r.spawned.is_some() && r.is_live())
    }

    /// Whether a run iterates (a preparation would compete with it for the device).
    pub fn any_running(&self) -> bool {
        self.records
            .iter()
            .any(|r| r.is_live() && r.engine.status == RunStatus::Running)
    }

    /// Starts an engine for `config`; returns its index.
    pub fn spawn(
        &mut self,
        label: String,
        config: RunConfig,
        options: RunOptions,
        autostart: bool,
    ) -> Result<usize, String> {
        let session = Session::spawn(
            Launch::New(Box::new(config.clone())),
            options,
            Some(self.waker()),
        )
        .map_err(|e| format!("cannot start the engine thread: {e}"))?;
        if autostart {
            session.send(Command::Resume);
        }
        let index = self.records.len();
        let mut record = RunRecord::new(label, palette::run_color(index), config);
        record.session = Some(session);
        record.spawned = Some(std::time::Instant::now());
        self.records.push(record);
        Ok(index)
    }

    /// Applies every waiting event of every engine (never blocks).
    pub fn drain(&mut self) {
        for run in &mut self.records {
            let mut events = Vec::new();
            let mut ended = false;
            if let Some(session) = &run.session {
                ended = session.is_finished();
                while let Some(e) = session.try_recv() {
                    events.push(e);
                }
            }
            for e in events {
                run.handle(e);
            }
            run.notice_a_silent_end(ended);
            if run.engine.status == RunStatus::Running && run.engine.it_per_s > 0.0 {
                self.speeds.insert(run.data_kind(), run.engine.it_per_s);
            }
        }
    }

    /// The latest speed measured for this kind of data, if any.
    pub fn speed(&self, kind: &str) -> Option<f64> {
        self.speeds.get(kind).copied()
    }

    /// Whether any engine is loaded and working.
    pub fn any_active(&self) -> bool {
        self.records.iter().any(|r| {
            r.is_live()
                && matches!(
                    r.engine.status,
                    RunStatus::Running | RunStatus::Preparing(..)
                )
        })
    }

    /// Stops every engine (final checkpoints) and waits for them.
    pub fn shutdown_all(&mut self) {
        for run in &mut self.records {
            if let Some(session) = run.session.take() {
                session.shutdown();
            }
        }
    }

    /// Options for a new engine.
    pub fn run_options(
        runs_dir: &Path,
        cache_dir: Option<PathBuf>,
        backend: BackendChoice,
        probe: Probe,
    ) -> RunOptions {
        RunOptions {
            runs_dir: Some(runs_dir.to_owned()),
            cache_dir,
            backend,
            probe,
        }
    }
}

#[cfg(test)]
mod tests {
    use sim_engine::metrics::ImageMetrics;
    use sim_engine::protocol::RunInfo;

    use super::*;

    /// The teacher's scores that `Ready` brings are kept for the curves (they cost a minute
    /// of multi-step sampling), with the sampler's cost: 18 Heun steps = 35 NFE.
    #[test]
    fn ready_keeps_the_teachers_scores() {
        let config = RunConfig::default();
        let mut record = RunRecord::new("r".into(), Color32::WHITE, config.clone());
        let metrics = Metrics::Image(ImageMetrics {
            fid: 5.6,
            is: 9.5,
            feature_net: "digits-CNN".into(),
            samples: 10,
        });
        record.handle(Event::Ready(Box::new(RunInfo {
            config,
            backend: "cpu (flex)".into(),
            dir: None,
            step: 0,
            modes: None,
            teacher_metrics: Some(metrics.clone()),
        })));
        assert_eq!(
            record.engine.teacher,
            Some(TeacherScore { metrics, nfe: 35 })
        );
        assert_eq!(record.engine.status, RunStatus::Paused);
    }
}
