//! The settings that apply when a run (re)starts: batch, t*, EMA half-life, seed,
//! the MLP's shape (toy runs), evaluation cadence, and the backend of the next run.

use eframe::egui;
use sim_engine::config::RunConfig;
use sim_engine::data::DataConfig;
use sim_engine::device::BackendChoice;

use super::about;
use super::widgets::{restart_section, setting};
use crate::gui::action::Action;

/// Edits `config` (the panel's copy of the draft); `running` is the active live run's config,
/// to flag settings that differ from it.
pub(super) fn ui(
    ui: &mut egui::Ui,
    config: &mut RunConfig,
    running: Option<&RunConfig>,
    backend: BackendChoice,
    out: &mut Vec<Action>,
) {
    let restart = running.is_some_and(|r| {
        r.distill.batch != config.distill.batch
            || r.distill.t_star != config.distill.t_star
            || r.distill.ema_half_life_kimg != config.distill.ema_half_life_kimg
            || r.seed != config.seed
            || r.net != config.net
    });
    restart_section(ui, "Run settings", restart, |ui| {
        let d = &mut config.distill;
        ui.add(
            setting(&mut d.batch, 16..=8192)
                .logarithmic(true)
                .text("batch"),
        )
        .on_hover_text(about::BATCH);
        ui.add(
            setting(&mut d.t_star, 0.1..=80.0)
                .logarithmic(true)
                .text("t*"),
        )
        .on_hover_text(about::T_STAR);
        ui.add(
            setting(&mut d.ema_half_life_kimg, 0.1..=500.0)
                .logarithmic(true)
                .text("EMA half-life (kimg)"),
        )
        .on_hover_text(about::EMA);
        ui.horizontal(|ui| {
            ui.add(
                egui::DragValue::new(&mut config.seed)
                    .range(0..=u32::MAX as u64)
                    .clamp_existing_to_range(false),
            )
            .labelled_by(ui.label("seed").id)
            .on_hover_text(about::SEED);
        });
        // Image runs copy the teacher's U-Net: its shape is the teacher file's.
        if !matches!(config.data, DataConfig::Image(_)) {
            ui.add(
                setting(&mut config.net.width, 8..=512)
                    .logarithmic(true)
                    .text("net width"),
            )
            .on_hover_text(about::NET_SHAPE);
            ui.add(setting(&mut config.net.depth, 1..=8).text("net depth"))
                .on_hover_text(about::NET_SHAPE);
        }
        ui.add(
            setting(&mut config.eval.every, 10..=2000)
                .logarithmic(true)
                .text("evaluate every"),
        )
        .on_hover_text(about::EVAL_EVERY);
        let mut chosen = backend;
        egui::ComboBox::from_label("backend")
            .selected_text(backend_name(chosen))
            .show_ui(ui, |ui| {
                let cuda = cfg!(feature = "cuda").then_some(BackendChoice::Cuda);
                let choices = [BackendChoice::Auto, BackendChoice::Cpu, BackendChoice::Gpu];
                for choice in choices.into_iter().chain(cuda) {
                    ui.selectable_value(&mut chosen, choice, backend_name(choice));
                }
            })
            .response
            .on_hover_text("the next run's device; the status bar names the one in use");
        if chosen != backend {
            out.push(Action::SetBackend(chosen));
        }
    });
}

/// What the backend picker shows for a choice.
fn backend_name(choice: BackendChoice) -> &'static str {
    match choice {
        BackendChoice::Auto => "auto (GPU or CPU, by calibration)",
        BackendChoice::Cpu => "CPU (flex)",
        BackendChoice::Gpu => "GPU (wgpu)",
        BackendChoice::Cuda => "GPU (CUDA)",
    }
}
