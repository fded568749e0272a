//! The experiment panel: preset, data and teacher (`data`), the live distillation settings
//! (`distillation`) with the generator loss they make (`formula`), and the settings that apply
//! on restart (`run_settings`).
//!
//! One edit path: the panel reads the draft config and returns `Action`s. Live settings return
//! `Action::Tweak`s; restart-only settings are edited on a copy, returned as one
//! `Action::EditDraft`. The draft changes only where actions are applied.

mod about;
mod canvas;
mod data;
mod distillation;
mod formula;
mod run_settings;
mod widgets;

use std::path::PathBuf;

use eframe::egui;
use sim_engine::config::RunConfig;
use sim_engine::device::BackendChoice;
use sim_engine::protocol::Tweak;

use crate::gui::action::Action;
use crate::gui::state::run_list::{RunList, RunStatus, data_kind};
use widgets::{kept_text, restart_section};

/// Draws the panel for the draft `config`; `backend` is the next run's.
pub fn ui(
    ui: &mut egui::Ui,
    config: &RunConfig,
    backend: BackendChoice,
    runs: &RunList,
    presets: &[PathBuf],
) -> Vec<Action> {
    let mut out = Vec::new();
    let running = runs
        .active()
        .filter(|r| r.is_live())
        .map(|r| r.engine.config.clone());
    ui.heading("Experiment");
    presets_row(ui, config, presets, &mut out);
    let mut edited = config.clone();
    ui.horizontal(|ui| {
        ui.label("name");
        ui.text_edit_singleline(&mut edited.name)
            .on_hover_text("run name");
    });
    run_length_ui(ui, &mut edited, runs);
    let data_pending = running
        .as_ref()
        .is_some_and(|r| (&r.data, &r.teacher) != (&config.data, &config.teacher));
    restart_section(ui, "Data and teacher", data_pending, |ui| {
        data::ui(ui, &mut edited, &mut out);
    });
    ui.separator();
    ui.strong("Distillation (live)");
    // What the engine has not answered yet is shown as it will be, and said to be pending.
    let pending: &[Tweak] = runs
        .active()
        .filter(|r| r.is_live())
        .map_or(&[], |r| r.pending.as_slice());
    let mut shown = config.distill.clone();
    for tweak in pending {
        tweak.apply(&mut shown).ok();
    }
    if !pending.is_empty() {
        let labels: Vec<String> = pending.iter().map(Tweak::label).collect();
        ui.small(format!(
            "applying at the next iteration: {}",
            labels.join(", ")
        ));
    }
    out.extend(distillation::ui(ui, &shown));
    // The loss these settings make, next to them (at the panel's foot it was cut off).
    ui.add_space(4.0);
    formula::ui(ui, config);
    ui.separator();
    run_settings::ui(ui, &mut edited, running.as_ref(), backend, &mut out);
    if edited != *config {
        // First, so that a tweak of the same frame applies on top of it.
        out.insert(0, Action::EditDraft(Box::new(edited)));
    }
    out
}

/// How long the next run lasts: its iterations, and the time they take at the speed last
/// measured on this machine for this kind of data (a live run: the time left).
fn run_length_ui(ui: &mut egui::Ui, config: &mut RunConfig, runs: &RunList) {
    ui.horizontal(|ui| {
        let label = ui.label("iterations");
        // Up to the paper's CIFAR-10 runs (hundreds of thousands).
        ui.add(
            egui::DragValue::new(&mut config.iterations)
                .range(1..=10_000_000)
                // A preset's value outside the range is kept, not clamped into the draft.
                .clamp_existing_to_range(false)
                .speed(10.0),
        )
        .labelled_by(label.id)
        .on_hover_text(about::ITERATIONS);
    });
    let kind = data_kind(config);
    // A running active run of the same data: its own speed and the time it has left.
    let active = runs
        .active()
        .filter(|r| r.engine.status == RunStatus::Running && r.data_kind() == kind);
    let speed = active
        .map(|r| r.engine.it_per_s)
        .or_else(|| runs.speed(&kind))
        .filter(|s| *s > 0.0);
    let text = match (active, speed) {
        (Some(run), Some(speed)) => {
            let left = run.engine.config.iterations.saturating_sub(run.engine.step);
            format!(
                "the active run ends in ≈ {} at {speed:.0} it/s",
                duration(left as f64 / speed)
            )
        }
        (None, Some(speed)) => format!(
            "≈ {} at {speed:.0} it/s, the speed last measured here",
            duration(config.iterations as f64 / speed)
        ),
        (_, None) => "its duration is shown once a run of this data has run".into(),
    };
    ui.small(text);
}

