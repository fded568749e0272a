//! Widgets the experiment panel's sections share.

use std::path::PathBuf;

use eframe::egui;
use sim_engine::diffusion::sigma::SigmaDistribution;
use sim_engine::distill::distance::Distance;

/// A change to send once the user lets go (not on every pixel of a drag).
pub(super) fn committed(response: &egui::Response) -> bool {
    response.drag_stopped() || (response.changed() && !response.dragged())
}

/// Keeps the current parameters when re-selecting the same kind.
pub(super) fn keep(current: Distance, option: Distance) -> Distance {
    if std::mem::discriminant(&current) == std::mem::discriminant(&option) {
        current
    } else {
        option
    }
}

/// Runs `body` on a text that the panel keeps between frames (egui's temporary memory, under
/// `salt`): what the user typed into a box that no config field holds.
pub(super) fn kept_text(
    ui: &mut egui::Ui,
    salt: &str,
    body: impl FnOnce(&mut egui::Ui, &mut String),
) {
    let id = egui::Id::unique(salt);
    let mut text: String = ui.data_mut(|d| d.get_temp(id).unwrap_or_default());
    body(ui, &mut text);
    ui.data_mut(|d| d.insert_temp(id, text));
}

/// A one-line editor of a path.
pub(super) fn path_edit(ui: &mut egui::Ui, path: &mut PathBuf, what: &str) {
    let mut text = path.display().to_string();
    ui.add(egui::TextEdit::singleline(&mut text).hint_text("path"))
        .on_hover_text(what);
    *path = PathBuf::from(text);
}

/// A σ distribution picker; returns the new value when the user commits a change.
pub(super) fn sigma_ui(
    ui: &mut egui::Ui,
    label: &str,
    about: &str,
    sigma: &mut SigmaDistribution,
) -> Option<SigmaDistribution> {
    let mut committed_change = false;
    egui::ComboBox::from_label(label)
        .selected_text(sigma.label())
        .show_ui(ui, |ui| {
            for option in [
                SigmaDistribution::Sim,
                SigmaDistribution::Edm,
                SigmaDistribution::Karras,
                SigmaDistribution::LogNormal {
                    p_mean: -2.0,
                    p_std: 2.0,
                },
            ] {
                let same = std::mem::discriminant(&option) == std::mem::discriminant(sigma);
                if ui.selectable_label(same, option.label()).clicked() && !same {
                    *sigma = option;
                    committed_change = true;
                }
            }
        })
        .response
        .on_hover_text(about);
    match sigma {
        SigmaDistribution::LogNormal { p_mean, p_std } => {
            ui.horizontal(|ui| {
                let a = ui
                    .add(egui::DragValue::new(p_mean).speed(0.05).range(-8.0..=4.0))
                    .on_hover_text("P_mean");
                let b = ui
                    .add(egui::DragValue::new(p_std).speed(0.05).range(0.0..=5.0))
                    .on_hover_text("P_std");
                ui.label("P_mean, P_std");
                committed_change |= committed(&a) || committed(&b);
            });
        }
        _ => {
            if let Some((m, s)) = sigma.log_normal_params() {
                ui.small(format!("ln σ ~ N({m}, {s}²)"));
            } else {
                ui.small("σ ∈ [0.002, 24.4] (SiD's code)");
            }
        }
    }
    committed_change.then_some(*sigma)
}

/// A learning rate: logarithmic slider plus numeric entry; returns it when committed.
pub(super) fn lr_ui(ui: &mut egui::Ui, label: &str, about: &str, lr: &mut f64) -> Option<f64> {
    let slider = ui
        .add(
            egui::Slider::new(lr, 1e-6..=1e-1)
                .logarithmic(true)
                .text(label),
        )
        .on_hover_text(about);
    let entry = ui
        .add(
            egui::DragValue::new(lr)
                .range(1e-7..=1.0)
                .speed(0.0)
                .custom_formatter(|v, _| format!("{v:.2e}")),
        )
        .on_hover_text(format!("{label}: type a value"));
    (committed(&slider) || committed(&entry)).then_some(*lr)
}

/// A collapsible section of settings that apply on restart; `pending` says the draft differs
/// from the running run.
pub(super) fn restart_section(
    ui: &mut egui::Ui,
    title: &str,
    pending: bool,
    body: impl FnOnce(&mut egui::Ui),
) {
    let header = if pending {
        format!("{title} — changed: applies on restart")
    } else {
        format!("{title} (apply on restart)")
    };
    egui::CollapsingHeader::new(header)
        .id_salt(title)
        .default_open(true)
        .show(ui, body);
}
