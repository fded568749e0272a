//! The run folder's `metrics.jsonl`: one JSON object a line, one [`MetricsLine`] each, told
//! apart by `event`. [`MetricsLine::append`] is the one writer, [`read_metrics`] the one reader
//! (the GUI's run list reads folders with it).
//!
//! Format (`event` first in meaning, keys in any order):
//! - `"iteration"`: `step`, `wall_s` and the iteration's [`IterationStats`];
//! - `"eval"`: `step`, `wall_s` and the EMA generator's [`Metrics`];
//! - `"teacher_eval"`: `step`, `teacher_steps`, `nfe` and the teacher's [`Metrics`];
//! - `"tweak"`: `step` (the first iteration that uses it), the `tweak` and its `label`;
//! - `"diagnostics"`: `step` and the generator phase's σ `bins` ([`SigmaBin`]).
//!
//! Run folders written before the event tag was on every line have iteration lines without
//! `event`; they read as `"iteration"`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::distill::diagnostics::SigmaBin;
use crate::distill::iteration::IterationStats;
use crate::error::{EngineError, Result};
use crate::metrics::Metrics;
use crate::protocol::Tweak;
use crate::store::run_dir::RunDir;

/// One line of `metrics.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum MetricsLine {
    /// One iteration finished.
    Iteration {
        /// Iterations done.
        step: u64,
        /// Training seconds so far.
        wall_s: f64,
        /// What it measured.
        #[serde(flatten)]
        stats: IterationStats,
    },
    /// An evaluation of the EMA generator.
    Eval {
        /// Iterations done.
        step: u64,
        /// Training seconds so far.
        wall_s: f64,
        /// The scores.
        #[serde(flatten)]
        metrics: Metrics,
    },
    /// The teacher's own scores (Heun with `teacher_steps` steps, `nfe` network evaluations)
    /// on the student's evaluation noise and labels.
    TeacherEval {
        /// Iterations done when it was scored (0).
        step: u64,
        /// Heun steps.
        teacher_steps: usize,
        /// Network evaluations per sample (`2·teacher_steps − 1`).
        nfe: usize,
        /// The scores.
        #[serde(flatten)]
        metrics: Metrics,
    },
    /// A live change of a setting.
    Tweak {
        /// First iteration that uses it.
        step: u64,
        /// The change.
        tweak: Tweak,
        /// Its short label ("lr θ = 1.0e-3").
        label: String,
    },
    /// The diagnostics of an iteration's generator phase, by σ bin.
    Diagnostics {
        /// Iterations done.
        step: u64,
        /// Its σ bins, lowest σ first.
        bins: Vec<SigmaBin>,
    },
}

impl MetricsLine {
    /// The iteration the line belongs to.
    pub fn step(&self) -> u64 {
        match self {
            Self::Iteration { step, .. }
            | Self::Eval { step, .. }
            | Self::TeacherEval { step, .. }
            | Self::Tweak { step, .. }
            | Self::Diagnostics { step, .. } => *step,
        }
    }

    /// Appends the line to the run folder's `metrics.jsonl`.
    pub fn append(&self, dir: &RunDir) -> Result<()> {
        let text = serde_json::to_string(self).map_err(|e| EngineError::File {
            path: dir.metrics_path(),
            message: format!("cannot encode a metrics line: {e}"),
        })?;
        dir.append_metrics(&text)
    }

    /// Reads one line, legacy iteration lines (no `event`) included.
    pub fn parse(line: &str) -> std::result::Result<Self, serde_json::Error> {
        let mut value: serde_json::Value = serde_json::from_str(line)?;
        if let Some(object) = value.as_object_mut()
            && !object.contains_key("event")
        {
            object.insert("event".into(), "iteration".into());
        }
        serde_json::from_value(value)
    }
}

/// A run folder's log as read: its lines in order, and the numbers (1-based) of the lines that
/// could not be read (a line cut short when a process was killed mid-write, say).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricsLog {
    /// The lines that were read.
    pub lines: Vec<MetricsLine>,
    /// Line numbers skipped.
    pub skipped: Vec<usize>,
}

