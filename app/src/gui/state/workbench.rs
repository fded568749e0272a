//! The workbench's state and the one place it changes: the draft config, the runs, the
//! options and what the user chose to see, changed only by [`Workbench::apply`] after layout
//! (panels only read it and return actions).

use std::path::PathBuf;

use eframe::egui;
use sim_engine::config::RunConfig;
use sim_engine::data::DataConfig;
use sim_engine::data::images::ImageSource;
use sim_engine::device::{BackendChoice, Probe};
use sim_engine::protocol::{Command, Tweak};
use sim_engine::teacher::TeacherConfig;

use super::dialog::{Dialog, dialog};
use super::export::Exporter;
use super::run_list::{RunList, RunRecord, RunStatus, score_field_command};
use super::settings::Settings;
use crate::gui::action::Action;
use crate::gui::palette;

/// How the window was launched (command-line flags; not persisted).
#[derive(Clone, Debug, Default)]
pub struct GuiOptions {
    /// Start the first run as soon as the window opens.
    pub autostart: bool,
    /// Close the window after this many seconds (for CI and demos).
    pub quit_after: Option<f64>,
    /// Parent of run folders.
    pub runs_dir: PathBuf,
    /// Folder of presets to list.
    pub presets_dir: PathBuf,
    /// Cache of teacher fits.
    pub cache_dir: Option<PathBuf>,
    /// Config to open with instead of the persisted one.
    pub config: Option<RunConfig>,
    /// Backend for new runs.
    pub backend: BackendChoice,
    /// Where runs learn which GPU adapters exist (`sim_workbench::probe` for the binary).
    pub probe: Probe,
    /// Ignore persisted UI state (tests).
    pub fresh: bool,
}

/// What the panels read and the actions change.
pub struct Workbench {
    /// Persisted UI state.
    pub settings: Settings,
    /// The config being edited: what `Start` launches.
    pub config: RunConfig,
    /// Every run of the session, and those read from the runs folder.
    pub runs: RunList,
    /// The launch options (the backend of new runs changes with `SetBackend`).
    pub options: GuiOptions,
    /// The preset files listed in the experiment panel.
    pub presets: Vec<PathBuf>,
    /// An error to show in a window until dismissed.
    pub error: Option<String>,
    /// The race window is shown.
    pub race_open: bool,
    /// Exports in flight.
    pub export: Exporter,
    /// File dialogs open, each on its own thread.
    pub dialogs: Vec<Dialog>,
    /// The kind of data the user picked for the curves (`plots::curves::shown_kind`); cleared
    /// when another run becomes active.
    pub curves_kind: Option<String>,
}

impl Workbench {
    /// The state a window opens with: `settings` restored, the config given on the command
    /// line, else the persisted one, else the default preset; engines wake `ctx` within
    /// `refresh_ms`.
    pub fn new(
        ctx: &egui::Context,
        options: GuiOptions,
        settings: Settings,
        refresh_ms: u64,
    ) -> Self {
        let config = options
            .config
            .clone()
            .or_else(|| settings.config())
            .unwrap_or_else(|| crate::presets::load(None, &[]).unwrap_or_default());
        let presets = crate::presets::list(&options.presets_dir);
        let mut runs = RunList::new(ctx.clone(), refresh_ms);
        runs.speeds = settings.speeds.clone();
        Self {
            settings,
            config,
            runs,
            options,
            presets,
            error: None,
            race_open: false,
            export: Exporter::new(ctx.clone()),
            dialogs: Vec::new(),
            curves_kind: None,
        }
    }

