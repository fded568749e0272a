//! A run folder, the same from GUI and CLI:
//! `config.toml`, `metrics.jsonl`, `checkpoints/step-XXXXXX.safetensors`, `samples/step-XXXXXX.png`.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::atomic::write_atomic;
use crate::error::{EngineError, Result};

/// A run's folder on disk.
#[derive(Clone, Debug)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// Creates `<runs_dir>/<name>-<UTC timestamp>` (with a numeric suffix if taken) and writes
    /// `config_toml`, the resolved config, into it.
    pub fn create(runs_dir: &Path, name: &str, config_toml: &str) -> Result<Self> {
        let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S");
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let mut path = runs_dir.join(format!("{safe}-{stamp}"));
        let mut n = 1;
        while path.exists() {
            n += 1;
            path = runs_dir.join(format!("{safe}-{stamp}-{n}"));
        }
        for sub in ["checkpoints", "samples"] {
            std::fs::create_dir_all(path.join(sub)).map_err(|e| EngineError::io(&path, e))?;
        }
        let dir = Self { path };
        write_atomic(&dir.config_path(), config_toml.as_bytes())?;
        Ok(dir)
    }

    /// Opens an existing run folder (for resuming), checking it has a config.
    pub fn open(path: &Path) -> Result<Self> {
        let dir = Self {
            path: path.to_owned(),
        };
        if !dir.config_path().is_file() {
            return Err(EngineError::File {
                path: path.to_owned(),
                message: "not a run folder (no config.toml); pass a folder under runs/".into(),
            });
        }
        Ok(dir)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `config.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.path.join("config.toml")
    }

    /// `metrics.jsonl`.
    pub fn metrics_path(&self) -> PathBuf {
        self.path.join("metrics.jsonl")
    }

    /// Checkpoint of `step`.
    pub fn checkpoint_path(&self, step: u64) -> PathBuf {
        self.path
            .join("checkpoints")
            .join(format!("step-{step:06}.safetensors"))
    }

    /// Sample snapshot of `step`.
    pub fn sample_path(&self, step: u64) -> PathBuf {
        self.path
            .join("samples")
            .join(format!("step-{step:06}.png"))
    }

    /// The newest checkpoint and its step, if any.
    pub fn latest_checkpoint(&self) -> Option<(u64, PathBuf)> {
        std::fs::read_dir(self.path.join("checkpoints"))
            .ok()?
            .filter_map(|e| {
                let p = e.ok()?.path();
                let step = p
                    .file_name()?
                    .to_str()?
                    .strip_prefix("step-")?
                    .strip_suffix(".safetensors")?
                    .parse()
                    .ok()?;
                Some((step, p))
            })
            .max_by_key(|(s, _)| *s)
    }

    /// Appends one line (a JSON object, `crate::run::log`) to `metrics.jsonl`.
    pub fn append_metrics(&self, line: &str) -> Result<()> {
        let path = self.metrics_path();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| EngineError::io(&path, e))?;
        writeln!(file, "{line}").map_err(|e| EngineError::io(&path, e))
    }

    /// Drops metric lines after `step` (a resume from that step rewrites them identically).
    pub fn truncate_metrics_after(&self, step: u64) -> Result<()> {
        let path = self.metrics_path();
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(());
        };
        let kept: String = text
            .lines()
            .filter(|line| {
                serde_json::from_str::<serde_json::Value>(line)
                    .ok()
                    .and_then(|v| v.get("step").and_then(serde_json::Value::as_u64))
                    .is_some_and(|s| s <= step)
            })
            .flat_map(|l| [l, "\n"])
            .collect();
        write_atomic(&path, kept.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_append_truncate() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = RunDir::create(root.path(), "default", "name = \"default\"\n").expect("create");
        assert!(dir.config_path().is_file());
        for step in 0..5u64 {
            dir.append_metrics(&format!("{{\"step\":{step}}}"))
                .expect("append");
        }
        dir.truncate_metrics_after(2).expect("truncate");
        let text = std::fs::read_to_string(dir.metrics_path()).expect("read");
        assert_eq!(text.lines().count(), 3);
        assert!(RunDir::open(dir.path()).is_ok());
        assert!(RunDir::open(root.path()).is_err());
    }
}
