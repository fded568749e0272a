//! Finding presets and the folders the workbench writes to.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sim_engine::config::RunConfig;

/// The default preset, embedded so the binary works from any directory.
pub const DEFAULT_PRESET: &str = include_str!("../../presets/default.toml");

/// Loads `preset` (a path, or a name in `presets/`), or the embedded default, with overrides.
pub fn load(preset: Option<&Path>, overrides: &[String]) -> Result<RunConfig> {
    match preset {
        None => Ok(RunConfig::parse(
            DEFAULT_PRESET,
            "presets/default.toml",
            overrides,
        )?),
        Some(path) => {
            let resolved = resolve(path);
            Ok(RunConfig::load(&resolved, overrides)
                .with_context(|| format!("loading preset {}", resolved.display()))?)
        }
    }
}

/// `name` → `presets/name.toml` when `name` is not an existing file.
fn resolve(path: &Path) -> PathBuf {
    if path.exists() {
        return path.to_owned();
    }
    let candidate = Path::new("presets").join(path).with_extension("toml");
    if candidate.exists() {
        candidate
    } else {
        path.to_owned()
    }
}

/// Cache of teacher fits: `$SIM_WORKBENCH_CACHE`, else `~/.cache/sim-workbench`, else `.cache`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SIM_WORKBENCH_CACHE") {
        return PathBuf::from(dir);
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cache").join("sim-workbench"))
        .unwrap_or_else(|| PathBuf::from(".cache"))
}

/// The `.toml` files of a presets folder, sorted by name (empty if the folder is missing).
pub fn list(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}
