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
mod run_settings;
mod widgets;

use std::path::PathBuf;

use eframe::egui;
use sim_engine::config::RunConfig;
use sim_engine::device::BackendChoice;

use super::actions::Action;
use super::formula;
use super::store::RunStore;
use widgets::{kept_text, restart_section};

/// Draws the panel for the draft `config`; `backend` is the next run's.
pub fn ui(
    ui: &mut egui::Ui,
    config: &RunConfig,
    backend: BackendChoice,
    store: &RunStore,
    presets: &[PathBuf],
) -> Vec<Action> {
    let mut out = Vec::new();
    let running = store
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
    let data_pending = running
        .as_ref()
        .is_some_and(|r| (&r.data, &r.teacher) != (&config.data, &config.teacher));
    restart_section(ui, "Data and teacher", data_pending, |ui| {
        data::ui(ui, &mut edited, &mut out);
    });
    ui.separator();
    ui.strong("Distillation (live)");
    out.extend(distillation::ui(ui, &config.distill));
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
