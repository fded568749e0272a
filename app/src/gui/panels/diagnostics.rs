//! The mechanism, live (docs/algorithm.md §7): the diagnostics of the active run's latest
//! diagnosed generator phase — per σ bin the mean |y| (y = D_ψ − D_q), the weight the distance
//! gives each update and the bin's share of the generator's gradient; each sample's weight
//! against its |y| next to the distance's own curve; for image runs the first samples' x_0,
//! teacher and ψ predictions and d'(y) as grids.

use eframe::egui::{self, Color32};
use egui_plot::{Line, Plot, PlotPoints, Points};
use sim_engine::distill::diagnostics::{Diagnostics, SigmaBin};
use sim_engine::distill::distance::Distance;
use sim_engine::distill::objective::Objective;

use crate::gui::palette;
use crate::gui::plots::axes;
use crate::gui::plots::grid::grid;
use crate::gui::state::run_list::RunRecord;

/// What the weight column means for a run's objective and distance.
pub fn weight_meaning(objective: &Objective, distance: &Distance) -> String {
    match (objective, distance) {
        (Objective::Sim, Distance::PseudoHuber { c }) => format!(
            "weight = 1/sqrt(|y|² + c²), c = {c}: large where ψ and the teacher agree, small \
             where they differ, so no sample's update outgrows the others (pseudo-Huber \
             normalises it, 3.8)"
        ),
        (Objective::Sim, Distance::L2) => {
            "weight = 2 for every sample: the update grows with |y| (SIM-L2, like SiD)".into()
        }
        (Objective::Sim, Distance::Huber { delta }) => format!(
            "weight = |clamp(y, -δ, δ)| / |y|, δ = {delta}: 1 below δ, falling above it; \
             'clipped' is the share of coordinates past δ"
        ),
        (Objective::Sim, _) => "weight = w(σ) |d'(y)| / |y|".into(),
        (Objective::Sid { .. }, _) | (Objective::DiffInstruct, _) => {
            "no distance: weight = w(σ) (SiD and Diff-Instruct weigh every sample alike)".into()
        }
    }
}

/// The cells of one bin's row: σ range, samples, mean |y|, mean weight, clipped, gradient share.
pub fn bin_cells(bin: &SigmaBin) -> [String; 6] {
    [
        format!("{:.3}..{:.3}", bin.sigma_min, bin.sigma_max),
        bin.samples.to_string(),
        format!("{:.2e}", bin.mean_norm_y),
        weight_text(bin.mean_weight),
        format!("{:.0} %", 100.0 * bin.clipped),
        format!("{:.1} %", 100.0 * bin.grad_share),
    ]
}

/// A weight as shown in its column (4 significant digits).
pub fn weight_text(weight: f64) -> String {
    if (0.01..1e4).contains(&weight.abs()) {
        let decimals = (3 - weight.abs().log10().floor() as i32).clamp(0, 3) as usize;
        format!("{weight:.decimals$}")
    } else {
        format!("{weight:.3e}")
    }
}

pub fn ui(ui: &mut egui::Ui, run: Option<&RunRecord>, side: f32) {
    let Some(run) = run else {
        ui.label("Start a run to see what its distance does to each sample.");
        return;
    };
    let Some((step, diagnostics)) = &run.history.diagnostics else {
        ui.label(match run.engine.config.eval.diagnostics_every {
            0 => "This run reads no diagnostics (eval.diagnostics_every = 0).".to_owned(),
            n => format!("waiting for the first diagnosed iteration (every {n})…"),
        });
        return;
    };
    let distill = &run.engine.config.distill;
    ui.label(format!(
        "Generator phase of iteration {step}, {} samples — {}",
        diagnostics.samples.len().max(bins_total(&diagnostics.bins)),
        distill.objective.label(&distill.distance)
    ));
    ui.small(weight_meaning(&distill.objective, &distill.distance));
    ui.horizontal_top(|ui| {
        ui.vertical(|ui| table(ui, &diagnostics.bins));
        ui.add_space(16.0);
        if !diagnostics.samples.is_empty() {
            ui.vertical(|ui| {
                ui.small("each sample: weight against |y| (log-log), by σ (blue low, red high)");
                scatter(ui, diagnostics, &distill.distance, &distill.objective, side);
            });
        }
    });
    if let (Some(rows), Some(shape)) = (&diagnostics.rows, image_shape(run)) {
        ui.separator();
        images(ui, rows, shape);
    }
}

fn bins_total(bins: &[SigmaBin]) -> usize {
    bins.iter().map(|b| b.samples).sum()
}

/// The bins as a table, the gradient share drawn as a bar too.
fn table(ui: &mut egui::Ui, bins: &[SigmaBin]) {
    egui::Grid::new("diagnostic-bins")
        .striped(true)
        .spacing([10.0, 2.0])
        .show(ui, |ui| {
            for head in [
                "σ",
                "n",
                "mean |y|",
                "weight",
                "clipped",
                "share of gradient",
            ] {
                ui.strong(head);
            }
            ui.end_row();
            for bin in bins {
                let cells = bin_cells(bin);
                for cell in &cells[..5] {
                    ui.label(cell);
                }
                ui.horizontal(|ui| {
                    let (rect, _) =
                        ui.allocate_exact_size(egui::vec2(80.0, 10.0), egui::Sense::hover());
                    ui.painter()
                        .rect_filled(rect, 1.0, ui.visuals().faint_bg_color);
                    let mut bar = rect;
                    bar.set_width(rect.width() * bin.grad_share.clamp(0.0, 1.0) as f32);
                    ui.painter().rect_filled(bar, 1.0, palette::FAKE);
                    ui.label(&cells[5]);
                });
                ui.end_row();
            }
        });
}

