//! The status bar, and the divergence banner.

use std::sync::atomic::Ordering;

use eframe::egui;

use crate::gui::action::Action;
use crate::gui::palette;
use crate::gui::state::preparation::PreparationStatus;
use crate::gui::state::rendering::{REFRESH_CHOICES_MS, Rendering};
use crate::gui::state::run_list::{RunList, RunRecord, RunStatus};

/// Draws the status bar: the GPU's preparation, the active run (backend, memory, status,
/// iteration, speed, elapsed time, evaluation time), frame times and the refresh interval.
pub fn ui(
    ui: &mut egui::Ui,
    runs: &RunList,
    preparation: Option<&PreparationStatus>,
    frame_ms: Option<(f64, f64)>,
    rendering: Rendering,
    redraw_ms: &mut Option<u64>,
) {
    // Wrapped, so a narrow window shows every item on a second line rather than cutting it.
    ui.horizontal_wrapped(|ui| {
        if let Some(preparation) = preparation {
            preparation_item(ui, preparation);
        }
        match runs.active() {
            Some(run) => run_items(ui, run),
            None => {
                ui.label("no run yet: press Start");
            }
        }
        if let Some((p50, p95)) = frame_ms {
            ui.separator();
            ui.label(format!("frame p50 {p50:.1} ms · p95 {p95:.1} ms"));
        }
        ui.separator();
        refresh_choice(ui, runs, rendering, redraw_ms);
    });
}

/// Where the GPU's preparation for the draft stands.
fn preparation_item(ui: &mut egui::Ui, preparation: &PreparationStatus) {
    let text = preparation.describe();
    match preparation {
        PreparationStatus::Failed(_) => ui.colored_label(palette::ERROR, text),
        _ => ui.label(text),
    }
    .on_hover_text(
        "the GPU compiles and tunes the kernels of a run set up like this one while \
         you set it up, so that Start runs at once (docs/platform.md, \"On a GPU\")",
    );
    ui.separator();
}

/// The active run: backend, memory, status, iteration, speed, training time, evaluation time.
fn run_items(ui: &mut egui::Ui, run: &RunRecord) {
    ui.label(format!(
        "backend: {}",
        if run.engine.backend.is_empty() {
            "…"
        } else {
            &run.engine.backend
        }
    ));
    if let Some(memory) = run.engine.memory {
        ui.separator();
        ui.label(format!("memory {}", memory.describe()))
            .on_hover_text(
                "what the engine's tensors hold on the GPU, and what its allocator \
                 has reserved there",
            );
    }
    ui.separator();
    let status = match &run.engine.status {
        RunStatus::Preparing(m, f) => format!("{m} {:.0}%", f * 100.0),
        RunStatus::Running => "running".into(),
        RunStatus::Paused => "paused".into(),
        RunStatus::Diverged { step, .. } => format!("diverged at {step}"),
        RunStatus::Finished => "finished".into(),
        RunStatus::Stopped => "stopped".into(),
        RunStatus::Failed(_) => "failed".into(),
        RunStatus::Loaded => "loaded from disk".into(),
    };
    ui.label(format!("{}: {status}", run.label));
    ui.separator();
    ui.label(format!(
        "iteration {} / {}",
        run.engine.step, run.engine.config.iterations
    ));
    ui.separator();
    // Training time and speed stand still unless the run iterates.
    let rate = format!("{:.1} it/s", run.engine.it_per_s);
    let elapsed = format!("elapsed {}", clock(run.engine.wall_s));
    if run.engine.status == RunStatus::Running {
        ui.label(rate);
        ui.separator();
        ui.label(elapsed);
    } else {
        ui.weak(rate)
            .on_hover_text("the speed when it last iterated");
        ui.separator();
        ui.weak(elapsed)
            .on_hover_text("training time: time spent iterating, pauses left out");
    }
    ui.separator();
    ui.label(format!("eval {:.0} ms", run.engine.eval_s * 1e3));
}

/// The redraw interval while training: `auto` (the rendering's) or a chosen one, handed to the
/// engines' wake-up at once.
fn refresh_choice(
    ui: &mut egui::Ui,
    runs: &RunList,
    rendering: Rendering,
    redraw_ms: &mut Option<u64>,
) {
    let label = ui.label("refresh");
    let before = *redraw_ms;
    let label_of = |choice: Option<u64>| match choice {
        None => rendering.auto_label(),
        Some(ms) => format!("{:.2} s", ms as f64 / 1e3),
    };
    egui::ComboBox::from_id_salt("refresh")
        .selected_text(label_of(*redraw_ms))
        .show_ui(ui, |ui| {
            ui.selectable_value(redraw_ms, None, label_of(None));
            for ms in REFRESH_CHOICES_MS {
                ui.selectable_value(redraw_ms, Some(ms), label_of(Some(ms)));
            }
        })
        .response
        .labelled_by(label.id)
        .on_hover_text(
            "redraw interval while training: each frame takes CPU from training, \
             ~0.25 s of it when the window is painted in software (auto then redraws every 5 s)",
        );
    if *redraw_ms != before {
        runs.refresh_ms.store(
            rendering.effective_refresh_ms(*redraw_ms),
            Ordering::Relaxed,
        );
    }
}

/// The latest notice (where an export went, what was loaded), in full: it wraps rather than
/// being cut at the window's edge, and its text can be selected and copied.
pub fn notice(ui: &mut egui::Ui, runs: &RunList) -> Vec<Action> {
    let mut out = Vec::new();
    if let Some(notice) = &runs.notice {
        ui.horizontal(|ui| {
            if ui
                .small_button("×")
                .on_hover_text("dismiss this message")
                .clicked()
            {
                out.push(Action::DismissNotice);
            }
            ui.add(egui::Label::new(notice).wrap().selectable(true));
        });
    }
    out
}

fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0) as u64;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// A red banner while the active run is diverged, offering the roll-back.
pub fn divergence_banner(ui: &mut egui::Ui, runs: &RunList) -> Vec<Action> {
    let mut out = Vec::new();
    let Some(run) = runs.active() else {
        return out;
    };
    let failed = match &run.engine.status {
        RunStatus::Failed(m) => Some(m.clone()),
        _ => None,
    };
    if let Some(message) = failed {
        egui::Frame::new()
            .fill(palette::ERROR.gamma_multiply(0.25))
            .inner_margin(6)
            .show(ui, |ui| {
                ui.colored_label(palette::ERROR, format!("The run failed: {message}"));
            });
    }
    if let RunStatus::Diverged {
        step,
        reason,
        last_good,
    } = &run.engine.status
    {
        egui::Frame::new()
            .fill(palette::ERROR.gamma_multiply(0.25))
            .inner_margin(6)
            .show(ui, |ui| {
                ui.horizontal_wrapped(|ui| {
                    ui.colored_label(
                        palette::ERROR,
                        format!("Diverged at iteration {step}: {reason}. The run is paused."),
                    );
                    match last_good {
                        Some(path) => {
                            if ui
                                .button("Roll back to the last good checkpoint")
                                .on_hover_text(path.display().to_string())
                                .clicked()
                            {
                                out.push(Action::RollBack);
                            }
                        }
                        None => {
                            ui.label("(no checkpoint to roll back to)");
                        }
                    }
                    ui.label("Lower the learning rate before resuming.");
                });
            });
    }
    out
}
