//! The engine thread and its handle: a driver sends `Command`s and drains `Event`s; the engine
//! checks its queue between iterations and wakes the driver after each event.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError, unbounded};

use crate::config::RunConfig;
use crate::device::select;
use crate::distill::iteration::IterationStats;
use crate::error::{EngineError, MetricError};
use crate::pool::on_own_pool;
use crate::protocol::{Command, Event};
use crate::run::{Run, RunOptions};

/// How often a running engine reports its device's memory (`Event::Memory`): reading it waits
/// for the GPU's queue, so not every iteration.
const MEMORY_EVERY: Duration = Duration::from_secs(2);

/// The engine thread's name (every thread the workbench starts is named `sim-…`).
pub const THREAD_NAME: &str = "sim-engine";

/// Called after every event, e.g. `ctx.request_repaint()`.
pub type Waker = Box<dyn Fn() + Send>;

/// What the engine thread loads.
#[derive(Clone, Debug)]
pub enum Launch {
    /// A new run of this config.
    New(Box<RunConfig>),
    /// Resume the run in this folder, with a new total of iterations when given.
    Resume(PathBuf, Option<u64>),
    /// A new run that replays the run in this folder, its tweaks included (`Run::replay`).
    Replay(PathBuf),
    /// No run: the GPU prepared for a run of this config while its user sets it up — loaded
    /// without a folder, one iteration rehearsed and one evaluation, so that the kernels of
    /// both are compiled and tuned in this process (`Run::prepare`); ends with `Prepared`,
    /// or sooner at `Stop` (checked between those steps).
    Prepare(Box<RunConfig>),
}

/// What the status bar and the CLI say while a GPU prepares (`Run::prepare`).
pub const PREPARING_GPU: &str = "preparing the GPU: compiling and tuning the iteration's kernels \
     (once per run shape and process; the first time on a device takes minutes)";

/// The driver's end of an engine thread.
pub struct Session {
    commands: Sender<Command>,
    events: Receiver<Event>,
    thread: Option<JoinHandle<()>>,
}

impl Session {
    /// Starts an engine thread ([`THREAD_NAME`]); it loads the run, reports `Ready`, and waits
    /// paused for `Command::Resume` or `Command::Step`. A panic anywhere in the engine (its
    /// thread or its pool's workers) ends the thread with `Event::Crashed`, never silently.
    pub fn spawn(
        launch: Launch,
        options: RunOptions,
        waker: Option<Waker>,
    ) -> std::io::Result<Self> {
        let (command_tx, command_rx) = unbounded();
        let (event_tx, event_rx) = unbounded();
        let thread = std::thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || {
                let mut engine = Engine {
                    events: event_tx,
                    waker,
                };
                let ran = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    on_own_pool(|| engine.run(launch, &options, &command_rx));
                }));
                if let Err(panic) = ran {
                    engine.emit(Event::Crashed(format!(
                        "the engine panicked: {}",
                        panic_message(panic.as_ref())
                    )));
                }
            })?;
        Ok(Self {
            commands: command_tx,
            events: event_rx,
            thread: Some(thread),
        })
    }

    /// Sends a command; `false` when the engine has ended.
    pub fn send(&self, command: Command) -> bool {
        self.commands.send(command).is_ok()
    }

    /// The next event, if one is waiting (never blocks).
    pub fn try_recv(&self) -> Option<Event> {
        self.events.try_recv().ok()
    }

    /// The next event, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Event> {
        self.events.recv_timeout(timeout).ok()
    }

    /// Whether the engine thread has ended.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Stops the engine (final checkpoint) and waits for its thread.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        let _ = self.commands.send(Command::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

struct Engine {
    events: Sender<Event>,
    waker: Option<Waker>,
}

/// Running state between commands.
struct Control {
    running: bool,
    /// Iterations left of a `Step(n)`; `None` = run until paused.
    budget: Option<u64>,
    last_good: Option<PathBuf>,
    stop: bool,
    /// The state is diverged: never checkpoint it.
    diverged: bool,
}

impl Engine {
    fn emit(&self, event: Event) {
        let _ = self.events.send(event);
        if let Some(wake) = &self.waker {
            wake();
        }
    }