/// A duration as a person says it: "45 s", "3 min 20 s", "2 h 05 min".
fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, s / 60 % 60),
    }
}

/// The preset picker, file dialogs and a typed path (where no file-dialog portal exists).
fn presets_row(ui: &mut egui::Ui, config: &RunConfig, presets: &[PathBuf], out: &mut Vec<Action>) {
    let stem = |p: &PathBuf| {
        p.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    egui::ComboBox::from_label("preset")
        .selected_text(config.name.clone())
        .show_ui(ui, |ui| {
            for path in presets {
                if ui.button(stem(path)).clicked() {
                    out.push(Action::LoadPreset(path.clone()));
                    ui.close();
                }
            }
        });
    ui.horizontal(|ui| {
        if ui
            .button("Open…")
            .on_hover_text("open a preset file")
            .clicked()
        {
            out.push(Action::OpenPresetDialog);
        }
        if ui
            .button("Save as…")
            .on_hover_text("save these settings as a preset")
            .clicked()
        {
            out.push(Action::SavePresetDialog);
        }
    });
    // Typed path: works where no file-dialog portal exists.
    kept_text(ui, "typed-preset-path", |ui, typed| {
        ui.horizontal(|ui| {
            ui.add(
                egui::TextEdit::singleline(typed)
                    .hint_text("path/to/preset.toml")
                    .desired_width(150.0),
            )
            .on_hover_text("preset path");
            if ui.button("Load").clicked() && !typed.is_empty() {
                out.push(Action::LoadPreset(PathBuf::from(&*typed)));
            }
            if ui.button("Save").clicked() && !typed.is_empty() {
                out.push(Action::SavePreset(PathBuf::from(&*typed)));
            }
        });
    });
    preset_string_row(ui, out);
}

/// The whole experiment as one string: copy it to share, paste one to use it.
fn preset_string_row(ui: &mut egui::Ui, out: &mut Vec<Action>) {
    kept_text(ui, "pasted-preset", |ui, pasted| {
        ui.horizontal(|ui| {
            if ui
                .button("Copy preset")
                .on_hover_text("copy these settings to the clipboard as a preset (TOML text)")
                .clicked()
            {
                out.push(Action::CopyPreset);
            }
            if ui
                .add_enabled(!pasted.trim().is_empty(), egui::Button::new("Use pasted"))
                .on_hover_text("replace these settings by the preset pasted below")
                .clicked()
            {
                out.push(Action::PastePreset(std::mem::take(pasted)));
            }
        });
        ui.add(
            egui::TextEdit::multiline(pasted)
                .hint_text("paste a preset (TOML) here")
                .desired_rows(1)
                .desired_width(f32::INFINITY),
        )
        .on_hover_text("pasted preset");
    });
}

#[cfg(test)]
mod tests {
    use super::duration;

    /// The run-length estimate reads as a person says it.
    #[test]
    fn durations_read_as_spoken() {
        assert_eq!(duration(0.4), "0 s");
        assert_eq!(duration(59.6), "1 min 00 s");
        assert_eq!(duration(69.5), "1 min 10 s");
        assert_eq!(duration(7325.0), "2 h 02 min");
        assert_eq!(duration(-3.0), "0 s");
    }
}
