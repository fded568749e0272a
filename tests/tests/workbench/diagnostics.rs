//! The generator phase's diagnostics (docs/algorithm.md §7) on the default preset: they arrive
//! every `eval.diagnostics_every` iterations, change nothing of the run, follow the distance's
//! formula sample by sample, and are logged to the run folder.

use std::path::Path;

use sim_engine::config::RunConfig;
use sim_engine::device::BackendChoice;
use sim_engine::distill::diagnostics::Diagnostics;
use sim_engine::distill::iteration::IterationStats;
use sim_engine::run::log::{MetricsLine, read_metrics};
use sim_engine::run::{Run, RunOptions};

fn config(overrides: &[&str]) -> RunConfig {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../presets/default.toml"
    ))
    .expect("default preset");
    let mut all: Vec<String> = vec!["eval.samples=500".into(), "distill.batch=256".into()];
    all.extend(overrides.iter().map(|s| s.to_string()));
    RunConfig::parse(&text, "default.toml", &all).expect("valid")
}

/// `iterations` steps: each one's stats and the diagnostics it read, if any.
fn run(
    config: RunConfig,
    runs: Option<&Path>,
    iterations: u64,
) -> Vec<(IterationStats, Option<Diagnostics>)> {
    let options = RunOptions {
        runs_dir: runs.map(Path::to_owned),
        cache_dir: Some(Path::new(env!("CARGO_TARGET_TMPDIR")).join("fit-cache")),
        backend: BackendChoice::Cpu,
        ..RunOptions::default()
    };
    // The run's own length, not the preset's.
    let config = RunConfig {
        iterations,
        ..config
    };
    let mut run = Run::start(config, &options, &mut |_, _| {}).expect("run starts");
    (0..iterations)
        .map(|_| {
            let stats = run.step().expect("step");
            (stats, run.take_diagnostics())
        })
        .collect()
}

#[test]
fn diagnostics_arrive_on_schedule_and_change_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let probed = run(config(&["eval.diagnostics_every=5"]), Some(tmp.path()), 12);
    let plain = run(config(&["eval.diagnostics_every=0"]), None, 12);
    for (step, ((a, d), (b, none))) in probed.iter().zip(&plain).enumerate() {
        assert_eq!(a, b, "iteration {}: diagnostics changed the run", step + 1);
        assert!(none.is_none());
        assert_eq!(d.is_some(), (step + 1) % 5 == 0, "iteration {}", step + 1);
    }
    let d = probed[9].1.as_ref().expect("diagnostics of iteration 10");
    assert_eq!(d.samples.len(), 256);
    assert!(d.rows.is_none(), "a 2-D run shows no image rows");
    // Eight bins of 32, σ increasing, shares adding up to one.
    assert_eq!(d.bins.len(), 8);
    assert!(d.bins.iter().all(|b| b.samples == 32));
    assert!(d.bins.windows(2).all(|w| w[0].sigma_max <= w[1].sigma_min));
    let shares: f64 = d.bins.iter().map(|b| b.grad_share).sum();
    assert!((shares - 1.0).abs() < 1e-9, "{shares}");
    // Pseudo-Huber (c = 0.03), w = 1: each weight is 1/√(‖y‖² + c²).
    for s in &d.samples {
        let want = 1.0 / (f64::from(s.norm_y).powi(2) + 0.03f64.powi(2)).sqrt();
        assert!(
            (f64::from(s.weight) - want).abs() <= 1e-4 * want,
            "{s:?} vs {want}"
        );
        assert!(s.grad.is_finite() && s.grad >= 0.0 && s.clipped == 0.0);
    }

    // Logged: the bins of iterations 5 and 10, as sent.
    let folder = std::fs::read_dir(tmp.path())
        .expect("runs")
        .flatten()
        .next()
        .expect("a run folder")
        .path();
    let log = read_metrics(&folder.join("metrics.jsonl")).expect("metrics");
    let logged: Vec<(u64, usize)> = log
        .lines
        .iter()
        .filter_map(|l| match l {
            MetricsLine::Diagnostics { step, bins } => Some((*step, bins.len())),
            _ => None,
        })
        .collect();
    assert_eq!(logged, [(5, 8), (10, 8)]);
    let tenth = log.lines.iter().find_map(|l| match l {
        MetricsLine::Diagnostics { step: 10, bins } => Some(bins.clone()),
        _ => None,
    });
    // As sent, to the last digit or two JSON keeps of an f64.
    let tenth = tenth.expect("bins of iteration 10");
    let near = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1e-300);
    for (logged, sent) in tenth.iter().zip(&d.bins) {
        assert_eq!(logged.samples, sent.samples);
        assert!(
            near(logged.mean_weight, sent.mean_weight) && near(logged.grad_share, sent.grad_share)
        );
        assert!(
            near(logged.mean_norm_y, sent.mean_norm_y) && near(logged.sigma_max, sent.sigma_max)
        );
    }
}

#[test]
fn l2_weights_are_flat_and_huber_reports_its_clipping() {
    let l2 = run(
        config(&[
            "eval.diagnostics_every=1",
            "distill.distance={ kind = \"l2\" }",
        ]),
        None,
        1,
    );
    let d = l2[0].1.as_ref().expect("diagnostics");
    assert!(d.samples.iter().all(|s| (s.weight - 2.0).abs() < 1e-5));
    let huber = run(
        config(&[
            "eval.diagnostics_every=1",
            "distill.distance={ kind = \"huber\", delta = 0.001 }",
        ]),
        None,
        1,
    );
    let d = huber[0].1.as_ref().expect("diagnostics");
    let clipped: Vec<f32> = d.samples.iter().map(|s| s.clipped).collect();
    assert!(
        clipped.iter().all(|c| [0.0, 0.5, 1.0].contains(c)),
        "{clipped:?}"
    );
    assert!(
        clipped.iter().any(|&c| c > 0.0),
        "δ = 0.001 clips some coordinates"
    );
}
