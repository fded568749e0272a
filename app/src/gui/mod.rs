//! The workbench window: a view of engine sessions. Panels read the run store and return
//! `Action`s; actions are applied after layout; the engine is never waited on.

mod actions;
mod axes;
mod band;
mod curves;
mod diagnostics;
mod downsample;
mod experiment;
mod export;
mod figure;
mod formula;
mod grid;
mod markers;
mod painter;
mod palette;
mod preparation;
mod race;
mod runs;
mod samples;
mod settings;
mod smoothing;
mod status;
mod store;
mod toolbar;

use std::path::PathBuf;
use std::time::Instant;

use eframe::egui;
use sim_engine::config::RunConfig;
use sim_engine::device::{BackendChoice, Probe};

use painter::Painter;

pub use actions::Action;
pub use band::{band, seed_groups};
pub use diagnostics::weight_text;
pub use settings::Settings;
pub use store::{RunRecord, RunStatus, RunStore};

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

/// Frame-time statistics for the status bar and the exit report.
#[derive(Default)]
struct FrameTimes {
    samples_ms: Vec<f64>,
}

impl FrameTimes {
    fn push(&mut self, ms: f64) {
        if self.samples_ms.len() >= 4096 {
            self.samples_ms.remove(0);
        }
        self.samples_ms.push(ms);
    }

    /// (p50, p95) in milliseconds.
    fn percentiles(&self) -> Option<(f64, f64)> {
        if self.samples_ms.is_empty() {
            return None;
        }
        let mut v = self.samples_ms.clone();
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        Some((at(0.5), at(0.95)))
    }
}

/// The application.
pub struct WorkbenchApp {
    settings: Settings,
    /// Who paints the window (sets the default redraw interval).
    painter: Painter,
    /// The config being edited: what `Start` launches.
    config: RunConfig,
    store: RunStore,
    options: GuiOptions,
    presets: Vec<PathBuf>,
    /// An error to show in a window until dismissed.
    error: Option<String>,
    race: race::RaceDialog,
    frames: FrameTimes,
    opened: Instant,
    autostarted: bool,
    export: export::Exporter,
    dialogs: Vec<actions::Dialog>,
    /// The kind of data the user picked for the curves (`curves::shown_kind`); cleared when
    /// another run becomes active.
    curves_kind: Option<String>,
    /// The GPU prepared for the draft in the background.
    preparation: preparation::Preparation,
}

impl WorkbenchApp {
    /// Builds the app, restoring persisted settings unless `options.fresh`.
    pub fn new(cc: &eframe::CreationContext<'_>, options: GuiOptions) -> Self {
        let settings = if options.fresh {
            Settings::default()
        } else {
            cc.storage
                .and_then(|s| eframe::get_value::<Settings>(s, eframe::APP_KEY))
                .unwrap_or_default()
        };
        let config = options
            .config
            .clone()
            .or_else(|| settings.config())
            .unwrap_or_else(|| crate::presets::load(None, &[]).unwrap_or_default());
        let presets = crate::presets::list(&options.presets_dir);
        let painter = Painter::of(cc);
        let mut store = RunStore::new(
            cc.egui_ctx.clone(),
            painter.effective_refresh_ms(settings.redraw_ms),
        );
        store.speeds = settings.speeds.clone();
        if options.fresh {
            // A fresh start forgets the window's layout too (scrolled panels, open sections).
            cc.egui_ctx.memory_mut(|m| {
                let options = m.options.clone();
                *m = egui::Memory::default();
                m.options = options;
            });
        }
        Self {
            settings,
            painter,
            config,
            store,
            presets,
            error: None,
            race: race::RaceDialog::default(),
            frames: FrameTimes::default(),
            opened: Instant::now(),
            autostarted: false,
            export: export::Exporter::new(cc.egui_ctx.clone()),
            dialogs: Vec::new(),
            curves_kind: None,
            preparation: preparation::Preparation::default(),
            options,
        }
    }

    /// The run store (tests read it).
    pub fn store(&self) -> &RunStore {
        &self.store
    }

    /// The config `Start` would launch.
    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    /// The error shown to the user, if any.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Applies an action exactly as a click would.
    pub fn apply(&mut self, action: Action, ctx: &egui::Context) {
        actions::apply(self, action, ctx);
    }

    /// Frame time p50 / p95 in milliseconds.
    pub fn frame_time_ms(&self) -> Option<(f64, f64)> {
        self.frames.percentiles()
    }

    fn shortcuts(&self, ctx: &egui::Context) -> Vec<Action> {
        // Keys go to text fields when one has focus.
        if ctx.memory(|m| m.focused().is_some()) {
            return Vec::new();
        }
        let mut out = Vec::new();
        ctx.input(|i| {
            if i.key_pressed(egui::Key::Space) {
                out.push(Action::PauseResume);
            }
            if i.key_pressed(egui::Key::ArrowRight) {
                out.push(Action::Step(1));
            }
        });
        out
    }

    /// Prepares the GPU for the draft in the background (`preparation`), and keeps the
    /// status bar's clock of a preparation under way moving.
    fn prepare_the_gpu(&mut self, ctx: &egui::Context) {
        let options = RunStore::run_options(
            &self.options.runs_dir,
            self.options.cache_dir.clone(),
            self.options.backend,
            self.options.probe.clone(),
        );
        let busy = self.store.any_running();
        let store = &self.store;
        let wait = self
            .preparation
            .update(&self.config, &options, busy, || store.waker());
        let preparing = matches!(
            self.preparation.status(&self.config, self.options.backend),
            Some(preparation::PreparationStatus::Preparing(..))
        );
        match (wait, preparing) {
            (_, true) => ctx.request_repaint_after(std::time::Duration::from_secs(1)),
            (Some(wait), false) => ctx.request_repaint_after(wait),
            (None, false) => {}
        }
    }
}

