//! The workbench window: a view of engine sessions. Panels (`panels`) read the state (`state`)
//! and return `Action`s (`action`); the state applies them after layout; the engine is never
//! waited on. Plots and their helpers are `plots`.

mod action;
mod palette;
mod panels;
mod plots;
mod state;

use std::time::Instant;

use eframe::egui;
use sim_engine::config::RunConfig;

use panels::race::RaceDialog;
use panels::{curves, experiment, runs, samples, status, toolbar};
use plots::figure;
use state::preparation::{Preparation, PreparationStatus};
use state::rendering::Rendering;
use state::workbench::Workbench;

pub use action::Action;
pub use panels::diagnostics::weight_text;
pub use plots::band::{band, seed_groups};
pub use state::run_list::{RunList, RunRecord, RunStatus};
pub use state::settings::Settings;
pub use state::workbench::GuiOptions;

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

/// The application: the workbench's state, and what only the window has.
pub struct WorkbenchApp {
    /// What the panels read and the actions change.
    state: Workbench,
    /// How the window is rendered (sets the default redraw interval).
    rendering: Rendering,
    /// The race window's choices.
    race: RaceDialog,
    frames: FrameTimes,
    opened: Instant,
    autostarted: bool,
    /// The GPU prepared for the draft in the background.
    preparation: Preparation,
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
        let rendering = Rendering::of(cc);
        let refresh_ms = rendering.effective_refresh_ms(settings.redraw_ms);
        if options.fresh {
            // A fresh start forgets the window's layout too (scrolled panels, open sections).
            cc.egui_ctx.memory_mut(|m| {
                let options = m.options.clone();
                *m = egui::Memory::default();
                m.options = options;
            });
        }
        Self {
            state: Workbench::new(&cc.egui_ctx, options, settings, refresh_ms),
            rendering,
            race: RaceDialog::default(),
            frames: FrameTimes::default(),
            opened: Instant::now(),
            autostarted: false,
            preparation: Preparation::default(),
        }
    }

    /// The runs (tests read them).
    pub fn runs(&self) -> &RunList {
        &self.state.runs
    }

    /// The config `Start` would launch.
    pub fn config(&self) -> &RunConfig {
        &self.state.config
    }

    /// The error shown to the user, if any.
    pub fn error(&self) -> Option<&str> {
        self.state.error.as_deref()
    }

    /// Applies an action exactly as a click would: the curves PNG is drawn here, where the
    /// plots are; everything else is the state's ([`Workbench::apply`]).
    pub fn apply(&mut self, action: Action, ctx: &egui::Context) {
        match action {
            Action::ExportPlot => self.export_plot(ctx),
            action => self.state.apply(action, ctx),
        }
    }

    /// Frame time p50 / p95 in milliseconds.
    pub fn frame_time_ms(&self) -> Option<(f64, f64)> {
        self.frames.percentiles()
    }

    /// Draws the curves of the kind on screen off-screen, 1,100 points wide at 1.5 pixels per
    /// point, and has the state write them as `export-curves.png` in the active run's folder.
    fn export_plot(&mut self, ctx: &egui::Context) {
        let state = &self.state;
        let Some(kind) = plots::curves::shown_kind(&state.runs, state.curves_kind.as_deref())
        else {
            self.state.error =
                Some("no curves to export: start a run, or tick one in the runs panel".into());
            return;
        };
        let width = 1100.0;
        let height = plots::curves::figure_height(&state.runs, Some(&kind), width);
        let figure = figure::layout(ctx, egui::vec2(width, height), 1.5, |ui| {
            plots::curves::figure(ui, &state.settings, &state.runs, &kind, height);
        });
        self.state.export_plot(move || figure.rasterize());
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
        let options = self.state.run_options();
        let runs = &self.state.runs;
        let busy = runs.any_running();
        let wait = self
            .preparation
            .update(&self.state.config, &options, busy, || runs.waker());
        let preparing = matches!(
            self.preparation
                .status(&self.state.config, self.state.options.backend),
            Some(PreparationStatus::Preparing(..))
        );
        match (wait, preparing) {
            (_, true) => ctx.request_repaint_after(std::time::Duration::from_secs(1)),
            (Some(wait), false) => ctx.request_repaint_after(wait),
            (None, false) => {}
        }
    }

    /// What the frame asks for before any panel is drawn: the dialogs' answers, the keys, the
    /// autostart; and the `--quit-after` deadline kept.
    fn before_layout(&mut self, ctx: &egui::Context) -> Vec<Action> {
        let mut actions = self.shortcuts(ctx);
        actions.extend(self.state.dialog_answers());
        if self.state.options.autostart && !self.autostarted {
            self.autostarted = true;
            actions.push(Action::Start);
        }
        if let Some(limit) = self.state.options.quit_after {
            let left = limit - self.opened.elapsed().as_secs_f64();
            if left <= 0.0 {
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            } else {
                // Wake up at the deadline even when nothing else redraws (a finished run).
                ctx.request_repaint_after(std::time::Duration::from_secs_f64(left));
            }
        }
        actions
    }

    /// The panels around the middle: toolbar, status bar, experiment, runs.
    fn side_panels(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        let state = &mut self.state;
        egui::Panel::top("toolbar").show(ui, |ui| {
            actions.extend(toolbar::ui(ui, &state.runs, &state.config));
        });
        egui::Panel::bottom("status").show(ui, |ui| {
            actions.extend(status::notice(ui, &state.runs));
            status::ui(
                ui,
                &state.runs,
                self.preparation
                    .status(&state.config, state.options.backend),
                self.frames.percentiles(),
                self.rendering,
                &mut state.settings.redraw_ms,
            );
        });
        egui::Panel::left("experiment")
            .resizable(true)
            .default_size(300.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    actions.extend(experiment::ui(
                        ui,
                        &state.config,
                        state.options.backend,
                        &state.runs,
                        &state.presets,
                    ));
                });
            });
        egui::Panel::right("runs")
            .resizable(true)
            .default_size(230.0)
            .show(ui, |ui| {
                actions.extend(runs::ui(ui, &state.runs));
            });
    }

    /// The middle: the divergence banner, the samples above, the curves below.
    fn middle(&mut self, ui: &mut egui::Ui, actions: &mut Vec<Action>) {
        let state = &mut self.state;
        egui::CentralPanel::default().show(ui, |ui| {
            actions.extend(status::divergence_banner(ui, &state.runs));
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
                        &mut state.settings,
                        &state.runs,
                        &state.config,
                    ));
                    ui.allocate_space(ui.available_size());
                });
            egui::CentralPanel::default().show(ui, |ui| {
                curves::ui(ui, &mut state.settings, &state.runs, &mut state.curves_kind);
            });
        });
    }

    /// The windows over the panels: a problem to dismiss, the race; and the notice or error
    /// of an export that finished.
    fn windows(&mut self, ctx: &egui::Context, actions: &mut Vec<Action>) {
        if let Some(message) = self.state.error.clone() {
            egui::Window::new("Problem")
                .collapsible(false)
                .show(ctx, |ui| {
                    ui.label(egui::RichText::new(message).color(palette::ERROR));
                    if ui.button("Dismiss").clicked() {
                        self.state.error = None;
                    }
                });
        }
        actions.extend(
            self.race
                .ui(ctx, &self.state.config, &mut self.state.race_open),
        );
        if let Some(done) = self.state.export.poll() {
            match done {
                Ok(message) => self.state.runs.notice = Some(message),
                Err(message) => self.state.error = Some(message),
            }
        }
    }

    /// Asks for the next frame: soon while a run has not iterated yet, within the refresh
    /// interval while one works.
    fn schedule_redraw(&self, ctx: &egui::Context) {
        if self.state.runs.awaiting_first_iteration() {
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        } else if self.state.runs.any_active() {
            ctx.request_repaint_after(self.state.runs.refresh());
        }
    }
}