/// Per-sample weight against |y| (log-log), coloured by σ rank, with the distance's curve.
fn scatter(
    ui: &mut egui::Ui,
    diagnostics: &Diagnostics,
    distance: &Distance,
    objective: &Objective,
    side: f32,
) {
    let mut ranked: Vec<_> = diagnostics
        .samples
        .iter()
        .filter(|s| s.norm_y > 0.0 && s.weight > 0.0 && s.norm_y.is_finite())
        .collect();
    ranked.sort_by(|a, b| a.sigma.total_cmp(&b.sigma));
    let n = ranked.len().max(1);
    let (lo, hi) = ranked
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), s| {
            let y = f64::from(s.norm_y).log10();
            (l.min(y), h.max(y))
        });
    axes::readable(Plot::new("diagnostic-scatter"), false)
        .width(side.clamp(240.0, 320.0))
        .height((side * 0.55).clamp(120.0, 190.0))
        .allow_scroll(false)
        .x_axis_label("log10 |y|")
        .y_axis_label("log10 weight")
        .show(ui, |plot_ui| {
            // The distance's curve first, under the samples.
            if let (Objective::Sim, true) = (objective, lo.is_finite() && hi.is_finite()) {
                let curve: Vec<[f64; 2]> = (0..=60)
                    .filter_map(|i| {
                        let y = 10f64.powf(lo + (hi - lo) * f64::from(i) / 60.0);
                        let w = distance.weight_at(y)?;
                        Some([y.log10(), w.log10()])
                    })
                    .collect();
                plot_ui.line(
                    Line::new("the distance's weight", PlotPoints::from(curve))
                        .color(palette::TEACHER)
                        .width(1.0),
                );
            }
            // Eight colour groups from low σ (blue) to high σ (red).
            for (k, chunk) in ranked.chunks(n.div_ceil(8)).enumerate() {
                let t = k as f32 / 7.0;
                let color =
                    Color32::from_rgb((60.0 + 180.0 * t) as u8, 90, (230.0 - 170.0 * t) as u8);
                let points: Vec<[f64; 2]> = chunk
                    .iter()
                    .map(|s| [f64::from(s.norm_y).log10(), f64::from(s.weight).log10()])
                    .collect();
                plot_ui.points(
                    Points::new("", PlotPoints::from(points))
                        .radius(2.0)
                        .color(color),
                );
            }
        });
}

/// `[C, H, W]` of an image run, from its latest samples.
fn image_shape(run: &RunRecord) -> Option<[usize; 3]> {
    run.history.samples.as_ref()?.image_shape
}

/// The first samples of the batch: x_0, teacher, ψ and d'(y) (scaled to its largest value).
fn images(
    ui: &mut egui::Ui,
    rows: &sim_engine::distill::diagnostics::ProbeRows,
    shape: [usize; 3],
) {
    let sigmas: Vec<String> = rows.sigma.iter().map(|s| format!("{s:.3}")).collect();
    ui.small(format!(
        "the first {} samples of the batch, σ = {}",
        rows.count,
        sigmas.join(", ")
    ));
    let peak = rows.d_prime.iter().fold(1e-12f32, |m, v| m.max(v.abs()));
    let d_prime: Vec<f32> = rows.d_prime.iter().map(|v| v / peak).collect();
    // The four side by side, each a grid of two rows.
    let columns = rows.count.div_ceil(2).max(1);
    let width = ((ui.available_width() - 48.0) / 4.0).clamp(80.0, 260.0);
    ui.horizontal_top(|ui| {
        for (name, pixels) in [
            ("x_0 = g_θ(z)", &rows.x0),
            ("teacher D_q(x_t; σ)", &rows.teacher),
            ("ψ D_ψ(x_t; σ)", &rows.fake),
            ("d'(y), scaled", &d_prime),
        ] {
            ui.vertical(|ui| {
                ui.small(name);
                grid(ui, name, pixels, shape, columns, width);
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_read_with_four_digits_and_cells_name_the_bin() {
        assert_eq!(weight_text(33.3317), "33.33");
        assert_eq!(weight_text(2.0), "2.000");
        assert_eq!(weight_text(7.79), "7.790");
        assert_eq!(weight_text(12345.0), "1.234e4");
        let bin = SigmaBin {
            sigma_min: 0.002,
            sigma_max: 0.007,
            samples: 32,
            mean_norm_y: 0.00093,
            mean_weight: 33.3,
            clipped: 0.25,
            grad_share: 0.0462,
        };
        assert_eq!(
            bin_cells(&bin),
            ["0.002..0.007", "32", "9.30e-4", "33.30", "25 %", "4.6 %"].map(String::from)
        );
    }
}
