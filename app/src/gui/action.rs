//! What a click asks for: the panels return `Action`s, and the workbench applies them after
//! layout (`state::workbench`), the one place where the draft, the runs' view flags and the
//! options change.

use std::path::PathBuf;

use sim_engine::config::RunConfig;
use sim_engine::device::BackendChoice;
use sim_engine::protocol::Tweak;

/// A user request.
#[must_use]
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Start a new run of the edited config (and make it active).
    Start,
    /// Pause the active run if running, else resume it.
    PauseResume,
    /// Run n iterations of the active run.
    Step(u64),
    /// Finish the active run (final evaluation and checkpoint).
    Stop,
    /// Write a checkpoint of the active run.
    SaveCheckpoint,
    /// Restore the active run's last good checkpoint.
    RollBack,
    /// A live setting change: applied to the draft config and sent to the active live run.
    Tweak(Tweak),
    /// Replace the draft config by this edit of it (the experiment panel's restart-only
    /// settings, name, data and teacher).
    EditDraft(Box<RunConfig>),
    /// The backend of the next run.
    SetBackend(BackendChoice),
    /// Replace the edited config by a preset file.
    LoadPreset(PathBuf),
    /// Put the edited config on the clipboard as a preset (TOML), to share as text.
    CopyPreset,
    /// Replace the edited config by a preset given as text (pasted).
    PastePreset(String),
    /// Ask for a preset file to open (dialog).
    OpenPresetDialog,
    /// Ask where to save the edited config as a preset (dialog).
    SavePresetDialog,
    /// Save the edited config to this file.
    SavePreset(PathBuf),
    /// Ask for the folder of the edited image data (dialog).
    ChooseDataFolder,
    /// Ask for the teacher file (dialog).
    ChooseTeacher,
    /// Use this folder for the edited image data (IDX, CIFAR-10 or PNG/JPEG).
    SetDataFolder(PathBuf),
    /// Use this teacher file.
    SetTeacher(PathBuf),
    /// Show run `i` in the curves, or not.
    SetVisible(usize, bool),
    /// Make run `i` the active one.
    Activate(usize),
    /// Open the race window.
    OpenRace,
    /// Start these variants side by side (a race), each on `seeds` seeds: its own and the
    /// next ones, the same for every variant.
    Race {
        /// (label, config) of each variant.
        variants: Vec<(String, RunConfig)>,
        /// Seeds per variant (1 to `panels::race::MAX_SEEDS`).
        seeds: u64,
    },
    /// Load every run folder under the runs directory.
    LoadRuns,
    /// Teacher Heun steps in the samples view.
    ViewSteps(usize),
    /// Show the active run's score field at σ (refreshed after each evaluation), or stop.
    ScoreField {
        /// Noise level; `None` turns the field off.
        sigma: Option<f64>,
    },
    /// Export the active run's samples as PNG.
    ExportSamples,
    /// Export the active run's metrics as CSV.
    ExportCsv,
    /// Export the curves as PNG (drawn off-screen, at the size given).
    ExportPlot,
    /// Clear the status bar's notice.
    DismissNotice,
}
