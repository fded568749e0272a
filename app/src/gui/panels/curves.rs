//! The curves panel: the x axis, log-y and smoothing controls, a tab per kind of data of the
//! ticked runs, and the plots of the kind shown (`plots::curves`).

use eframe::egui;

use crate::gui::plots::curves::{kinds, plots, shown_among};
use crate::gui::state::run_list::RunList;
use crate::gui::state::settings::{Settings, XAxis};

/// Draws the curves panel: its controls, the tabs of the kinds of data, and the plots of the
/// shown kind. `pick` is the user's choice of kind.
pub fn ui(ui: &mut egui::Ui, settings: &mut Settings, runs: &RunList, pick: &mut Option<String>) {
    controls(ui, settings);
    let kinds = kinds(runs);
    let shown = shown_among(&kinds, runs, pick.as_deref());
    if kinds.len() > 1 {
        tabs(ui, &kinds, shown.as_deref(), pick);
    }
    let width = ui.available_width();
    egui::ScrollArea::vertical().show(ui, |ui| {
        plots(
            ui,
            settings,
            runs,
            shown.as_deref(),
            width,
            ui.available_height(),
        );
    });
}

/// The x axis, log-y and smoothing of every plot.
fn controls(ui: &mut egui::Ui, settings: &mut Settings) {
    ui.horizontal_wrapped(|ui| {
        ui.strong("Curves");
        ui.selectable_value(&mut settings.x_axis, XAxis::Iteration, "x: iteration");
        ui.selectable_value(&mut settings.x_axis, XAxis::WallTime, "x: wall time (s)");
        ui.checkbox(&mut settings.log_y, "log y (losses, FD, norms)");
        ui.add(egui::Slider::new(&mut settings.smoothing, 0.0..=0.99).text("smoothing"))
            .on_hover_text(
                "debiased exponential moving average of the per-iteration curves (weight on the \
                 past); the raw values stay drawn faint underneath and are logged unchanged",
            );
    });
}

/// A tab per kind of data (with its count of ticked runs); a click picks the kind shown.
fn tabs(
    ui: &mut egui::Ui,
    kinds: &[(String, usize)],
    shown: Option<&str>,
    pick: &mut Option<String>,
) {
    ui.horizontal_wrapped(|ui| {
        ui.label("data:");
        for (kind, count) in kinds {
            let selected = shown == Some(kind.as_str());
            if ui
                .selectable_label(selected, format!("{kind} ({count})"))
                .on_hover_text("runs of other data are drawn on their own axes")
                .clicked()
            {
                *pick = Some(kind.clone());
            }
        }
    });
}