    /// Applies an action exactly as a click would. The curves PNG (`ExportPlot`) is drawn by
    /// the window, which owns the plots (`WorkbenchApp::apply`), and handed to
    /// [`Workbench::export_plot`].
    pub fn apply(&mut self, action: Action, ctx: &egui::Context) {
        match action {
            Action::Start
            | Action::PauseResume
            | Action::Step(_)
            | Action::Stop
            | Action::SaveCheckpoint
            | Action::RollBack
            | Action::Race { .. } => self.control(action),
            Action::Tweak(_)
            | Action::EditDraft(_)
            | Action::SetBackend(_)
            | Action::SetDataFolder(_)
            | Action::SetTeacher(_) => self.edit_draft(action),
            Action::LoadPreset(_)
            | Action::CopyPreset
            | Action::PastePreset(_)
            | Action::SavePreset(_) => self.preset(action, ctx),
            Action::OpenPresetDialog
            | Action::SavePresetDialog
            | Action::ChooseDataFolder
            | Action::ChooseTeacher => self.ask(action, ctx),
            Action::SetVisible(..)
            | Action::Activate(_)
            | Action::OpenRace
            | Action::LoadRuns
            | Action::ViewSteps(_)
            | Action::ScoreField { .. }
            | Action::DismissNotice => self.view(action),
            Action::ExportSamples | Action::ExportCsv => self.export(action),
            // Drawn by the window (see above); nothing of the state changes before it is.
            Action::ExportPlot => {}
        }
    }

    /// Starts, steps, pauses, stops, checkpoints and rolls back runs, and starts races.
    fn control(&mut self, action: Action) {
        let send = |runs: &RunList, command: Command| {
            if let Some(run) = runs.active() {
                run.send(command);
            }
        };
        match action {
            Action::Start => {
                let label = format!("{} #{}", self.config.name, self.runs.records.len() + 1);
                self.start(vec![(label, self.config.clone())]);
            }
            Action::PauseResume => match self.runs.active().map(|r| &r.engine.status) {
                Some(RunStatus::Running) => send(&self.runs, Command::Pause),
                Some(RunStatus::Paused) => send(&self.runs, Command::Resume),
                Some(_) => {}
                None => {
                    let label = format!("{} #1", self.config.name);
                    self.start(vec![(label, self.config.clone())]);
                }
            },
            Action::Step(n) => send(&self.runs, Command::Step(n)),
            Action::Stop => send(&self.runs, Command::Stop),
            Action::SaveCheckpoint => send(&self.runs, Command::SaveCheckpoint),
            Action::RollBack => send(&self.runs, Command::RollBack),
            Action::Race { variants, seeds } => self.race(variants, seeds),
            _ => {}
        }
    }

    /// Changes the draft: live settings (through the engine where a run is live), and the
    /// restart-only ones, backend, data folder and teacher file.
    fn edit_draft(&mut self, action: Action) {
        match action {
            Action::Tweak(tweak) => self.tweak(tweak),
            Action::EditDraft(config) => self.config = *config,
            Action::SetBackend(choice) => self.options.backend = choice,
            Action::SetDataFolder(folder) => {
                if let DataConfig::Image(
                    ImageSource::Idx { dir, .. }
                    | ImageSource::Cifar10 { dir, .. }
                    | ImageSource::Folder { dir, .. },
                ) = &mut self.config.data
                {
                    *dir = folder;
                }
            }
            Action::SetTeacher(path) => {
                self.config.teacher = match self.config.teacher {
                    TeacherConfig::Edm { .. } => TeacherConfig::Edm { path },
                    _ => TeacherConfig::Network { path },
                };
            }
            _ => {}
        }
    }

    /// A live change, checked as the engine checks it. With a live run it goes to the engine,
    /// and the draft follows the engine's `Applied` ([`Workbench::follow_the_engine`]): what
    /// the panel shows is what the run uses. Without one it is the draft's alone.
    fn tweak(&mut self, tweak: Tweak) {
        let mut next = self.config.distill.clone();
        match tweak.apply(&mut next) {
            Err(e) => self.error = Some(e.to_string()),
            Ok(()) => match self.runs.active.and_then(|i| self.runs.records.get_mut(i)) {
                Some(run) if run.is_live() => run.send_tweak(tweak),
                _ => self.config.distill = next,
            },
        }
    }

