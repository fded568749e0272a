//! Everything a click can ask for, applied after layout (panels only return actions).

use std::path::PathBuf;

use eframe::egui;
use sim_engine::config::RunConfig;
use sim_engine::data::DataConfig;
use sim_engine::data::images::ImageSource;
use sim_engine::device::BackendChoice;
use sim_engine::protocol::{Command, Tweak};
use sim_engine::teacher::TeacherConfig;

use super::store::{RunRecord, RunStatus, RunStore};
use super::{WorkbenchApp, curves, figure};

/// A user request.
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
        /// Seeds per variant (1 to `race::MAX_SEEDS`).
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

pub(super) fn apply(app: &mut WorkbenchApp, action: Action, ctx: &egui::Context) {
    let send = |store: &RunStore, command: Command| {
        if let Some(run) = store.active() {
            run.send(command);
        }
    };
    match action {
        Action::Start => {
            let label = format!("{} #{}", app.config.name, app.store.runs.len() + 1);
            start(app, vec![(label, app.config.clone())]);
        }
        Action::PauseResume => match app.store.active().map(|r| &r.engine.status) {
            Some(RunStatus::Running) => send(&app.store, Command::Pause),
            Some(RunStatus::Paused) => send(&app.store, Command::Resume),
            Some(_) => {}
            None => start(
                app,
                vec![(format!("{} #1", app.config.name), app.config.clone())],
            ),
        },
        Action::Step(n) => send(&app.store, Command::Step(n)),
        Action::Stop => send(&app.store, Command::Stop),
        Action::SaveCheckpoint => send(&app.store, Command::SaveCheckpoint),
        Action::RollBack => send(&app.store, Command::RollBack),
        // A live change, checked as the engine checks it. With a live run it goes to the
        // engine, and the draft follows the engine's `Applied` (`follow_the_engine`): what the
        // panel shows is what the run uses. Without one it is the draft's alone.
        Action::Tweak(tweak) => {
            let mut next = app.config.distill.clone();
            match tweak.apply(&mut next) {
                Err(e) => app.error = Some(e.to_string()),
                Ok(()) => match app.store.active.and_then(|i| app.store.runs.get_mut(i)) {
                    Some(run) if run.is_live() => run.send_tweak(tweak),
                    _ => app.config.distill = next,
                },
            }
        }
        Action::EditDraft(config) => app.config = *config,
        Action::SetBackend(choice) => app.options.backend = choice,
        Action::LoadPreset(path) => match RunConfig::load(&path, &[]) {
            Ok(config) => {
                app.config = config;
                app.store.notice = Some(format!("loaded {}", path.display()));
            }
            Err(e) => app.error = Some(e.to_string()),
        },
        Action::CopyPreset => {
            ctx.copy_text(app.config.to_toml());
            app.store.notice = Some(format!(
                "copied {} as a preset (TOML): paste it into another workbench or a .toml file",
                app.config.name
            ));
        }
        Action::PastePreset(text) => match RunConfig::parse(&text, "the pasted preset", &[]) {
            Ok(config) => {
                app.store.notice = Some(format!("pasted preset {}", config.name));
                app.config = config;
            }
            Err(e) => app.error = Some(e.to_string()),
        },
        Action::OpenPresetDialog => {
            let dir = app.options.presets_dir.clone();
            app.dialogs.push(dialog(ctx, move || {
                rfd::FileDialog::new()
                    .add_filter("preset", &["toml"])
                    .set_directory(dir)
                    .pick_file()
                    .map(Action::LoadPreset)
            }));
        }
        Action::SavePresetDialog => {
            let dir = app.options.presets_dir.clone();
            let name = format!("{}.toml", app.config.name);
            app.dialogs.push(dialog(ctx, move || {
                rfd::FileDialog::new()
                    .add_filter("preset", &["toml"])
                    .set_directory(dir)
                    .set_file_name(name)
                    .save_file()
                    .map(Action::SavePreset)
            }));
        }
        Action::ChooseDataFolder => {
            app.dialogs.push(dialog(ctx, || {
                rfd::FileDialog::new()
                    .set_title("Folder of the image data")
                    .pick_folder()
                    .map(Action::SetDataFolder)
            }));
        }
        Action::ChooseTeacher => {
            app.dialogs.push(dialog(ctx, || {
                rfd::FileDialog::new()
                    .add_filter("teacher", &["safetensors"])
                    .set_directory(sim_engine::assets::TEACHERS_DIR)
                    .pick_file()
                    .map(Action::SetTeacher)
            }));
        }
        Action::SetDataFolder(folder) => {
            if let DataConfig::Image(
                ImageSource::Idx { dir, .. }
                | ImageSource::Cifar10 { dir, .. }
                | ImageSource::Folder { dir, .. },
            ) = &mut app.config.data
            {
                *dir = folder;
            }
        }
        Action::SetTeacher(path) => {
            app.config.teacher = match app.config.teacher {
                TeacherConfig::Edm { .. } => TeacherConfig::Edm { path },
                _ => TeacherConfig::Network { path },
            };
        }
        Action::SavePreset(path) => {
            let text = format!(
                "# Saved from the SIM Workbench GUI: the fully resolved config.\n{}",
                app.config.to_toml()
            );
            match sim_engine::write_atomic(&path, text.as_bytes()) {
                Ok(()) => {
                    app.store.notice = Some(format!("saved {}", path.display()));
                    app.presets = crate::presets::list(&app.options.presets_dir);
                }
                Err(e) => app.error = Some(e.to_string()),
            }
        }
        Action::Activate(i) => {
            if i < app.store.runs.len() {
                app.store.active = Some(i);
                app.curves_kind = None;
                if app.store.runs[i].is_live() {
                    app.config = app.store.runs[i].engine.config.clone();
                }
            }
        }
        Action::SetVisible(i, visible) => {
            if let Some(run) = app.store.runs.get_mut(i) {
                run.view.visible = visible;
            }
        }
        Action::OpenRace => app.race.open = true,
        Action::Race { variants, seeds } => race(app, variants, seeds),
        Action::LoadRuns => load_runs(app),
        Action::ViewSteps(n) => {
            app.settings.view_steps = n;
            send(&app.store, Command::ViewSteps(n));
        }
        Action::ScoreField { sigma } => {
            if let Some(run) = app.store.active.and_then(|i| app.store.runs.get_mut(i)) {
                run.view.score_sigma = sigma;
                if let (Some(sigma), Some(view)) = (sigma, &run.history.samples) {
                    run.send(super::store::score_field_command(sigma, view));
                }
            }
        }
        Action::ExportSamples => match app.store.active() {
            Some(run) => app.export.samples(run, export_dir(app, run)),
            None => app.error = Some("no run to export: start one first".into()),
        },
        Action::ExportCsv => match app.store.active() {
            Some(run) => app.export.csv(run, export_dir(app, run)),
            None => app.error = Some("no run to export: start one first".into()),
        },
        Action::DismissNotice => app.store.notice = None,
        Action::ExportPlot => export_plot(app, ctx),
    }
}

