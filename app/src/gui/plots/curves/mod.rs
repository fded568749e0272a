//! Live curves (egui_plot): IS, and mode coverage and FD (raw 2-D) for toys or FID for images,
//! losses, gradient norms and it/s; x = iteration or wall time, linked across the plots with a
//! shared hover cursor (double-click resets a view); log-y toggle; hover read-outs;
//! tweak markers (labels stacked inside the plot, `plots::markers`); the teacher's own FID / IS
//! as a dashed level line; the per-iteration curves smoothed (debiased EMA) over their raw
//! values drawn faint; long curves min/max downsampled; axes with labelled ticks at any zoom
//! (`plots::axes`). One kind of data at a time (`run_list::data_kind`): runs of other data
//! never share axes — the curves panel's tabs switch between the kinds of the ticked runs, as
//! TensorBoard keeps differently named scalars in different charts. Here: which kind is shown,
//! and the plots laid out on screen and in the PNG figure.

mod lines;
mod plot;
mod readout;
mod series;

use eframe::egui;

use crate::gui::plots::axes;
use crate::gui::state::run_list::{RunList, RunRecord};
use crate::gui::state::settings::Settings;
use series::series_of;

/// Smallest plot area, in points (`axes::MIN_PLOT`, where its tick guarantees are checked).
const MIN_PLOT: [f32; 2] = [axes::MIN_PLOT[0] as f32, axes::MIN_PLOT[1] as f32];

/// The kinds of data of the ticked runs, in order of first appearance, each with its count.
pub fn kinds(runs: &RunList) -> Vec<(String, usize)> {
    let mut kinds: Vec<(String, usize)> = Vec::new();
    for run in runs.records.iter().filter(|r| r.view.visible) {
        let kind = run.data_kind();
        match kinds.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => kinds.push((kind, 1)),
        }
    }
    kinds
}

/// The kind of data the curves show: the user's pick while a ticked run has it, else the
/// active run's, else the first ticked run's.
pub fn shown_kind(runs: &RunList, pick: Option<&str>) -> Option<String> {
    shown_among(&kinds(runs), runs, pick)
}

/// [`shown_kind`] among `kinds` (the ticked runs' [`kinds`]).
pub fn shown_among(
    kinds: &[(String, usize)],
    runs: &RunList,
    pick: Option<&str>,
) -> Option<String> {
    let present = |k: &str| kinds.iter().any(|(kind, _)| kind == k);
    pick.filter(|k| present(k))
        .map(str::to_owned)
        .or_else(|| {
            runs.active()
                .map(RunRecord::data_kind)
                .filter(|k| present(k))
        })
        .or_else(|| kinds.first().map(|(k, _)| k.clone()))
}

/// The height in points of the curves PNG's figure ([`figure`]) at `width` points.
pub fn figure_height(runs: &RunList, kind: Option<&str>, width: f32) -> f32 {
    let rows = series_of(runs, kind).len().div_ceil(columns(width));
    rows as f32 * (FIGURE_PLOT_HEIGHT + 40.0) + 48.0
}

/// The curves PNG's figure: a legend (the runs panel is the legend on screen, and a file has
/// none), then the plots of `kind`, each as tall as on a roomy screen.
pub fn figure(ui: &mut egui::Ui, settings: &Settings, runs: &RunList, kind: &str, height: f32) {
    ui.horizontal_wrapped(|ui| {
        ui.strong(kind);
        for run in runs
            .records
            .iter()
            .filter(|r| r.view.visible && r.data_kind() == kind)
        {
            let (dot, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
            ui.painter().circle_filled(dot.center(), 4.5, run.color);
            ui.label(&run.label);
        }
    });
    let width = ui.available_width();
    plots(ui, settings, runs, Some(kind), width, height - 32.0);
}

/// Height of a plot in the PNG figure, in points.
const FIGURE_PLOT_HEIGHT: f32 = 220.0;

/// The plots of the ticked runs of `kind`, in one or two columns (as `width` allows), sharing
/// `height` down to [`MIN_PLOT`] each (then the caller scrolls).
pub fn plots(
    ui: &mut egui::Ui,
    settings: &Settings,
    runs: &RunList,
    kind: Option<&str>,
    width: f32,
    height: f32,
) {
    let shown = series_of(runs, kind);
    let runs: Vec<&RunRecord> = runs
        .records
        .iter()
        .filter(|r| r.view.visible && kind.is_none_or(|k| r.data_kind() == k))
        .collect();
    // The feature network of the image scores ("digits-CNN"); toy IS is exact.
    let feature_net = runs
        .iter()
        .flat_map(|r| r.history.evals.last())
        .find_map(|e| e.metrics.image().map(|m| m.feature_net.clone()));
    let columns = columns(width);
    let rows = shown.len().div_ceil(columns);
    let size = egui::vec2(
        (width / columns as f32 - 16.0).max(MIN_PLOT[0] + 40.0),
        ((height - 8.0 * rows as f32) / rows as f32 - 24.0).max(MIN_PLOT[1] + 30.0),
    );
    // One link per kind: zooming digits never moves the toys' axes.
    let link = egui::Id::unique(("curves-x", kind.unwrap_or_default()));
    for row in shown.chunks(columns) {
        ui.horizontal_top(|ui| {
            for series in row {
                let title = match (&feature_net, series.named) {
                    (Some(net), true) => format!("{} ({net})", series.title),
                    (None, true) => format!("{} (exact posterior)", series.title),
                    _ => series.title.to_owned(),
                };
                plot::plot(ui, series, &title, &runs, settings, link, size);
            }
        });
    }
}

/// One column below this width, two above.
fn columns(width: f32) -> usize {
    if width >= 2.0 * (MIN_PLOT[0] + 70.0) {
        2
    } else {
        1
    }
}