impl eframe::App for WorkbenchApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let frame_start = Instant::now();
        let ctx = ui.ctx().clone();
        self.state.runs.drain();
        self.state.follow_the_engine();
        self.prepare_the_gpu(&ctx);
        let mut actions = self.before_layout(&ctx);
        self.side_panels(ui, &mut actions);
        self.middle(ui, &mut actions);
        self.windows(&ctx, &mut actions);
        for action in actions {
            self.apply(action, &ctx);
        }
        if ui.input(|i| i.viewport().close_requested()) {
            self.preparation.shutdown();
            self.state.runs.shutdown_all();
        }
        self.schedule_redraw(&ctx);
        self.frames.push(frame_start.elapsed().as_secs_f64() * 1e3);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        let state = &mut self.state;
        state.settings.set_config(&state.config);
        state.settings.speeds = state.runs.speeds.clone();
        eframe::set_value(storage, eframe::APP_KEY, &state.settings);
    }

    /// Every thread the app started ends before the process does (docs/platform.md, "Exit"):
    /// the engines (each joins its pool), the exports in flight, open file dialogs.
    fn on_exit(&mut self) {
        self.preparation.shutdown();
        self.state.runs.shutdown_all();
        self.state.export.finish();
        for dialog in &mut self.state.dialogs {
            dialog.join();
        }
        if self.state.options.quit_after.is_some() {
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
            .state
            .runs
            .records
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