/// Reads `path` (a run folder's `metrics.jsonl`); a missing file is an error naming it.
pub fn read_metrics(path: &Path) -> Result<MetricsLog> {
    let text = std::fs::read_to_string(path).map_err(|e| EngineError::io(path, e))?;
    let mut log = MetricsLog::default();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match MetricsLine::parse(line) {
            Ok(parsed) => log.lines.push(parsed),
            Err(_) => log.skipped.push(number + 1),
        }
    }
    Ok(log)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{ImageMetrics, ToyMetrics};

    fn every_kind() -> Vec<MetricsLine> {
        vec![
            MetricsLine::TeacherEval {
                step: 0,
                teacher_steps: 18,
                nfe: 35,
                metrics: Metrics::Image(ImageMetrics {
                    fid: 5.5,
                    is: 9.5,
                    feature_net: "digits-CNN".into(),
                    samples: 100,
                }),
            },
            MetricsLine::Eval {
                step: 0,
                wall_s: 0.0,
                metrics: Metrics::Toy(ToyMetrics {
                    is: Some(7.5),
                    mode_coverage: Some(1.0),
                    in_mode: Some(0.9),
                    fd: 0.01,
                }),
            },
            MetricsLine::Iteration {
                step: 1,
                wall_s: 0.25,
                stats: IterationStats {
                    loss_generator: -0.5,
                    loss_fake: 0.75,
                    grad_norm_generator: 1.5,
                    grad_norm_fake: 2.5,
                    dropped_samples: 1,
                    sanitized_grads: 2,
                },
            },
            MetricsLine::Tweak {
                step: 1,
                tweak: Tweak::LrGenerator(1e-3),
                label: Tweak::LrGenerator(1e-3).label(),
            },
            MetricsLine::Diagnostics {
                step: 2,
                bins: vec![SigmaBin {
                    sigma_min: 0.5,
                    sigma_max: 2.0,
                    samples: 4,
                    mean_norm_y: 0.25,
                    mean_weight: 3.5,
                    clipped: 0.0,
                    grad_share: 1.0,
                }],
            },
        ]
    }

    /// Every kind of line reads back as itself through the file, in order.
    #[test]
    fn lines_round_trip_through_the_run_folder() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = RunDir::create(root.path(), "t", "").expect("create");
        for line in every_kind() {
            line.append(&dir).expect("append");
        }
        let log = read_metrics(&dir.metrics_path()).expect("read");
        assert_eq!(log.lines, every_kind());
        assert!(log.skipped.is_empty());
    }

    /// A legacy iteration line (no `event`) is an iteration; a NaN loss (written as `null`)
    /// reads back as NaN; a line cut short is skipped and counted, not fatal.
    #[test]
    fn legacy_nan_and_cut_lines() {
        let legacy = r#"{"dropped_samples":0,"grad_norm_fake":1.0,"grad_norm_generator":2.0,"loss_fake":0.5,"loss_generator":null,"sanitized_grads":0,"step":3,"wall_s":1.5}"#;
        let MetricsLine::Iteration { step, stats, .. } = MetricsLine::parse(legacy).expect("reads")
        else {
            panic!("not an iteration");
        };
        assert_eq!(step, 3);
        assert!(stats.loss_generator.is_nan());
        assert_eq!(stats.grad_norm_generator, 2.0);
        let root = tempfile::tempdir().expect("tempdir");
        let path = root.path().join("metrics.jsonl");
        std::fs::write(&path, format!("{legacy}\n{{\"step\":4,\"wal")).expect("write");
        let log = read_metrics(&path).expect("read");
        assert_eq!((log.lines.len(), log.skipped.clone()), (1, vec![2]));
    }

    /// A folder written before every line had `event` (`tests/fixtures/run-v1/`) reads whole:
    /// its teacher score, evaluations, iterations and tweak, in order.
    #[test]
    fn the_previous_format_reads_whole() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/run-v1/metrics.jsonl"
        );
        let log = read_metrics(Path::new(path)).expect("the fixture");
        assert!(log.skipped.is_empty(), "{:?}", log.skipped);
        let kinds: Vec<&str> = log
            .lines
            .iter()
            .map(|l| match l {
                MetricsLine::Iteration { .. } => "iteration",
                MetricsLine::Eval { .. } => "eval",
                MetricsLine::TeacherEval { .. } => "teacher_eval",
                MetricsLine::Diagnostics { .. } => "diagnostics",
                MetricsLine::Tweak { .. } => "tweak",
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "teacher_eval",
                "eval",
                "iteration",
                "iteration",
                "eval",
                "tweak",
                "iteration",
                "eval"
            ]
        );
        let MetricsLine::TeacherEval { nfe, metrics, .. } = &log.lines[0] else {
            panic!("a teacher line first");
        };
        assert_eq!(*nfe, 7);
        assert_eq!(
            metrics.image().map(|m| m.feature_net.as_str()),
            Some("digits-CNN")
        );
        assert_eq!(log.lines[6].step(), 3);
        let MetricsLine::Tweak { tweak, .. } = &log.lines[5] else {
            panic!("the tweak");
        };
        assert_eq!(tweak, &Tweak::LrGenerator(1e-3));
    }
}
