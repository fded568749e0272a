//! UI state that persists between launches (eframe storage), apart from runtime state.

use serde::{Deserialize, Serialize};
use sim_engine::config::RunConfig;

/// What the x axis of the curves shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum XAxis {
    /// Iterations.
    #[default]
    Iteration,
    /// Training wall-clock seconds.
    WallTime,
}

/// Persisted settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The edited config, as TOML (so a changed schema falls back to defaults, not a crash).
    pub config_toml: String,
    /// Curves' x axis.
    pub x_axis: XAxis,
    /// Log-scale y for losses, FD and gradient norms.
    pub log_y: bool,
    /// Weight on the past of the per-iteration curves' debiased EMA
    /// (`plots::smoothing::debiased_ema`); 0 draws them raw.
    pub smoothing: f64,
    /// The top panel shows the generator phase's diagnostics instead of the samples.
    pub diagnostics: bool,
    /// Show the score-field arrows over the samples.
    pub score_field: bool,
    /// Over the student: the difference ψ − teacher of the score field instead of ψ's own.
    pub score_difference: bool,
    /// σ of the score field.
    pub score_sigma: f64,
    /// Teacher Heun steps in the samples view.
    pub view_steps: usize,
    /// Milliseconds between redraws while engines train (input redraws at once); `None`: the
    /// rendering's default (`Rendering::refresh_ms`).
    pub redraw_ms: Option<u64>,
    /// The latest iterations per second per kind of data (`RunList::speeds`).
    pub speeds: std::collections::BTreeMap<String, f64>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            config_toml: String::new(),
            x_axis: XAxis::Iteration,
            log_y: true,
            smoothing: 0.6,
            diagnostics: false,
            score_field: false,
            score_difference: false,
            score_sigma: 0.3,
            view_steps: 18,
            redraw_ms: None,
            speeds: std::collections::BTreeMap::new(),
        }
    }
}

impl Settings {
    /// The persisted config, if it still parses.
    pub fn config(&self) -> Option<RunConfig> {
        if self.config_toml.is_empty() {
            return None;
        }
        RunConfig::parse(&self.config_toml, "saved settings", &[]).ok()
    }

    /// Remembers the edited config.
    pub fn set_config(&mut self, config: &RunConfig) {
        self.config_toml = config.to_toml();
    }
}
