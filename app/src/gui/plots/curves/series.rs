//! The plotted quantities: IS, FID, mode coverage, FD, losses, gradient norm, it/s; each with
//! the runs it is about, how it may be drawn, and where its values come from.

use sim_engine::data::DataConfig;
use sim_engine::metrics::Metrics;

use crate::gui::state::run_list::{ProgressPoint, RunList, RunRecord, inception};

/// The data a plotted quantity is about (the engine's runs of either kind: any, toy, image).
#[derive(Clone, Copy, PartialEq)]
pub enum Domain {
    /// Every run.
    Any,
    /// 2-D toy runs.
    Toy,
    /// Image runs.
    Image,
}

/// A plotted quantity.
pub struct Series {
    /// Its name, above its plot.
    pub title: &'static str,
    pub domain: Domain,
    /// Image scores are named after their feature network: "FID (digits-CNN)".
    pub named: bool,
    /// May the log-y toggle apply (positive quantities only).
    pub loggable: bool,
    /// A value per iteration, noisy enough to be drawn smoothed.
    pub smoothable: bool,
    /// (x-source step, wall, value) per run.
    pub values: fn(&RunRecord) -> Vec<(u64, f64, f64)>,
    /// The same quantity of the multi-step teacher, drawn as a dashed level line.
    pub teacher: Option<fn(&Metrics) -> Option<f64>>,
}

fn evals(r: &RunRecord, f: fn(&Metrics) -> Option<f64>) -> Vec<(u64, f64, f64)> {
    r.history
        .evals
        .iter()
        .filter_map(|e| f(&e.metrics).map(|v| (e.step, e.wall_s, v)))
        .collect()
}

fn progress(r: &RunRecord, f: fn(&ProgressPoint) -> f64) -> Vec<(u64, f64, f64)> {
    r.history
        .progress
        .iter()
        .map(|p| (p.step, p.wall_s, f(p)))
        .collect()
}

const SERIES: [Series; 8] = [
    Series {
        title: "Inception Score",
        domain: Domain::Any,
        named: true,
        loggable: false,
        smoothable: false,
        values: |r| evals(r, inception),
        teacher: Some(inception),
    },
    Series {
        title: "FID",
        domain: Domain::Image,
        named: true,
        loggable: true,
        smoothable: false,
        values: |r| evals(r, |m| m.image().map(|i| i.fid)),
        teacher: Some(|m| m.image().map(|i| i.fid)),
    },
    Series {
        title: "mode coverage",
        domain: Domain::Toy,
        named: false,
        loggable: false,
        smoothable: false,
        values: |r| evals(r, |m| m.toy().and_then(|t| t.mode_coverage)),
        teacher: None,
    },
    Series {
        title: "FD (raw 2-D) to teacher samples",
        domain: Domain::Toy,
        named: false,
        loggable: true,
        smoothable: false,
        values: |r| evals(r, |m| m.toy().map(|t| t.fd)),
        teacher: None,
    },
    Series {
        title: "generator loss",
        domain: Domain::Any,
        named: false,
        loggable: false,
        smoothable: true,
        values: |r| progress(r, |p| p.stats.loss_generator),
        teacher: None,
    },
    Series {
        title: "fake-denoiser loss",
        domain: Domain::Any,
        named: false,
        loggable: true,
        smoothable: true,
        values: |r| progress(r, |p| p.stats.loss_fake),
        teacher: None,
    },
    Series {
        title: "gradient norm θ",
        domain: Domain::Any,
        named: false,
        loggable: true,
        smoothable: true,
        values: |r| progress(r, |p| p.stats.grad_norm_generator),
        teacher: None,
    },
    Series {
        title: "iterations / s",
        domain: Domain::Any,
        named: false,
        loggable: false,
        smoothable: true,
        values: |r| progress(r, |p| p.it_per_s),
        teacher: None,
    },
];

/// The quantities plotted for `kind`: the shared ones, and the toy or image scores.
pub fn series_of(runs: &RunList, kind: Option<&str>) -> Vec<&'static Series> {
    let image = runs
        .records
        .iter()
        .find(|r| kind.is_some_and(|k| r.data_kind() == k))
        .is_some_and(|r| matches!(r.engine.config.data, DataConfig::Image(_)));
    SERIES
        .iter()
        .filter(|s| match s.domain {
            Domain::Any => true,
            Domain::Toy => !image,
            Domain::Image => image,
        })
        .collect()
}