/// Brings the draft up to date with the engines' answers to live changes: the active run's
/// applied changes update it, a refusal is shown; other runs' answers only concern them.
pub(super) fn follow_the_engine(app: &mut WorkbenchApp) {
    for (i, run) in app.store.runs.iter_mut().enumerate() {
        let answers = run.take_answers();
        if app.store.active != Some(i) {
            continue;
        }
        for answer in answers {
            match answer {
                Ok(tweak) => {
                    if let Err(e) = tweak.apply(&mut app.config.distill) {
                        app.error = Some(e.to_string());
                    }
                }
                Err(message) => app.error = Some(message),
            }
        }
    }
}

/// Draws the curves of the kind on screen off-screen, 1,100 points wide at 1.5 pixels per
/// point, and writes them as `export-curves.png` in the active run's folder.
fn export_plot(app: &mut WorkbenchApp, ctx: &egui::Context) {
    let Some(kind) = curves::shown_kind(&app.store, app.curves_kind.as_deref()) else {
        app.error = Some("no curves to export: start a run, or tick one in the runs panel".into());
        return;
    };
    let dir = app
        .store
        .active()
        .map(|r| export_dir(app, r))
        .unwrap_or_else(|| app.options.runs_dir.clone());
    let width = 1100.0;
    let height = curves::figure_height(&app.store, Some(&kind), width);
    let (settings, store) = (&app.settings, &app.store);
    let figure = figure::layout(ctx, egui::vec2(width, height), 1.5, |ui| {
        curves::figure(ui, settings, store, &kind, height);
    });
    app.export.plot(figure, dir.join("export-curves.png"));
}