    /// Loads the launch's run and prepares it on a GPU; then answers a preparation alone, or
    /// drives the run.
    fn run(&mut self, launch: Launch, options: &RunOptions, commands: &Receiver<Command>) {
        let started = Instant::now();
        let prepare_only = matches!(launch, Launch::Prepare(_));
        let Some(mut run) = self.load(launch, options, started) else {
            return;
        };
        let stopped = || matches!(commands.try_recv(), Ok(Command::Stop));
        if run.needs_preparation() {
            if prepare_only && stopped() {
                return;
            }
            self.preparing(PREPARING_GPU, 0.0);
            if let Some(seconds) = run.prepare() {
                tracing::info!(
                    "{}: the iteration's kernels prepared in {seconds:.1} s",
                    run.config().name
                );
            }
            self.preparing(PREPARING_GPU, 1.0);
        }
        if prepare_only {
            return self.finish_preparation(&mut run, started, stopped);
        }
        self.drive(run, commands);
    }

    /// What the status bar and the CLI show while a run loads or a GPU prepares.
    fn preparing(&self, message: &str, fraction: f32) {
        self.emit(Event::Preparing {
            message: message.to_owned(),
            fraction,
        });
    }

    /// The launch's run, or `None` once the launch has been answered: a failure, or a
    /// preparation on the CPU, where there is nothing to prepare.
    fn load(&self, launch: Launch, options: &RunOptions, started: Instant) -> Option<Run> {
        let mut progress = |message: &str, fraction: f32| self.preparing(message, fraction);
        let loaded = match launch {
            Launch::New(config) => Run::start(*config, options, &mut progress),
            Launch::Resume(dir, iterations) => Run::resume(&dir, iterations, options),
            Launch::Replay(dir) => Run::replay(&dir, options, &mut progress),
            Launch::Prepare(config) => {
                // On the CPU there is nothing to prepare: answer before loading anything (an
                // image preset's loading scores its teacher, minutes of CPU).
                if select(options.backend, &options.probe).is_ok_and(|s| s.on_cpu) {
                    self.emit(Event::Prepared {
                        seconds: started.elapsed().as_secs_f64(),
                        on_gpu: false,
                    });
                    return None;
                }
                let unsaved = RunOptions {
                    runs_dir: None,
                    ..options.clone()
                };
                Run::start(*config, &unsaved, &mut progress)
            }
        };
        loaded
            .map_err(|e| self.emit(Event::Failed(e.to_string())))
            .ok()
    }

    /// The end of a preparation alone (`Launch::Prepare`): on a GPU, the evaluation's kernels
    /// too, unless stopped; then `Prepared`.
    fn finish_preparation(&self, run: &mut Run, started: Instant, stopped: impl Fn() -> bool) {
        if run.on_gpu() {
            if stopped() {
                return;
            }
            self.preparing("preparing the GPU: the evaluation's kernels", 0.0);
            if let Err(e) = run.evaluate() {
                return self.emit(Event::Failed(e.to_string()));
            }
        }
        self.emit(Event::Prepared {
            seconds: started.elapsed().as_secs_f64(),
            on_gpu: run.on_gpu(),
        });
    }

    /// Drives a loaded run: its first checkpoint and evaluation, then iterations while running,
    /// commands between them, until it is stopped or abandoned.
    fn drive(&mut self, mut run: Run, commands: &Receiver<Command>) {
        let mut control = Control {
            running: false,
            budget: None,
            last_good: run.latest_checkpoint(),
            stop: false,
            diverged: false,
        };
        if run.step_index() == 0 {
            match run.checkpoint() {
                Ok(path) => control.last_good = path,
                Err(e) => return self.emit(Event::Failed(e.to_string())),
            }
        }
        self.emit(Event::Ready(Box::new(run.info())));
        self.evaluate_now(&mut run, true);
        let mut meter = RateMeter::new(run.step_index());
        let mut memory_read: Option<Instant> = None;
        loop {
            self.take_commands(&mut run, &mut control, &mut meter, commands);
            if control.stop {
                return self.finish(&mut run, &mut control);
            }
            if run.step_index() >= run.config().iterations {
                run.set_clock_running(false);
                self.finish(&mut run, &mut control);
                control.running = false;
                // Stay loaded (the GUI keeps looking) until told to stop or abandoned.
                match commands.recv() {
                    Ok(Command::Stop) | Err(_) => return,
                    Ok(other) => {
                        self.handle(other, &mut run, &mut control);
                        continue;
                    }
                }
            }
            for tweak in run.due_tweaks() {
                self.handle(Command::Tweak(tweak), &mut run, &mut control);
            }
            let stats = match run.step() {
                Ok(stats) => stats,
                Err(e) => return self.emit(Event::Crashed(e.to_string())),
            };
            self.after_iteration(&mut run, &mut control, stats, &mut meter, &mut memory_read);
        }
    }