    /// Presets: loaded from a file, copied and pasted as text, saved.
    fn preset(&mut self, action: Action, ctx: &egui::Context) {
        match action {
            Action::LoadPreset(path) => match RunConfig::load(&path, &[]) {
                Ok(config) => {
                    self.config = config;
                    self.runs.notice = Some(format!("loaded {}", path.display()));
                }
                Err(e) => self.error = Some(e.to_string()),
            },
            Action::CopyPreset => {
                ctx.copy_text(self.config.to_toml());
                self.runs.notice = Some(format!(
                    "copied {} as a preset (TOML): paste it into another workbench or a .toml file",
                    self.config.name
                ));
            }
            Action::PastePreset(text) => match RunConfig::parse(&text, "the pasted preset", &[]) {
                Ok(config) => {
                    self.runs.notice = Some(format!("pasted preset {}", config.name));
                    self.config = config;
                }
                Err(e) => self.error = Some(e.to_string()),
            },
            Action::SavePreset(path) => {
                let text = format!(
                    "# Saved from the SIM Workbench GUI: the fully resolved config.\n{}",
                    self.config.to_toml()
                );
                match sim_engine::write_atomic(&path, text.as_bytes()) {
                    Ok(()) => {
                        self.runs.notice = Some(format!("saved {}", path.display()));
                        self.presets = crate::presets::list(&self.options.presets_dir);
                    }
                    Err(e) => self.error = Some(e.to_string()),
                }
            }
            _ => {}
        }
    }

    /// Opens a file dialog; its answer comes back as another action.
    fn ask(&mut self, action: Action, ctx: &egui::Context) {
        let presets_dir = self.options.presets_dir.clone();
        let asked = match action {
            Action::OpenPresetDialog => dialog(ctx, move || {
                rfd::FileDialog::new()
                    .add_filter("preset", &["toml"])
                    .set_directory(presets_dir)
                    .pick_file()
                    .map(Action::LoadPreset)
            }),
            Action::SavePresetDialog => {
                let name = format!("{}.toml", self.config.name);
                dialog(ctx, move || {
                    rfd::FileDialog::new()
                        .add_filter("preset", &["toml"])
                        .set_directory(presets_dir)
                        .set_file_name(name)
                        .save_file()
                        .map(Action::SavePreset)
                })
            }
            Action::ChooseDataFolder => dialog(ctx, || {
                rfd::FileDialog::new()
                    .set_title("Folder of the image data")
                    .pick_folder()
                    .map(Action::SetDataFolder)
            }),
            Action::ChooseTeacher => dialog(ctx, || {
                rfd::FileDialog::new()
                    .add_filter("teacher", &["safetensors"])
                    .set_directory(sim_engine::assets::TEACHERS_DIR)
                    .pick_file()
                    .map(Action::SetTeacher)
            }),
            _ => return,
        };
        self.dialogs.push(asked);
    }

    /// The answers of the file dialogs that have answered, as actions; their threads joined.
    pub fn dialog_answers(&mut self) -> Vec<Action> {
        let mut answers = Vec::new();
        self.dialogs.retain_mut(|dialog| {
            let answered = match dialog.answer.try_recv() {
                Ok(action) => {
                    answers.push(action);
                    true
                }
                Err(crossbeam_channel::TryRecvError::Empty) => false,
                Err(crossbeam_channel::TryRecvError::Disconnected) => true,
            };
            if answered {
                dialog.join();
            }
            !answered
        });
        answers
    }

    /// What is shown: which runs, the active one, the race window, the runs folder's runs,
    /// the teacher's sampling steps, the score field, the notice.
    fn view(&mut self, action: Action) {
        match action {
            Action::Activate(i) if i < self.runs.records.len() => {
                self.runs.active = Some(i);
                self.curves_kind = None;
                if self.runs.records[i].is_live() {
                    self.config = self.runs.records[i].engine.config.clone();
                }
            }
            Action::SetVisible(i, visible) => {
                if let Some(run) = self.runs.records.get_mut(i) {
                    run.view.visible = visible;
                }
            }
            Action::OpenRace => self.race_open = true,
            Action::LoadRuns => self.load_runs(),
            Action::ViewSteps(n) => {
                self.settings.view_steps = n;
                if let Some(run) = self.runs.active() {
                    run.send(Command::ViewSteps(n));
                }
            }
            Action::ScoreField { sigma } => {
                if let Some(run) = self.runs.active.and_then(|i| self.runs.records.get_mut(i)) {
                    run.view.score_sigma = sigma;
                    if let (Some(sigma), Some(view)) = (sigma, &run.history.samples) {
                        run.send(score_field_command(sigma, view));
                    }
                }
            }
            Action::DismissNotice => self.runs.notice = None,
            _ => {}
        }
    }

