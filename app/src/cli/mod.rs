//! The command line: with no subcommand it opens the GUI on the default preset; subcommands
//! run presets headless, train toy and image teachers and the classifiers behind image FID/IS,
//! score teachers and students, check the score-gradient theorem, and benchmark backends. One
//! file per subcommand.

mod bench;
mod devices;
mod eval;
mod gradcheck;
mod random_edm_teacher;
mod run;
mod train_classifier;
mod train_image_teacher;
mod train_teacher;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sim_engine::error::EngineError;
use sim_engine::pool::on_own_pool;
use sim_engine::validation::ValidationError;
use sim_workbench::presets;

/// Exit code for an engine that ended on an error it could not go on from (a panic).
pub const EXIT_CRASHED: u8 = 1;
/// Exit code for bad input (preset, flags, files).
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit code for a diverged run.
pub const EXIT_DIVERGED: u8 = 3;

#[derive(Parser, Debug)]
#[command(
    name = "sim-workbench",
    version,
    about = "Distil diffusion models into one-step generators with Score Implicit Matching"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    gui: GuiArgs,
}

/// Flags of the GUI (no subcommand).
#[derive(clap::Args, Debug)]
struct GuiArgs {
    /// Start distilling as soon as the window opens.
    #[arg(long)]
    autostart: bool,
    /// Close the window after this many seconds (prints throughput and frame times).
    #[arg(long, value_name = "SECONDS")]
    quit_after: Option<f64>,
    /// Parent folder of run folders.
    #[arg(long, default_value = "runs")]
    runs_dir: PathBuf,
    /// Open with this preset (file or name in presets/) instead of the last settings.
    #[arg(long)]
    preset: Option<PathBuf>,
    /// Backend for runs.
    #[arg(long, value_enum, default_value_t)]
    backend: run::BackendArg,
    /// Ignore the UI state saved by earlier sessions.
    #[arg(long)]
    fresh: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a preset headless (no PRESET = the default preset), writing a run folder.
    Run(run::RunArgs),
    /// Train an MLP teacher on a toy data set (for sample-only sets such as two moons).
    TrainTeacher(train_teacher::TrainTeacherArgs),
    /// Train an EDM U-Net teacher on images (the shipped 8×8 digits, Fashion-MNIST, …).
    TrainImageTeacher(train_image_teacher::TrainImageTeacherArgs),
    /// Train the CNN whose features and softmax give an image data set's FID and IS.
    TrainClassifier(train_classifier::TrainClassifierArgs),
    /// FID / IS of an image teacher at N Heun steps, or of a run's one-step student.
    Eval(eval::EvalArgs),
    /// Check the score-gradient theorem (Thm 3.1) on a Gaussian teacher and affine student.
    Gradcheck(gradcheck::GradcheckArgs),
    /// Time SIM iterations of a preset on one or more backends.
    Bench(bench::BenchArgs),
    /// List the wgpu adapters and what each `--backend` would run on.
    Devices(devices::DevicesArgs),
    /// Write EDM's CIFAR-10 DDPM++ with random weights (for timing the paper's presets).
    RandomEdmTeacher(random_edm_teacher::RandomEdmTeacherArgs),
}

/// Parses the command line and runs what it asks for.
pub fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                // CubeCL warns when two processes measured the same device throughput at once
                // and it kept one: expected with a shared cache (docs/platform.md, "On a GPU").
                tracing_subscriber::EnvFilter::new(
                    "warn,wgpu_hal=off,wgpu_core=off,cubecl_runtime::throughput::cache=error",
                )
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    // Before any device is touched (and after the log, so its warnings are seen): CubeCL's
    // caches under the workbench's, wherever it started.
    sim_engine::cubecl_setup::configure(&presets::cache_dir());
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Run(args)) => run::run(args),
        None => gui(cli.gui),
        // The commands that compute here run on a pool joined before they return (a parallel
        // kernel outside one would start rayon's global pool, whose threads never end);
        // `run` and the GUI compute on their engines' pools.
        Some(Command::TrainTeacher(args)) => on_own_pool(|| train_teacher::run(args)),
        Some(Command::TrainImageTeacher(args)) => on_own_pool(|| train_image_teacher::run(args)),
        Some(Command::TrainClassifier(args)) => on_own_pool(|| train_classifier::run(args)),
        Some(Command::Eval(args)) => on_own_pool(|| eval::run(args)),
        Some(Command::Gradcheck(args)) => on_own_pool(|| gradcheck::run(args)),
        Some(Command::Bench(args)) => bench::run(args),
        Some(Command::Devices(args)) => devices::run(args),
        Some(Command::RandomEdmTeacher(args)) => on_own_pool(|| random_edm_teacher::run(args)),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            let diverged = e.chain().any(|cause| {
                matches!(
                    cause.downcast_ref::<EngineError>(),
                    Some(EngineError::NonFinite { .. })
                )
            });
            ExitCode::from(if diverged {
                EXIT_DIVERGED
            } else {
                EXIT_BAD_INPUT
            })
        }
    }
}

/// A settings error seen from the command line: the field `max_shift` is the flag
/// `--max-shift`, or the flag `renamed` gives for it (`[("max_shift", "shift")]`).
pub fn flag_error(e: ValidationError, renamed: &[(&str, &str)]) -> anyhow::Error {
    let key = renamed
        .iter()
        .find(|(field, _)| *field == e.key)
        .map_or(e.key.replace('_', "-"), |(_, flag)| (*flag).to_owned());
    anyhow::anyhow!("--{key}: {}", e.message)
}

/// The error of a training whose loss turned non-finite at `step`: nothing is written to
/// `out` (exit [`EXIT_DIVERGED`]).
pub fn diverged(step: u64, loss: f64, out: &std::path::Path, lr: f64) -> ExitCode {
    eprintln!(
        "error: training diverged at step {step} (loss {loss}); nothing was written to {} — \
         retrain with a lower --lr (now {lr:.1e})",
        out.display()
    );
    ExitCode::from(EXIT_DIVERGED)
}

fn gui(args: GuiArgs) -> anyhow::Result<ExitCode> {
    if let Some(seconds) = args.quit_after {
        sim_engine::validation::positive("quit_after", seconds, "seconds, such as 30")
            .map_err(|e| flag_error(e, &[]))?;
    }
    let config = match &args.preset {
        Some(p) => Some(presets::load(Some(p), &[])?),
        None => None,
    };
    sim_workbench::gui::run(sim_workbench::gui::GuiOptions {
        autostart: args.autostart,
        quit_after: args.quit_after,
        runs_dir: args.runs_dir,
        presets_dir: PathBuf::from("presets"),
        cache_dir: Some(presets::cache_dir()),
        config,
        backend: args.backend.into(),
        probe: sim_workbench::probe::adapter_probe(),
        fresh: args.fresh,
    })?;
    Ok(ExitCode::SUCCESS)
}