    /// Between iterations: every waiting command, blocking while paused. Training time runs
    /// exactly while iterations do.
    fn take_commands(
        &mut self,
        run: &mut Run,
        control: &mut Control,
        meter: &mut RateMeter,
        commands: &Receiver<Command>,
    ) {
        loop {
            run.set_clock_running(control.running);
            let command = if control.running {
                match commands.try_recv() {
                    Ok(c) => c,
                    Err(TryRecvError::Empty) => return,
                    Err(TryRecvError::Disconnected) => {
                        control.stop = true;
                        return;
                    }
                }
            } else {
                match commands.recv_timeout(Duration::from_millis(200)) {
                    Ok(c) => c,
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => {
                        control.stop = true;
                        return;
                    }
                }
            };
            self.handle(command, run, control);
            if control.stop {
                return;
            }
            if control.running {
                meter.restart(run.step_index());
            }
        }
    }

    /// After each iteration: its progress, the device's memory (every [`MEMORY_EVERY`]) and
    /// the diagnostics reported; then the divergence guard, the evaluation and the checkpoint
    /// when due, and a `Step(n)`'s budget.
    fn after_iteration(
        &self,
        run: &mut Run,
        control: &mut Control,
        stats: IterationStats,
        meter: &mut RateMeter,
        memory_read: &mut Option<Instant>,
    ) {
        let step = run.step_index();
        self.emit(Event::Progress {
            step,
            wall_s: run.wall_s(),
            it_per_s: meter.tick(step),
            stats: stats.clone(),
        });
        crate::fault::check(&run.config().name, step);
        if memory_read.is_none_or(|t| t.elapsed() >= MEMORY_EVERY) {
            *memory_read = Some(Instant::now());
            if let Some(memory) = run.memory() {
                self.emit(Event::Memory(memory));
            }
        }
        if let Some(diagnostics) = run.take_diagnostics() {
            self.emit(Event::Diagnostics {
                step,
                diagnostics: Box::new(diagnostics),
            });
        }
        if let Some(reason) = divergence(&stats, run.config().checkpoint.divergence_limit) {
            return self.diverge(control, step, reason);
        }
        let eval = &run.config().eval;
        if eval.is_due(step) {
            let snapshot = eval.snapshot_every > 0 && step.is_multiple_of(eval.snapshot_every);
            if let Some(reason) = self.evaluate(run, snapshot) {
                return self.diverge(control, step, reason);
            }
        }
        let every = run.config().checkpoint.every;
        if every > 0 && step.is_multiple_of(every) {
            self.checkpoint(run, control);
        }
        if let Some(left) = control.budget.as_mut() {
            *left = left.saturating_sub(1);
            if *left == 0 {
                control.running = false;
                control.budget = None;
                self.emit(Event::Paused { step });
            }
        }
    }

    fn handle(&mut self, command: Command, run: &mut Run, control: &mut Control) {
        let step = run.step_index();
        match command {
            Command::Resume if control.diverged => self.emit(Event::Failed(
                "the run diverged: roll back to the last good checkpoint before resuming".into(),
            )),
            Command::Resume => {
                control.running = true;
                control.budget = None;
                self.emit(Event::Running { step });
            }
            Command::Pause => {
                control.running = false;
                control.budget = None;
                self.emit(Event::Paused { step });
            }
            Command::Step(_) if control.diverged => self.emit(Event::Failed(
                "the run diverged: roll back to the last good checkpoint before stepping".into(),
            )),
            Command::Step(n) if n > 0 => {
                control.running = true;
                control.budget = Some(n);
                self.emit(Event::Running { step });
            }
            Command::Step(_) => {}
            Command::Tweak(tweak) => match run.apply(&tweak) {
                Ok(()) => self.emit(Event::Applied { step, tweak }),
                Err(reason) => self.emit(Event::Rejected { tweak, reason }),
            },
            Command::SaveCheckpoint => self.checkpoint(run, control),
            Command::RollBack => match control.last_good.clone() {
                Some(path) => match run.restore(&path) {
                    Ok(()) => {
                        control.running = false;
                        control.diverged = false;
                        self.emit(Event::Paused {
                            step: run.step_index(),
                        });
                        self.evaluate_now(run, false);
                    }
                    Err(e) => self.emit(Event::Failed(e.to_string())),
                },
                None => self.emit(Event::Failed(
                    "no checkpoint to roll back to (runs without a run folder keep none)".into(),
                )),
            },
            Command::ViewSteps(steps) => {
                run.set_view_steps(steps);
                self.evaluate_now(run, false);
            }
            Command::ScoreField {
                sigma,
                grid,
                extent,
            } => match run.score_field(sigma, grid, extent) {
                Ok(field) => self.emit(Event::ScoreField(field)),
                Err(e) => self.emit(Event::Failed(e.to_string())),
            },
            Command::Stop => control.stop = true,
        }
    }

