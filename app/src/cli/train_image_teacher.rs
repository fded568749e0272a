//! `sim-workbench train-image-teacher`: an EDM U-Net teacher for an image data set, with
//! checkpoints and `--resume`, saved as safetensors (EMA weights + provenance) with a grid of
//! Heun samples next to it.
//!
//! A command of its own rather than a mode of `train-teacher`: that one trains an MLP from a
//! distillation preset (`[data]`, `[net]`, cosine schedule, no checkpoints), and its flags and
//! `--set` keys would mean something else for a U-Net on images.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use sim_engine::device::select;
use sim_engine::diffusion::sampler::MAX_STEPS;
use sim_engine::teacher::image::{ImageTeacherSettings, ImageTrainer, write_sample_grid};
use sim_engine::validation::count;

use super::run::BackendArg;

/// Data sets that need no path.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum DataArg {
    /// scikit-learn's 8×8 handwritten digits (shipped, 1,797 images, 10 classes).
    Digits,
    /// Fashion-MNIST training split (`apt install dataset-fashion-mnist`), padded to 32×32.
    FashionMnist,
}

#[derive(Args, Debug)]
pub struct TrainImageTeacherArgs {
    /// Data set; others with --set, e.g. --set data.kind=cifar10 --set data.dir=DIR.
    #[arg(long, value_enum, conflicts_with = "resume")]
    data: Option<DataArg>,
    /// Condition the U-Net on the class labels (one-hot).
    #[arg(long, conflicts_with = "resume")]
    conditional: bool,
    /// Output teacher file (EMA weights + metadata); the sample grid
    /// `<stem>-heun<N>.png` is written next to it.
    #[arg(long)]
    out: PathBuf,
    /// Total Adam steps (with --resume: the new total).
    #[arg(long)]
    steps: Option<u64>,
    /// Images per step.
    #[arg(long, conflicts_with = "resume")]
    batch: Option<usize>,
    /// Peak learning rate (after the linear warm-up).
    #[arg(long, conflicts_with = "resume")]
    lr: Option<f64>,
    /// Seed of the initialisation and of every batch.
    #[arg(long, conflicts_with = "resume")]
    seed: Option<u64>,
    /// Override any setting: --set unet.channels=24 --set unet.channel_mult=[1,2]
    /// --set unet.attention=true --set warmup_steps=500 (repeatable; the flags above win).
    #[arg(long = "set", value_name = "KEY=VALUE", conflicts_with = "resume")]
    overrides: Vec<String>,
    /// Continue the run saved in this checkpoint, with its settings, bit for bit.
    #[arg(long, value_name = "CKPT")]
    resume: Option<PathBuf>,
    /// Checkpoint file, written every --checkpoint-every steps and at the end (default:
    /// `<stem>.ckpt.safetensors` next to --out; with --resume, the resumed file).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Steps between checkpoints (0 = only at the end).
    #[arg(long, default_value_t = 500)]
    checkpoint_every: u64,
    /// Heun steps of the sample grid (EDM Algorithm 1: 18 steps = 35 network evaluations).
    #[arg(long, default_value_t = 18)]
    sample_steps: usize,
    /// Backend.
    #[arg(long, value_enum, default_value_t)]
    backend: BackendArg,
}

