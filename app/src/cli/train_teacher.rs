//! `sim-workbench train-teacher`: an MLP teacher for a toy data set, saved as safetensors.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use sim_engine::device::select;
use sim_engine::nets::mlp::MlpDenoiser;
use sim_engine::rng::{Stream, rng_for};
use sim_engine::teacher::fit::{FitSettings, fit_denoiser};
use sim_engine::teacher::mlp_file::save_network;

use super::run::BackendArg;
use sim_workbench::presets;

#[derive(Args, Debug)]
pub struct TrainTeacherArgs {
    /// Preset whose [data] and [net] define the teacher (default: the default preset).
    preset: Option<PathBuf>,
    /// Output safetensors file.
    #[arg(long)]
    out: PathBuf,
    /// Adam steps.
    #[arg(long, default_value_t = 20_000)]
    iterations: u64,
    /// Batch size.
    #[arg(long, default_value_t = 2048)]
    batch: usize,
    /// Peak learning rate (cosine decay).
    #[arg(long, default_value_t = 2e-3)]
    lr: f64,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Override preset fields, e.g. --set data.kind=two_moons --set data.noise=0.05.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Backend.
    #[arg(long, value_enum, default_value_t)]
    backend: BackendArg,
}

pub fn run(args: TrainTeacherArgs) -> Result<ExitCode> {
    // A network teacher is trained for any data, so the exact-teacher check must not apply.
    let mut overrides = vec![
        "teacher.kind=network".to_owned(),
        "teacher.path=unused".to_owned(),
    ];
    overrides.extend(args.overrides.iter().cloned());
    let config = presets::load(args.preset.as_deref(), &overrides)?;
    let Some(data) = config.data.toy() else {
        anyhow::bail!(
            "train-teacher trains MLP teachers for 2-D toy data, and [data] is the image set {}; \
             use `sim-workbench train-image-teacher` for images",
            config.data.label()
        );
    };
    let settings = FitSettings {
        iterations: args.iterations,
        batch: args.batch,
        lr: args.lr,
        seed: args.seed,
    };
    settings.validate().map_err(|e| super::flag_error(e, &[]))?;
    let device = select(args.backend.into(), &sim_workbench::probe::adapter_probe())?.device;
    let sigma_data = data.sigma_data();
    let mut rng = rng_for(args.seed, 0, Stream::Init);
    let net = MlpDenoiser::new(&config.net, data.dim(), sigma_data, &mut rng, &device);
    let bar = ProgressBar::new(args.iterations);
    bar.set_style(
        ProgressStyle::with_template("[{elapsed_precise}] {bar:30} {pos}/{len} {per_sec} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut smoothed = None;
    let mut diverged = None;
    let net = fit_denoiser(net, data, None, settings, &device, &mut |step, loss| {
        if !loss.is_finite() {
            diverged = Some((step, loss));
            return false;
        }
        let s = smoothed.map_or(loss, |s: f64| 0.99 * s + 0.01 * loss);
        smoothed = Some(s);
        if step % 100 == 0 {
            bar.set_position(step);
            bar.set_message(format!("loss {s:.4}"));
        }
        true
    });
    if let Some((step, loss)) = diverged {
        bar.abandon();
        return Ok(super::diverged(step, loss, &args.out, args.lr));
    }
    bar.finish();
    save_network(&args.out, &net, &config.net, data)?;
    println!(
        "teacher for {} (σ_d = {sigma_data:.4}) saved to {}",
        data.label(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
