//! What a resume may change. A checkpoint records the config it was written under; resuming
//! compares it with the run folder's `config.toml`:
//! - equal, or different only in the `[distill]` fields a live tweak changes
//!   ([`Tweak::FIELDS`]: a tweak applied after the checkpoint, whose line the resume truncates
//!   from `metrics.jsonl`) or in `iterations`: the run continues under the checkpoint's
//!   settings, and `config.toml` is rewritten to them;
//! - different anywhere else (the data, the teacher, a network, the batch, the seed — a hand
//!   edit, or a checkpoint copied from another run): refused, naming each key and both values.
//!
//! A new total of `iterations` (the CLI's `run --resume --iterations`) must be at least the
//! checkpoint's step; nothing else can be changed on resume (start a new run for other
//! settings).

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::RunConfig;
use crate::error::{EngineError, Result};
use crate::protocol::Tweak;
use crate::store::tensor_file::TensorFile;

/// Metadata key of the config a checkpoint was written under (its TOML).
pub(super) const CONFIG_KEY: &str = "config";
/// Metadata `format` of a run checkpoint.
pub(super) const CHECKPOINT_FORMAT: &str = "sim-workbench checkpoint v1";

/// Refuses a file that is not a run checkpoint (a teacher, another tool's safetensors).
pub(super) fn check_format(file: &TensorFile, path: &Path) -> Result<()> {
    let format = file.meta("format")?;
    match format == CHECKPOINT_FORMAT {
        true => Ok(()),
        false => Err(EngineError::File {
            path: path.to_owned(),
            message: format!(
                "is a `{format}` file, not a run checkpoint (`{CHECKPOINT_FORMAT}`); the \
                 checkpoints/ folder holds only what the run wrote"
            ),
        }),
    }
}

/// The config to continue with: `file_config` (`config.toml`) reconciled with the config
/// recorded in `checkpoint` (read from `path`). Checkpoints written before the config was
/// recorded are taken as they are.
pub(super) fn reconcile(
    file_config: RunConfig,
    checkpoint: &TensorFile,
    path: &Path,
) -> Result<RunConfig> {
    let Some(text) = checkpoint.metadata.get(CONFIG_KEY) else {
        return Ok(file_config);
    };
    let origin = format!("{} (metadata `{CONFIG_KEY}`)", path.display());
    let recorded = RunConfig::parse(text, &origin, &[])?;
    let (ours, theirs) = (flatten(&file_config), flatten(&recorded));
    let keys: std::collections::BTreeSet<&String> = ours.keys().chain(theirs.keys()).collect();
    let refused: Vec<String> = keys
        .into_iter()
        .filter(|key| ours.get(*key) != theirs.get(*key) && !may_differ(key))
        .map(|key| {
            let show = |v: Option<&String>| v.map_or("(absent)".to_owned(), Clone::clone);
            format!(
                "`{key}` is {} in config.toml but {} in the checkpoint",
                show(ours.get(key)),
                show(theirs.get(key))
            )
        })
        .collect();
    if !refused.is_empty() {
        return Err(EngineError::File {
            path: path.to_owned(),
            message: format!(
                "does not belong to this run's config ({}); restore config.toml as the run \
                 wrote it, or start a new run with these settings — a resume may change only \
                 `iterations`, and keeps the live tweaks the checkpoint saw",
                refused.join("; ")
            ),
        });
    }
    Ok(RunConfig {
        iterations: file_config.iterations,
        ..recorded
    })
}

/// Whether `key` (dotted) may differ between a checkpoint and `config.toml`.
fn may_differ(key: &str) -> bool {
    key == "iterations"
        || key.strip_prefix("distill.").is_some_and(|field| {
            Tweak::FIELDS
                .iter()
                .any(|f| field == *f || field.starts_with(&format!("{f}.")))
        })
}

/// Every leaf of the config's TOML by dotted key, as TOML text.
fn flatten(config: &RunConfig) -> BTreeMap<String, String> {
    fn walk(prefix: &str, value: &toml::Value, out: &mut BTreeMap<String, String>) {
        match value {
            toml::Value::Table(table) => {
                for (key, value) in table {
                    let key = match prefix.is_empty() {
                        true => key.clone(),
                        false => format!("{prefix}.{key}"),
                    };
                    walk(&key, value, out);
                }
            }
            leaf => {
                out.insert(prefix.to_owned(), leaf.to_string());
            }
        }
    }
    let mut out = BTreeMap::new();
    if let Ok(value) = toml::Value::try_from(config) {
        walk("", &value, &mut out);
    }
    out
}

/// `config` with a new total of `iterations`, at least `step` (the checkpoint's).
pub(super) fn with_iterations(
    mut config: RunConfig,
    iterations: Option<u64>,
    step: u64,
) -> Result<RunConfig> {
    if let Some(n) = iterations {
        if n < step.max(1) {
            return Err(EngineError::Invalid(format!(
                "`iterations` = {n}: the run is already at iteration {step}; give a total of \
                 at least {}",
                step.max(1)
            )));
        }
        config.iterations = n;
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A checkpoint file recording `config`.
    fn checkpoint_of(config: &RunConfig) -> TensorFile {
        let mut file = TensorFile::new();
        file.metadata.insert(CONFIG_KEY.into(), config.to_toml());
        file
    }

    #[test]
    fn tweaks_and_iterations_may_differ_and_the_checkpoint_wins() {
        let at_checkpoint = RunConfig::default();
        let mut on_disk = at_checkpoint.clone();
        on_disk.distill.lr_generator *= 10.0;
        on_disk.distill.k_fake += 1;
        on_disk.iterations += 500;
        let path = Path::new("step-000100.safetensors");
        let resumed =
            reconcile(on_disk.clone(), &checkpoint_of(&at_checkpoint), path).expect("allowed");
        assert_eq!(resumed.distill, at_checkpoint.distill);
        assert_eq!(resumed.iterations, on_disk.iterations);
        // A checkpoint without a recorded config (written before it was) is taken as it is.
        let legacy = reconcile(on_disk.clone(), &TensorFile::new(), path).expect("legacy");
        assert_eq!(legacy, on_disk);
    }

    #[test]
    fn any_other_difference_is_refused_naming_keys_and_values() {
        let at_checkpoint = RunConfig::default();
        let mut on_disk = at_checkpoint.clone();
        on_disk.distill.batch = 7;
        on_disk.seed = 99;
        let err = reconcile(
            on_disk,
            &checkpoint_of(&at_checkpoint),
            Path::new("ck.safetensors"),
        )
        .expect_err("batch and seed differ");
        let msg = err.to_string();
        assert!(msg.starts_with("ck.safetensors: does not belong to this run's config"));
        assert!(
            msg.contains(&format!(
                "`distill.batch` is 7 in config.toml but {} in the checkpoint",
                at_checkpoint.distill.batch
            )),
            "{msg}"
        );
        assert!(msg.contains("`seed` is 99 in config.toml"), "{msg}");
    }

    #[test]
    fn a_new_total_must_reach_the_checkpoint() {
        let config = RunConfig::default();
        assert_eq!(
            with_iterations(config.clone(), Some(300), 300)
                .expect("equal is fine")
                .iterations,
            300
        );
        assert_eq!(
            with_iterations(config.clone(), None, 5).expect("none"),
            config
        );
        let msg = with_iterations(config, Some(10), 300)
            .expect_err("below")
            .to_string();
        assert!(msg.contains("already at iteration 300"), "{msg}");
    }
}