    /// Pauses a run whose state diverged at `step`, and says so.
    fn diverge(&self, control: &mut Control, step: u64, reason: String) {
        control.running = false;
        control.diverged = true;
        self.emit(Event::Diverged {
            step,
            reason,
            last_good: control.last_good.clone(),
        });
        self.emit(Event::Paused { step });
    }

    /// Evaluates the EMA generator and reports it. Samples of the student that are not finite
    /// are a divergence the losses did not show: returned, for the caller to treat as one.
    /// Any other failure is reported.
    fn evaluate(&self, run: &mut Run, snapshot: bool) -> Option<String> {
        let started = Instant::now();
        match run.evaluate() {
            Ok((metrics, view)) => {
                let eval_s = started.elapsed().as_secs_f64();
                if snapshot && let Err(e) = run.snapshot(&view) {
                    self.emit(Event::Failed(e.to_string()));
                }
                self.emit(Event::Evaluated {
                    step: run.step_index(),
                    metrics,
                    eval_s,
                });
                self.emit(Event::Samples(view));
                None
            }
            Err(EngineError::Metric(e @ MetricError::NonFiniteGenerated { .. })) => {
                Some(e.to_string())
            }
            Err(e) => {
                self.emit(Event::Failed(e.to_string()));
                None
            }
        }
    }

    /// [`Engine::evaluate`] where no iteration ran just before (load, roll-back, a new view):
    /// non-finite samples are reported as a failure.
    fn evaluate_now(&self, run: &mut Run, snapshot: bool) {
        if let Some(reason) = self.evaluate(run, snapshot) {
            self.emit(Event::Failed(reason));
        }
    }

    fn checkpoint(&self, run: &Run, control: &mut Control) {
        if control.diverged {
            return self.emit(Event::Failed(
                "not writing a checkpoint of a diverged state; roll back first".into(),
            ));
        }
        match run.checkpoint() {
            Ok(Some(path)) => {
                control.last_good = Some(path.clone());
                self.emit(Event::Checkpointed {
                    step: run.step_index(),
                    path,
                });
            }
            Ok(None) => {}
            Err(e) => self.emit(Event::Failed(e.to_string())),
        }
    }

    /// Final evaluation and checkpoint (never of a diverged state).
    fn finish(&self, run: &mut Run, control: &mut Control) {
        let step = run.step_index();
        if control.diverged {
            return self.emit(Event::Finished {
                step,
                metrics: None,
            });
        }
        // The loop evaluated this step already when it falls on the cadence.
        let metrics = run.evaluate_once().ok().map(|(m, view)| {
            let _ = run.snapshot(&view);
            self.emit(Event::Samples(view));
            m
        });
        self.checkpoint(run, control);
        self.emit(Event::Finished { step, metrics });
    }
}

/// What a panic said: its message when it was given one (`panic!("…")`, `assert!`), else a
/// placeholder.
fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// Why these stats mean divergence, if they do.
pub fn divergence(stats: &IterationStats, limit: f64) -> Option<String> {
    let checks = [
        ("generator loss", stats.loss_generator),
        ("fake-denoiser loss", stats.loss_fake),
        ("generator gradient norm", stats.grad_norm_generator),
        ("fake-denoiser gradient norm", stats.grad_norm_fake),
    ];
    checks.iter().find_map(|(name, v)| {
        if !v.is_finite() {
            Some(format!("{name} is {v}"))
        } else if v.abs() > limit {
            Some(format!(
                "{name} {v:.3e} exceeds the divergence limit {limit:.1e}"
            ))
        } else {
            None
        }
    })
}

/// Iterations per second over a sliding window of about one second.
struct RateMeter {
    window_start: Instant,
    window_step: u64,
    rate: f64,
}

impl RateMeter {
    fn new(step: u64) -> Self {
        Self {
            window_start: Instant::now(),
            window_step: step,
            rate: 0.0,
        }
    }

    fn restart(&mut self, step: u64) {
        self.window_start = Instant::now();
        self.window_step = step;
    }

    fn tick(&mut self, step: u64) -> f64 {
        let elapsed = self.window_start.elapsed().as_secs_f64();
        let done = step.saturating_sub(self.window_step);
        if self.rate == 0.0 && elapsed > 0.0 {
            self.rate = done as f64 / elapsed;
        }
        if elapsed >= 1.0 {
            self.rate = done as f64 / elapsed;
            self.restart(step);
        }
        self.rate
    }
}
