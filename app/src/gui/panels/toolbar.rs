//! Start, pause/resume, step, stop, checkpoint, export. Space = pause/resume, → = step.

use eframe::egui;
use sim_engine::config::RunConfig;

use crate::gui::action::Action;
use crate::gui::state::run_list::{RunList, RunStatus};

pub fn ui(ui: &mut egui::Ui, runs: &RunList, config: &RunConfig) -> Vec<Action> {
    let mut out = Vec::new();
    let status = runs.active().map(|r| r.engine.status.clone());
    let live = runs.active().is_some_and(|r| r.is_live());
    let idle = matches!(status, Some(RunStatus::Paused));
    ui.horizontal(|ui| {
        ui.heading("SIM Workbench");
        ui.separator();
        if ui
            .button("Start")
            .on_hover_text(format!("start a new run of “{}”", config.name))
            .clicked()
        {
            out.push(Action::Start);
        }
        let (label, hint) = match status {
            Some(RunStatus::Running) => ("Pause", "pause after this iteration (Space)"),
            _ => ("Resume", "resume the active run (Space)"),
        };
        if ui
            .add_enabled(live, egui::Button::new(label))
            .on_hover_text(hint)
            .clicked()
        {
            out.push(Action::PauseResume);
        }
        if ui
            .add_enabled(live && idle, egui::Button::new("Step 1"))
            .on_hover_text("one iteration (→)")
            .clicked()
        {
            out.push(Action::Step(1));
        }
        if ui
            .add_enabled(live && idle, egui::Button::new("Step 10"))
            .clicked()
        {
            out.push(Action::Step(10));
        }
        if ui
            .add_enabled(live, egui::Button::new("Stop"))
            .on_hover_text("finish: final evaluation and checkpoint")
            .clicked()
        {
            out.push(Action::Stop);
        }
        ui.separator();
        if ui
            .add_enabled(live, egui::Button::new("Checkpoint"))
            .on_hover_text("write a checkpoint now (safetensors, in the run folder)")
            .clicked()
        {
            out.push(Action::SaveCheckpoint);
        }
        ui.menu_button("Export", |ui| {
            if ui.button("Samples (PNG)").clicked() {
                out.push(Action::ExportSamples);
                ui.close();
            }
            if ui.button("Metrics (CSV)").clicked() {
                out.push(Action::ExportCsv);
                ui.close();
            }
            if ui.button("Curves (PNG)").clicked() {
                out.push(Action::ExportPlot);
                ui.close();
            }
        });
    });
    out
}