impl eframe::App for WorkbenchApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let frame_start = Instant::now();
        let ctx = ui.ctx().clone();
        self.store.drain();
        actions::follow_the_engine(self);
        self.prepare_the_gpu(&ctx);
        let mut actions = self.shortcuts(&ctx);
        self.dialogs.retain_mut(|dialog| {
            let answered = match dialog.answer.try_recv() {
                Ok(action) => {
                    actions.push(action);
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
        if self.options.autostart && !self.autostarted {
            self.autostarted = true;
            actions.push(Action::Start);
        }
        if let Some(limit) = self.options.quit_after {
            let left = limit - self.opened.elapsed().as_secs_f64();
            if left <= 0.0 {
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            } else {
                // Wake up at the deadline even when nothing else redraws (a finished run).
                ctx.request_repaint_after(std::time::Duration::from_secs_f64(left));
            }
        }

        egui::Panel::top("toolbar").show(ui, |ui| {
            actions.extend(toolbar::ui(ui, &self.store, &self.config));
        });
        egui::Panel::bottom("status").show(ui, |ui| {
            actions.extend(status::notice(ui, &self.store));
            status::ui(
                ui,
                &self.store,
                self.preparation.status(&self.config, self.options.backend),
                self.frames.percentiles(),
                self.painter,
                &mut self.settings.redraw_ms,
            );
        });
        egui::Panel::left("experiment")
            .resizable(true)
            .default_size(300.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    actions.extend(experiment::ui(
                        ui,
                        &self.config,
                        self.options.backend,
                        &self.store,
                        &self.presets,
                    ));
                });
            });
        egui::Panel::right("runs")
            .resizable(true)
            .default_size(230.0)
            .show(ui, |ui| {
                actions.extend(runs::ui(ui, &self.store));
            });
        egui::CentralPanel::default().show(ui, |ui| {
            actions.extend(status::divergence_banner(ui, &self.store));
            let height = ui.available_height();
            // The panel keeps the height of what it holds, so the samples claim all of it:
            // the divider then stays where the user dragged it.
            egui::Panel::top("samples")
                .resizable(true)
                .default_size(height * 0.45)
                .min_size(160.0)
                .show(ui, |ui| {
                    actions.extend(samples::ui(
                        ui,
                        &mut self.settings,
                        &self.store,
                        &self.config,
                    ));
                    ui.allocate_space(ui.available_size());
                });
            egui::CentralPanel::default().show(ui, |ui| {
                curves::ui(ui, &mut self.settings, &self.store, &mut self.curves_kind);
            });
        });
        if let Some(message) = self.error.clone() {
            egui::Window::new("Problem")
                .collapsible(false)
                .show(&ctx, |ui| {
                    ui.label(egui::RichText::new(message).color(palette::ERROR));
                    if ui.button("Dismiss").clicked() {
                        self.error = None;
                    }
                });
        }
        actions.extend(self.race.ui(&ctx, &self.config));
        if let Some(done) = self.export.poll() {
            match done {
                Ok(message) => self.store.notice = Some(message),
                Err(message) => self.error = Some(message),
            }
        }
        for action in actions {
            actions::apply(self, action, &ctx);
        }
        if ui.input(|i| i.viewport().close_requested()) {
            self.preparation.shutdown();
            self.store.shutdown_all();
        }
        if self.store.awaiting_first_iteration() {
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        } else if self.store.any_active() {
            ctx.request_repaint_after(self.store.refresh());
        }
        self.frames.push(frame_start.elapsed().as_secs_f64() * 1e3);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        self.settings.set_config(&self.config);
        self.settings.speeds = self.store.speeds.clone();
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
    }

    /// Every thread the app started ends before the process does (docs/platform.md, "Exit"):
    /// the engines (each joins its pool), the exports in flight, open file dialogs.
    fn on_exit(&mut self) {
        self.preparation.shutdown();
        self.store.shutdown_all();
        self.export.finish();
        for dialog in &mut self.dialogs {
            dialog.join();
        }
        if self.options.quit_after.is_some() {
            println!("{}", self.exit_report());
        }
    }
}

impl WorkbenchApp {
    /// One line for `--quit-after` runs: throughput and frame times.
    fn exit_report(&self) -> String {
        let frames = self
            .frames
            .percentiles()
            .map(|(p50, p95)| format!("frame time p50 {p50:.2} ms, p95 {p95:.2} ms"))
            .unwrap_or_else(|| "no frames".into());
        let runs: Vec<String> = self
            .store
            .runs
            .iter()
            .map(|r| {
                format!(
                    "{}: {} iterations, {:.1} it/s overall",
                    r.label,
                    r.engine.step,
                    if r.engine.wall_s > 0.0 {
                        r.engine.step.saturating_sub(r.engine.first_step) as f64 / r.engine.wall_s
                    } else {
                        0.0
                    }
                )
            })
            .collect();
        format!(
            "gui: {} frames, {frames}; {}",
            self.frames.samples_ms.len(),
            runs.join("; ")
        )
    }
}

/// Opens the window and blocks until it closes.
pub fn run(options: GuiOptions) -> anyhow::Result<()> {
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("SIM Workbench")
            .with_inner_size([1400.0, 900.0])
            .with_min_inner_size([900.0, 600.0])
            .with_app_id("sim-workbench"),
        ..Default::default()
    };
    eframe::run_native(
        "sim-workbench",
        native,
        Box::new(move |cc| Ok(Box::new(WorkbenchApp::new(cc, options)))),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}