/// Where exports of a run go: its folder, else the runs directory.
fn export_dir(app: &WorkbenchApp, run: &RunRecord) -> PathBuf {
    run.engine
        .dir
        .clone()
        .unwrap_or_else(|| app.options.runs_dir.clone())
}

/// Starts engines for `variants`, all running at once; the first becomes active.
/// Starts a race: each variant on `seeds` seeds, grouped and coloured as one with more than
/// one seed.
fn race(app: &mut WorkbenchApp, variants: Vec<(String, RunConfig)>, seeds: u64) {
    if seeds <= 1 {
        return start(app, variants);
    }
    let first = app.store.runs.len();
    let mut runs = Vec::new();
    for (label, config) in &variants {
        for k in 0..seeds {
            let mut c = config.clone();
            c.seed = config.seed + k;
            c.name = format!("{}-seed{}", config.name, c.seed);
            runs.push((format!("{label} · seed {}", c.seed), c));
        }
    }
    let count = runs.len();
    start(app, runs);
    // One colour and one group per variant.
    let started = app.store.runs.len().saturating_sub(first);
    if started == count {
        for (i, run) in app.store.runs[first..].iter_mut().enumerate() {
            let variant = i / seeds as usize;
            run.group = Some(variants[variant].0.clone());
            run.color = super::palette::run_color(first + variant);
        }
    }
}

fn start(app: &mut WorkbenchApp, variants: Vec<(String, RunConfig)>) {
    app.curves_kind = None;
    let mut first = None;
    for (label, config) in variants {
        if let Err(e) = config.validate() {
            app.error = Some(e.to_string());
            return;
        }
        let options = RunStore::run_options(
            &app.options.runs_dir,
            app.options.cache_dir.clone(),
            app.options.backend,
            app.options.probe.clone(),
        );
        match app.store.spawn(label, config, options, true) {
            Ok(i) => {
                first.get_or_insert(i);
            }
            Err(e) => {
                app.error = Some(e);
                return;
            }
        }
    }
    if let Some(i) = first {
        app.store.active = Some(i);
    }
}

/// Loads run folders that are not in the store yet.
fn load_runs(app: &mut WorkbenchApp) {
    let Ok(entries) = std::fs::read_dir(&app.options.runs_dir) else {
        app.error = Some(format!(
            "no runs folder at {}",
            app.options.runs_dir.display()
        ));
        return;
    };
    let known: Vec<PathBuf> = app
        .store
        .runs
        .iter()
        .filter_map(|r| r.engine.dir.clone())
        .collect();
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("metrics.jsonl").is_file() && !known.contains(p))
        .collect();
    dirs.sort();
    let mut loaded = 0;
    for dir in dirs {
        match RunRecord::load(&dir, app.store.runs.len()) {
            Ok(mut record) => {
                record.view.visible = false;
                app.store.runs.push(record);
                loaded += 1;
            }
            Err(e) => app.store.notice = Some(format!("skipped {}: {e}", dir.display())),
        }
    }
    app.store.notice = Some(format!(
        "loaded {loaded} run(s) from {}",
        app.options.runs_dir.display()
    ));
}

/// A file dialog open on its own thread, and where its answer arrives.
pub struct Dialog {
    /// The answer, as an action.
    pub answer: crossbeam_channel::Receiver<Action>,
    /// The thread, joined once it has answered (or when the app exits).
    pub thread: Option<std::thread::JoinHandle<()>>,
}

impl Dialog {
    /// Waits for the dialog's thread (at once when it has answered; at exit, until the user
    /// closes the dialog).
    pub fn join(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs a blocking file dialog on its own thread; its answer arrives as an action.
fn dialog(ctx: &egui::Context, ask: impl FnOnce() -> Option<Action> + Send + 'static) -> Dialog {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let ctx = ctx.clone();
    let spawned = std::thread::Builder::new()
        .name("sim-file-dialog".into())
        .spawn(move || {
            if let Some(action) = ask() {
                let _ = tx.send(action);
            }
            ctx.request_repaint();
        });
    if spawned.is_err() {
        tracing::warn!("could not start the file-dialog thread");
    }
    Dialog {
        answer: rx,
        thread: spawned.ok(),
    }
}