    /// Exports the active run's samples (PNG) or metrics (CSV) into its folder.
    fn export(&mut self, action: Action) {
        let Some(run) = self.runs.active() else {
            self.error = Some("no run to export: start one first".into());
            return;
        };
        let dir = self.export_dir(Some(run));
        match action {
            Action::ExportSamples => self.export.samples(run, dir),
            Action::ExportCsv => self.export.csv(run, dir),
            _ => {}
        }
    }

    /// Writes the curves figure that `rasterize` draws as `export-curves.png` in the active
    /// run's folder.
    pub fn export_plot(&mut self, rasterize: impl FnOnce() -> egui::ColorImage + Send + 'static) {
        let dir = self.export_dir(self.runs.active());
        self.export.plot(rasterize, dir.join("export-curves.png"));
    }

    /// Where exports of a run go: its folder, else the runs directory.
    fn export_dir(&self, run: Option<&RunRecord>) -> PathBuf {
        run.and_then(|r| r.engine.dir.clone())
            .unwrap_or_else(|| self.options.runs_dir.clone())
    }

    /// Brings the draft up to date with the engines' answers to live changes: the active run's
    /// applied changes update it, a refusal is shown; other runs' answers only concern them.
    pub fn follow_the_engine(&mut self) {
        for (i, run) in self.runs.records.iter_mut().enumerate() {
            let answers = run.take_answers();
            if self.runs.active != Some(i) {
                continue;
            }
            for answer in answers {
                match answer {
                    Ok(tweak) => {
                        if let Err(e) = tweak.apply(&mut self.config.distill) {
                            self.error = Some(e.to_string());
                        }
                    }
                    Err(message) => self.error = Some(message),
                }
            }
        }
    }

    /// Starts a race: each variant on `seeds` seeds, grouped and coloured as one with more than
    /// one seed.
    fn race(&mut self, variants: Vec<(String, RunConfig)>, seeds: u64) {
        if seeds <= 1 {
            return self.start(variants);
        }
        let first = self.runs.records.len();
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
        self.start(runs);
        // One colour and one group per variant.
        let started = self.runs.records.len().saturating_sub(first);
        if started == count {
            for (i, run) in self.runs.records[first..].iter_mut().enumerate() {
                let variant = i / seeds as usize;
                run.group = Some(variants[variant].0.clone());
                run.color = palette::run_color(first + variant);
            }
        }
    }

    /// Starts engines for `variants`, all running at once; the first becomes active.
    fn start(&mut self, variants: Vec<(String, RunConfig)>) {
        self.curves_kind = None;
        let mut first = None;
        for (label, config) in variants {
            if let Err(e) = config.validate() {
                self.error = Some(e.to_string());
                return;
            }
            let options = self.run_options();
            match self.runs.spawn(label, config, options, true) {
                Ok(i) => {
                    first.get_or_insert(i);
                }
                Err(e) => {
                    self.error = Some(e);
                    return;
                }
            }
        }
        if let Some(i) = first {
            self.runs.active = Some(i);
        }
    }

    /// Options for a new engine (a run's, or the GPU's preparation).
    pub fn run_options(&self) -> sim_engine::run::RunOptions {
        RunList::run_options(
            &self.options.runs_dir,
            self.options.cache_dir.clone(),
            self.options.backend,
            self.options.probe.clone(),
        )
    }

    /// Loads run folders that are not in the list yet.
    fn load_runs(&mut self) {
        let Ok(entries) = std::fs::read_dir(&self.options.runs_dir) else {
            self.error = Some(format!(
                "no runs folder at {}",
                self.options.runs_dir.display()
            ));
            return;
        };
        let known: Vec<PathBuf> = self
            .runs
            .records
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
            match RunRecord::load(&dir, self.runs.records.len()) {
                Ok(mut record) => {
                    record.view.visible = false;
                    self.runs.records.push(record);
                    loaded += 1;
                }
                Err(e) => self.runs.notice = Some(format!("skipped {}: {e}", dir.display())),
            }
        }
        self.runs.notice = Some(format!(
            "loaded {loaded} run(s) from {}",
            self.options.runs_dir.display()
        ));
    }
}
