//! `sim-workbench run`: a preset driven through the engine protocol, with a progress bar.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use sim_engine::device::BackendChoice;
use sim_engine::metrics::Metrics;
use sim_engine::protocol::{Command, Event, RunInfo};
use sim_engine::run::RunOptions;
use sim_engine::session::{Launch, PREPARING_GPU, Session};

use sim_workbench::presets;

/// Backend flag values.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default)]
pub enum BackendArg {
    /// CUDA where built in and working, else a hardware GPU through wgpu, else the CPU.
    #[default]
    Auto,
    /// Burn `flex` on the CPU.
    Cpu,
    /// Burn `wgpu` on the GPU.
    Gpu,
    /// Burn's CUDA backend on an NVIDIA GPU (a build with `--features sim-workbench/cuda`).
    Cuda,
}

impl From<BackendArg> for BackendChoice {
    fn from(b: BackendArg) -> Self {
        match b {
            BackendArg::Auto => Self::Auto,
            BackendArg::Cpu => Self::Cpu,
            BackendArg::Gpu => Self::Gpu,
            BackendArg::Cuda => Self::Cuda,
        }
    }
}

#[derive(Args, Debug, Default)]
pub struct RunArgs {
    /// Preset file or name in presets/ (default: the embedded default preset).
    pub preset: Option<PathBuf>,
    /// Parent folder of run folders.
    #[arg(long, default_value = "runs")]
    pub out: Option<PathBuf>,
    /// Override the number of iterations (with --resume: the new total, at least the
    /// iteration the run is at).
    #[arg(long)]
    pub iterations: Option<u64>,
    /// Override the seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override any preset field: --set distill.lr_generator=1e-3 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Resume the run in this folder instead of starting one. It continues under the config
    /// its newest checkpoint was written with, so that the folder keeps reproducing its run:
    /// only --iterations may change (a new total); --seed, --set and a preset are refused
    /// with it (start a new run from the folder's config.toml to change them).
    #[arg(long, conflicts_with_all = ["preset", "seed", "overrides"])]
    pub resume: Option<PathBuf>,
    /// Start a new run (a new folder under --out) that replays the run in this folder: the
    /// config it started with (start.toml) and its live tweaks at the iterations they took
    /// effect, so that its curve is the folder's, bit for bit on the CPU backend.
    #[arg(long, conflicts_with_all = ["preset", "seed", "overrides", "resume", "iterations"])]
    pub replay: Option<PathBuf>,
    /// Backend.
    #[arg(long, value_enum, default_value_t)]
    pub backend: BackendArg,
    /// Print the final metrics as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: RunArgs) -> Result<ExitCode> {
    let (launch, options) = launch(&args)?;
    let session = Session::spawn(launch, options, None)?;
    let mut watch = Watch::new();
    loop {
        // Read before waiting: once the thread has ended, every event it sent is queued.
        let ended = session.is_finished();
        let Some(event) = session.recv_timeout(Duration::from_millis(250)) else {
            // The elapsed time moves while the engine loads and prepares.
            watch.bar.tick();
            if ended {
                watch.bar.abandon();
                eprintln!("error: the engine stopped without finishing");
                return Ok(ExitCode::from(super::EXIT_CRASHED));
            }
            continue;
        };
        if let Some(exit) = watch.on(event, &session, args.json)? {
            session.shutdown();
            return Ok(exit);
        }
    }
}

/// What the arguments launch (a new run of the preset with its overrides, a resume or a
/// replay), and where.
fn launch(args: &RunArgs) -> Result<(Launch, RunOptions)> {
    let mut overrides = args.overrides.clone();
    if let Some(n) = args.iterations {
        overrides.push(format!("iterations={n}"));
    }
    if let Some(s) = args.seed {
        overrides.push(format!("seed={s}"));
    }
    let options = RunOptions {
        runs_dir: Some(args.out.clone().unwrap_or_else(|| PathBuf::from("runs"))),
        cache_dir: Some(presets::cache_dir()),
        backend: args.backend.into(),
        probe: sim_workbench::probe::adapter_probe(),
    };
    let launch = match (&args.resume, &args.replay) {
        (Some(dir), _) => Launch::Resume(dir.clone(), args.iterations),
        (None, Some(dir)) => Launch::Replay(dir.clone()),
        (None, None) => Launch::New(Box::new(presets::load(args.preset.as_deref(), &overrides)?)),
    };
    Ok((launch, options))
}

/// The command line's view of a run: the progress bar, and what the last lines report.
struct Watch {
    bar: ProgressBar,
    last: Option<Metrics>,
    /// Training seconds so far (pauses and evaluations left out, across resumes).
    wall_s: f64,
    run_dir: Option<PathBuf>,
    /// When the GPU's preparation started, while it lasts.
    preparing: Option<Instant>,
}

impl Watch {
    fn new() -> Self {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {per_sec} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Self {
            bar,
            last: None,
            wall_s: 0.0,
            run_dir: None,
            preparing: None,
        }
    }

