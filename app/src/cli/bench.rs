//! `sim-workbench bench`: SIM iterations of a preset timed on several backends, alternating
//! rounds (A/B/A/B…) so machine noise hits every backend alike; reports medians.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use sim_engine::data::DataConfig;
use sim_engine::pool::on_own_pool;
use sim_engine::run::{Run, RunOptions};
use sim_engine::validation::count;

use super::run::BackendArg;
use sim_workbench::presets;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Preset (default: the default preset).
    preset: Option<PathBuf>,
    /// Backends to compare, in order.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "cpu")]
    backends: Vec<BackendArg>,
    /// Iterations per round.
    #[arg(long, default_value_t = 20)]
    iterations: u64,
    /// Rounds per backend (alternating).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Override preset fields.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
}

/// The engine's iterations run on a pool of their own, as an engine thread's do
/// (`Session::spawn`).
pub fn run(args: BenchArgs) -> Result<ExitCode> {
    on_own_pool(|| bench(args))
}

fn bench(args: BenchArgs) -> Result<ExitCode> {
    let counts = [
        ("iterations", args.iterations, 1_000_000),
        ("rounds", args.rounds as u64, 10_000),
    ];
    for (key, value, max) in counts {
        count(key, value, 1, max).map_err(|e| super::flag_error(e, &[]))?;
    }
    let config = presets::load(args.preset.as_deref(), &args.overrides)?;
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "default".into());
    let net = match &config.data {
        DataConfig::Toy(_) => format!("MLP {}×{}", config.net.depth, config.net.width),
        DataConfig::Image(_) => "U-Net of the teacher".into(),
    };
    println!(
        "bench: {} (batch {}, {net}), {} rounds × {} iterations, RAYON_NUM_THREADS={threads}",
        config.name, config.distill.batch, args.rounds, args.iterations
    );
    let mut runs = Vec::new();
    for &backend in &args.backends {
        let options = RunOptions {
            runs_dir: None,
            cache_dir: Some(presets::cache_dir()),
            backend: backend.into(),
            probe: sim_workbench::probe::adapter_probe(),
        };
        let started = Instant::now();
        let mut run = Run::start(config.clone(), &options, &mut |_, _| {})?;
        let label = format!("{backend:?} [{}]", run.info().backend);
        println!(
            "{label:<24} started in {:>8.1} ms",
            started.elapsed().as_secs_f64() * 1e3
        );
        // On a GPU, the kernels are compiled and tuned first, as a run's are before its first
        // iteration (docs/platform.md "On a GPU"); then warm-up iterations (allocations), each
        // reported as it ends, so that a run cut short still tells how far it got.
        if let Some(seconds) = run.prepare() {
            println!("{label:<24} prepared in {:>8.1} ms", seconds * 1e3);
        }
        for i in 1..=3 {
            let start = Instant::now();
            run.step()?;
            println!(
                "{label:<24} warm-up iteration {i} {:>8.1} ms",
                start.elapsed().as_secs_f64() * 1e3
            );
        }
        runs.push((backend, run, Vec::new()));
    }
    for _ in 0..args.rounds {
        for (_, run, times) in &mut runs {
            let start = Instant::now();
            for _ in 0..args.iterations {
                run.step()?;
            }
            times.push(start.elapsed().as_secs_f64() / args.iterations as f64);
        }
    }
    for (backend, run, mut times) in runs {
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        println!(
            "{:<24} median {:>8.2} ms/it  ({:>7.1} it/s)  min {:>8.2}  max {:>8.2}",
            format!("{backend:?} [{}]", run.info().backend),
            median * 1e3,
            1.0 / median,
            times[0] * 1e3,
            times[times.len() - 1] * 1e3
        );
        if let Some(memory) = run.memory() {
            println!("{:<24} memory {}", "", memory.describe());
        }
    }
    Ok(ExitCode::SUCCESS)
}