pub fn run(args: TrainImageTeacherArgs) -> Result<ExitCode> {
    count(
        "sample_steps",
        args.sample_steps as u64,
        1,
        MAX_STEPS as u64,
    )
    .map_err(|e| super::flag_error(e, &[]))?;
    let command = command_line();
    let selected = select(args.backend.into(), &sim_workbench::probe::adapter_probe())?;
    let device = selected.device;
    let (mut trainer, checkpoint) = match &args.resume {
        Some(path) => {
            let settings = ImageTrainer::checkpoint_settings(path)?;
            let data = settings.load_data()?;
            let trainer = ImageTrainer::resume(path, data, &device, &command)?;
            (
                trainer,
                args.checkpoint.clone().unwrap_or_else(|| path.clone()),
            )
        }
        None => {
            let settings = ImageTeacherSettings::from_overrides(&overrides(&args))?;
            let data = settings.load_data()?;
            let trainer = ImageTrainer::new(settings, data, &device, &command)?;
            let default = with_suffix(&args.out, ".ckpt.safetensors");
            (trainer, args.checkpoint.clone().unwrap_or(default))
        }
    };
    if let Some(steps) = args.steps {
        trainer
            .set_total_steps(steps)
            .map_err(|e| super::flag_error(e, &[]))?;
    }
    let total = trainer.settings().steps;
    describe(&trainer, &selected.description);

    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("[{elapsed_precise}] {bar:30} {pos}/{len} {per_sec} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_position(trainer.step_count());
    bar.reset_eta();
    let say = |line: String| {
        if bar.is_hidden() {
            println!("{line}");
        } else {
            bar.println(line);
        }
    };
    let dim = trainer.unet_config().dim() as f64;
    let (start_step, started) = (trainer.step_count(), Instant::now());
    let mut smoothed: Option<f64> = None;
    while trainer.step_count() < total {
        let report = trainer.step();
        // A gradient norm past f32 is as diverged as a loss that is not finite (and would be
        // printed as inf).
        if !(report.loss.is_finite() && report.grad_norm.is_finite()) {
            bar.abandon();
            eprintln!(
                "diverged at step {}: loss {}, gradient norm {}; the last checkpoint is {} — \
                 retrain with a lower --lr (now {:.1e})",
                report.step,
                report.loss,
                report.grad_norm,
                checkpoint.display(),
                trainer.settings().lr
            );
            return Ok(ExitCode::from(super::EXIT_DIVERGED));
        }
        let per_px = report.loss / dim;
        let s = smoothed.map_or(per_px, |s| 0.98 * s + 0.02 * per_px);
        smoothed = Some(s);
        bar.set_position(report.step);
        bar.set_message(format!("loss/px {s:.4} (smoothed) lr {:.1e}", report.lr));
        if args.checkpoint_every > 0 && report.step % args.checkpoint_every == 0 {
            trainer.save_checkpoint(&checkpoint)?;
            let rate = (report.step - start_step) as f64 / started.elapsed().as_secs_f64();
            say(format!(
                "step {}: loss/px {s:.4} (smoothed), grad norm {:.3}, {rate:.2} it/s; \
                 checkpoint {}",
                report.step,
                report.grad_norm,
                checkpoint.display()
            ));
        }
    }
    bar.finish();
    trainer.save_checkpoint(&checkpoint)?;
    let info = trainer.save_teacher(&args.out)?;
    let size = std::fs::metadata(&args.out)
        .with_context(|| format!("reading back {}", args.out.display()))?
        .len();
    let stem_grid = format!("-heun{}.png", args.sample_steps);
    let grid = with_suffix(&args.out, &stem_grid);
    let scale = (32 / info.unet.image_size).max(1) as u32;
    write_sample_grid(trainer.ema(), &grid, 10, args.sample_steps, 0, scale)?;
    println!(
        "teacher saved to {} ({} steps, {:.0} s of training, {:.1} kB); checkpoint {}; \
         samples ({} Heun steps) {}",
        args.out.display(),
        info.steps,
        info.wall_time_s,
        size as f64 / 1024.0,
        checkpoint.display(),
        args.sample_steps,
        grid.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The settings overrides the flags stand for, after the user's `--set` items.
fn overrides(args: &TrainImageTeacherArgs) -> Vec<String> {
    let mut out = args.overrides.clone();
    match args.data {
        Some(DataArg::Digits) => out.push("data.kind=digits".into()),
        Some(DataArg::FashionMnist) => {
            out.push("data.kind=fashion_mnist".into());
            out.push("pad_to=32".into());
        }
        None => {}
    }
    if args.conditional {
        out.push("conditional=true".into());
    }
    let flags = [
        ("steps", args.steps.map(|v| v.to_string())),
        ("batch", args.batch.map(|v| v.to_string())),
        ("lr", args.lr.map(|v| format!("{v:e}"))),
        ("seed", args.seed.map(|v| v.to_string())),
    ];
    out.extend(
        flags
            .into_iter()
            .filter_map(|(key, value)| value.map(|v| format!("{key}={v}"))),
    );
    out
}

/// `dir/stem.safetensors` → `dir/stem<suffix>`.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "teacher".into());
    path.with_file_name(format!("{stem}{suffix}"))
}

/// The command line as typed (arguments with spaces quoted), for the teacher's provenance.
fn command_line() -> String {
    std::env::args()
        .enumerate()
        .map(|(i, a)| {
            let a = if i == 0 {
                "sim-workbench".to_owned()
            } else {
                a
            };
            if a.contains(' ') || a.is_empty() {
                format!("'{a}'")
            } else {
                a
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One line on what is being trained.
fn describe(trainer: &ImageTrainer, device: &str) {
    let (s, u, data) = (trainer.settings(), trainer.unet_config(), trainer.data());
    let classes = if u.classes > 0 {
        format!(", conditional on {} classes", u.classes)
    } else {
        ", unconditional".into()
    };
    println!(
        "training an image teacher on {} ({} images of {}×{}×{}{classes}) on {device}: U-Net \
         {} channels × {:?}, attention {}, {} parameters; batch {}, lr {:.1e} (warm-up {} \
         steps), {} steps from step {}",
        data.name,
        data.len(),
        u.image_channels,
        u.image_size,
        u.image_size,
        u.channels,
        u.channel_mult,
        if u.attention { "on" } else { "off" },
        trainer.parameter_count(),
        s.batch,
        s.lr,
        s.warmup_steps,
        s.steps,
        trainer.step_count()
    );
}
