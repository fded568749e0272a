//! A run folder, the same from GUI and CLI:
//! `config.toml`, `metrics.jsonl`, `checkpoints/step-XXXXXX.safetensors`, `samples/step-XXXXXX.png`.

use std::fs::{File, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::atomic::write_atomic;
use crate::error::{EngineError, Result};

/// A run's folder on disk.
#[derive(Clone, Debug)]
pub struct RunDir {
    path: PathBuf,
    /// The writer's lock on `.lock` (see [`RunDir::lock`]), held while any clone lives.
    lock: Option<Arc<File>>,
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
        let dir = Self { path, lock: None }.lock()?;
        write_atomic(&dir.start_path(), config_toml.as_bytes())?;
        write_atomic(&dir.config_path(), config_toml.as_bytes())?;
        Ok(dir)
    }

    /// Opens an existing run folder, checking it has a config; to write to it (resume), take
    /// its [`RunDir::lock`] too.
    pub fn open(path: &Path) -> Result<Self> {
        let dir = Self {
            path: path.to_owned(),
            lock: None,
        };
        if !dir.config_path().is_file() {
            return Err(EngineError::File {
                path: path.to_owned(),
                message: "not a run folder (no config.toml); pass a folder under runs/".into(),
            });
        }
        Ok(dir)
    }

    /// Takes the folder's writer lock, an advisory `flock` on `.lock` that the system releases
    /// when the process ends however it ends (kill -9 included), so a second writer — a second
    /// `run --resume` of a folder that is still being written — is refused instead of
    /// interleaving its lines with the first one's.
    pub fn lock(mut self) -> Result<Self> {
        let path = self.path.join(".lock");
        let file = File::create(&path).map_err(|e| EngineError::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {
                self.lock = Some(Arc::new(file));
                Ok(self)
            }
            Err(TryLockError::WouldBlock) => Err(EngineError::File {
                path: self.path,
                message: "is in use by another sim-workbench process (a running or resuming \
                          run); stop that one first, or resume a copy of the folder"
                    .into(),
            }),
            Err(TryLockError::Error(e)) => Err(EngineError::io(&path, e)),
        }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `config.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.path.join("config.toml")
    }

    /// `start.toml`: the config the run started with, never rewritten (a replay starts from it
    /// and applies the folder's tweaks at their steps).
    pub fn start_path(&self) -> PathBuf {
        self.path.join("start.toml")
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

    /// Drops metric lines after `step` (a resume from that step rewrites them identically),
    /// whatever bytes the file holds: a line that is not JSON with a `step` (a line cut short
    /// by a kill, bytes that are not UTF-8) is dropped too. A missing file stays missing.
    pub fn truncate_metrics_after(&self, step: u64) -> Result<()> {
        let path = self.metrics_path();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(EngineError::io(&path, e)),
        };
        let kept: Vec<u8> = bytes
            .split(|&b| b == b'\n')
            .filter(|line| {
                serde_json::from_slice::<serde_json::Value>(line)
                    .ok()
                    .and_then(|v| v.get("step").and_then(serde_json::Value::as_u64))
                    .is_some_and(|s| s <= step)
            })
            .flat_map(|line| line.iter().copied().chain([b'\n']))
            .collect();
        write_atomic(&path, &kept)
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
        // Whatever bytes follow, truncation keeps exactly the lines up to the step.
        let mut hostile = std::fs::read(dir.metrics_path()).expect("read");
        hostile
            .extend_from_slice(b"\xff\xfe{\"step\":1}\n{\"step\":1,\"loss\":\n\0\0\n{\"step\":9}");
        std::fs::write(dir.metrics_path(), &hostile).expect("write");
        dir.truncate_metrics_after(2).expect("truncate");
        let text = std::fs::read_to_string(dir.metrics_path()).expect("utf-8 again");
        assert_eq!(text, "{\"step\":0}\n{\"step\":1}\n{\"step\":2}\n");
    }

    #[test]
    fn a_second_writer_is_refused_until_the_first_is_gone() {
        let root = tempfile::tempdir().expect("tempdir");
        let first = RunDir::create(root.path(), "r", "name = \"r\"\n").expect("create");
        let err = RunDir::open(first.path())
            .and_then(RunDir::lock)
            .expect_err("locked")
            .to_string();
        assert!(
            err.contains("in use by another sim-workbench process"),
            "{err}"
        );
        let clone = first.clone();
        drop(first);
        assert!(
            RunDir::open(clone.path()).and_then(RunDir::lock).is_err(),
            "a clone holds it"
        );
        let path = clone.path().to_owned();
        drop(clone);
        assert!(
            RunDir::open(&path).and_then(RunDir::lock).is_ok(),
            "released"
        );
    }
}
