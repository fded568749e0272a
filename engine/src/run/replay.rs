//! What a replay of a run folder runs: the config the run started with (`start.toml`) and its
//! live tweaks at the steps they took effect (`metrics.jsonl`), so that a new run from the
//! folder follows the same curve, tweaks included, bit for bit on the CPU backend.

use crate::config::RunConfig;
use crate::error::{EngineError, Result};
use crate::protocol::Tweak;
use crate::run::log::{MetricsLine, read_metrics};
use crate::store::run_dir::RunDir;

/// The start config of the run in `dir` and its tweaks in step order. A folder without
/// `start.toml` (written before it existed) replays from `config.toml` when it has no tweaks;
/// with tweaks it is refused, since its start is no longer recorded.
pub fn schedule(dir: &RunDir) -> Result<(RunConfig, Vec<(u64, Tweak)>)> {
    let metrics = dir.metrics_path();
    let tweaks: Vec<(u64, Tweak)> = if metrics.is_file() {
        read_metrics(&metrics)?
            .lines
            .into_iter()
            .filter_map(|line| match line {
                MetricsLine::Tweak { step, tweak, .. } => Some((step, tweak)),
                _ => None,
            })
            .collect()
    } else {
        Vec::new()
    };
    let start = dir.start_path();
    let config = if start.is_file() {
        RunConfig::load(&start, &[])?
    } else if tweaks.is_empty() {
        RunConfig::load(&dir.config_path(), &[])?
    } else {
        return Err(EngineError::File {
            path: start,
            message: format!(
                "missing: the folder was written before start.toml existed, and its {} tweak(s) \
                 cannot be replayed without the config they started from; start a new run from \
                 its config.toml instead (the final settings from the first iteration)",
                tweaks.len()
            ),
        });
    };
    // The total of iterations is the run's latest (a resume may have raised it).
    let latest = RunConfig::load(&dir.config_path(), &[])?;
    let mut sorted = tweaks;
    sorted.sort_by_key(|(step, _)| *step);
    Ok((
        RunConfig {
            iterations: latest.iterations,
            ..config
        },
        sorted,
    ))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// A folder from before `start.toml`, with a tweak (`tests/fixtures/run-v1/`), is refused
    /// by name: the config its tweak changed is no longer known.
    #[test]
    fn a_tweaked_folder_without_its_start_is_refused() {
        let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/run-v1");
        let dir = RunDir::open(Path::new(folder)).expect("the fixture");
        let message = schedule(&dir).expect_err("no start.toml").to_string();
        assert!(
            message.contains("start.toml") && message.contains("1 tweak(s)"),
            "{message}"
        );
    }
}