    /// Shows one event; the exit code once the run has ended (an error when it failed).
    fn on(&mut self, event: Event, session: &Session, json: bool) -> Result<Option<ExitCode>> {
        match event {
            Event::Preparing { message, fraction } => self.preparing(message, fraction),
            Event::Ready(info) => {
                self.ready(&info);
                session.send(Command::Resume);
            }
            Event::Progress { step, wall_s, .. } => {
                self.bar.set_position(step);
                self.wall_s = wall_s;
            }
            Event::Evaluated { metrics, .. } => {
                self.bar.set_message(metrics.describe());
                self.last = Some(metrics);
            }
            Event::Diverged {
                step,
                reason,
                last_good,
            } => {
                self.bar.abandon();
                eprintln!(
                    "diverged at iteration {step}: {reason}; last good checkpoint: {}",
                    last_good
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| "none".into())
                );
                return Ok(Some(ExitCode::from(super::EXIT_DIVERGED)));
            }
            Event::Failed(message) => {
                self.bar.abandon();
                anyhow::bail!(message);
            }
            Event::Crashed(message) => {
                self.bar.abandon();
                eprintln!("error: {message}");
                return Ok(Some(ExitCode::from(super::EXIT_CRASHED)));
            }
            Event::Finished { step, metrics } => {
                self.finished(step, metrics, json);
                return Ok(Some(ExitCode::SUCCESS));
            }
            _ => {}
        }
        Ok(None)
    }

    /// Loading and the GPU's preparation: the bar's message, and how long the GPU took.
    fn preparing(&mut self, message: String, fraction: f32) {
        let gpu = message == PREPARING_GPU;
        if gpu && fraction < 1.0 {
            self.preparing = Some(Instant::now());
        } else if let Some(since) = self.preparing.take_if(|_| gpu) {
            say(
                &self.bar,
                format!("the GPU prepared in {:.1} s", since.elapsed().as_secs_f64()),
            );
        }
        if gpu || fraction >= 1.0 {
            self.bar.set_message(message);
        } else {
            self.bar
                .set_message(format!("{message} {:.0}%", fraction * 100.0));
        }
    }

    /// The run is loaded: its length, device and folder, and the teacher's scores.
    fn ready(&mut self, info: &RunInfo) {
        self.bar.set_length(info.config.iterations);
        self.bar.set_position(info.step);
        say(
            &self.bar,
            format!(
                "run {} on {}{}",
                info.config.name,
                info.backend,
                info.dir
                    .as_ref()
                    .map(|d| format!(", folder {}", d.display()))
                    .unwrap_or_default()
            ),
        );
        if let Some(teacher) = &info.teacher_metrics {
            say(
                &self.bar,
                format!(
                    "teacher ({} Heun steps): {}",
                    info.config.eval.teacher_steps,
                    teacher.describe()
                ),
            );
        }
        self.run_dir.clone_from(&info.dir);
    }

    /// The summary line, the folder, and with `json` the final scores as one JSON object. The
    /// speed is the whole run's: its iterations over its training seconds (the bar's live rate
    /// covers only the last second, and a short run's first second is mostly warm-up).
    fn finished(&mut self, step: u64, metrics: Option<Metrics>, json: bool) {
        self.bar.finish();
        let metrics = metrics.or(self.last.take());
        let wall_s = self.wall_s;
        let it_per_s = if wall_s > 0.0 {
            step as f64 / wall_s
        } else {
            0.0
        };
        println!(
            "finished {step} iterations in {wall_s:.1} s ({it_per_s:.1} it/s); {}",
            metrics.as_ref().map(Metrics::describe).unwrap_or_default()
        );
        if let Some(dir) = &self.run_dir {
            println!("run folder: {}", dir.display());
        }
        if json {
            let mut value = serde_json::to_value(&metrics).unwrap_or_default();
            value["step"] = serde_json::json!(step);
            value["wall_s"] = serde_json::json!(wall_s);
            value["it_per_s"] = serde_json::json!(it_per_s);
            println!("{value}");
        }
    }
}

/// A line above the progress bar, or on stderr when the bar is hidden (stderr is not a
/// terminal): the device, the GPU's preparation and the teacher's scores are read in logs too.
fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: RunArgs,
    }

    #[test]
    fn resume_takes_iterations_and_refuses_the_flags_it_cannot_honour() {
        let parse = |extra: &[&str]| {
            Wrapper::try_parse_from(["x", "--resume", "runs/r"].iter().chain(extra)).map(|w| w.args)
        };
        assert!(parse(&[]).is_ok());
        assert_eq!(
            parse(&["--iterations", "10"])
                .ok()
                .and_then(|a| a.iterations),
            Some(10)
        );
        for extra in [
            &["--seed", "3"][..],
            &["--set", "distill.lr_fake=1e-3"],
            &["presets/default.toml"],
        ] {
            let Err(err) = parse(extra) else {
                panic!("{extra:?} accepted with --resume")
            };
            let err = err.to_string();
            assert!(err.contains("cannot be used with"), "{extra:?}: {err}");
        }
    }
}
