//! `sim-workbench eval`: FID / IS of an image teacher at N Heun steps, or of a run's one-step
//! student at a checkpoint, on M samples. Reference statistics are cached per data set and
//! classifier (`~/.cache/sim-workbench`, `$SIM_WORKBENCH_CACHE`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;
use sim_engine::config::MAX_EVAL_SAMPLES;
use sim_engine::device::select;
use sim_engine::diffusion::sampler::{Integrator, MAX_STEPS};
use sim_engine::metrics::Metrics;
use sim_engine::run::image::{ImageJudge, score_teacher};
use sim_engine::run::{Run, RunOptions};
use sim_engine::teacher::image::load_image_teacher;
use sim_engine::validation::count;

use super::run::BackendArg;
use sim_workbench::presets;

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Image teacher file to score with Heun sampling (e.g. assets/teachers/digits-cond.safetensors).
    #[arg(long, required_unless_present = "run", conflicts_with = "run")]
    teacher: Option<PathBuf>,
    /// Heun steps of the teacher, one score each (EDM Algorithm 1: N steps = 2N − 1 network
    /// evaluations).
    #[arg(long, num_args = 1.., default_values_t = [18], conflicts_with = "run")]
    steps: Vec<usize>,
    /// Run folder whose one-step student (the EMA generator) to score.
    #[arg(long)]
    run: Option<PathBuf>,
    /// Checkpoint of --run to score, by iteration (default: the newest).
    #[arg(long, requires = "run")]
    step: Option<u64>,
    /// Samples to score (conditional: the classes in turn).
    #[arg(long, default_value_t = 1000)]
    samples: usize,
    /// Seed of the sampling noise (default: 0 for a teacher, the run's seed for a student, so
    /// the numbers compare with the run's own evaluations).
    #[arg(long)]
    seed: Option<u64>,
    /// Classifier file whose features and softmax give FID and IS (default: the one shipped
    /// for the data set).
    #[arg(long)]
    classifier: Option<PathBuf>,
    /// Backend.
    #[arg(long, value_enum, default_value_t)]
    backend: BackendArg,
    /// Print each score as one JSON object per line on stdout (instead of a table).
    #[arg(long)]
    json: bool,
}

pub fn run(args: EvalArgs) -> Result<ExitCode> {
    // FID needs two samples at least (a covariance), Heun sampling one step.
    count("samples", args.samples as u64, 2, MAX_EVAL_SAMPLES as u64)
        .map_err(|e| super::flag_error(e, &[]))?;
    for &steps in &args.steps {
        count("steps", steps as u64, 1, MAX_STEPS as u64).map_err(|e| super::flag_error(e, &[]))?;
    }
    match (&args.teacher, &args.run) {
        (Some(path), _) => teacher(path, &args),
        (None, Some(folder)) => student(folder, &args),
        (None, None) => anyhow::bail!("give --teacher FILE or --run FOLDER"),
    }
}

/// Scores the teacher at each of `--steps`.
fn teacher(path: &Path, args: &EvalArgs) -> Result<ExitCode> {
    let selected = select(args.backend.into(), &sim_workbench::probe::adapter_probe())?;
    let device = selected.device.inner();
    let teacher = load_image_teacher(path, &device)?;
    let cache = presets::cache_dir();
    let judge =
        ImageJudge::for_teacher(args.classifier.as_deref(), &teacher, Some(&cache), &device)?;
    let seed = args.seed.unwrap_or(0);
    let unet = &teacher.info.unet;
    if !args.json {
        println!(
            "teacher {} ({}, {}×{}×{}) on {}: {} samples, seed {seed}",
            path.display(),
            match unet.classes {
                0 => "unconditional".to_string(),
                c => format!("{c} classes, each {}×", args.samples / c),
            },
            unet.image_channels,
            unet.image_size,
            unet.image_size,
            selected.description,
            args.samples,
        );
    }
    for (row, &steps) in args.steps.iter().enumerate() {
        let started = Instant::now();
        let metrics = score_teacher(&teacher.net, &judge, args.samples, steps, seed)
            .with_context(|| format!("scoring {} at {steps} Heun steps", path.display()))?;
        let seconds = started.elapsed().as_secs_f64();
        let nfe = Integrator::Heun.nfe(steps);
        if args.json {
            let mut line = serde_json::to_value(Metrics::Image(metrics))?;
            line["teacher"] = json!(path);
            line["steps"] = json!(steps);
            line["nfe"] = json!(nfe);
            line["seed"] = json!(seed);
            line["seconds"] = json!(seconds);
            println!("{line}");
        } else {
            if row == 0 {
                println!(
                    "{:>6} {:>5} {:>22} {:>20} {:>9}",
                    "steps",
                    "NFE",
                    metrics.fid_label(),
                    metrics.is_label(),
                    "seconds"
                );
            }
            println!(
                "{steps:>6} {nfe:>5} {:>22.2} {:>20.3} {seconds:>9.1}",
                metrics.fid, metrics.is
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Scores the student of `--run` at one checkpoint.
fn student(folder: &Path, args: &EvalArgs) -> Result<ExitCode> {
    let mut overrides = vec![format!("eval.samples={}", args.samples)];
    if let Some(seed) = args.seed {
        overrides.push(format!("seed={seed}"));
    }
    if let Some(path) = &args.classifier {
        overrides.push(format!("eval.classifier=\"{}\"", path.display()));
    }
    let options = RunOptions {
        runs_dir: None,
        cache_dir: Some(presets::cache_dir()),
        backend: args.backend.into(),
        probe: sim_workbench::probe::adapter_probe(),
    };
    let run = Run::open(folder, args.step, &overrides, &options)?;
    let started = Instant::now();
    let metrics = run.score()?;
    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        let mut line = serde_json::to_value(&metrics)?;
        line["run"] = json!(folder);
        line["step"] = json!(run.step_index());
        line["seed"] = json!(run.config().seed);
        line["seconds"] = json!(seconds);
        println!("{line}");
    } else {
        println!(
            "student of {} at iteration {} (one step, {} samples, seed {}): {} ({seconds:.1} s)",
            folder.display(),
            run.step_index(),
            args.samples,
            run.config().seed,
            metrics.describe()
        );
    }
    Ok(ExitCode::SUCCESS)
}
