//! Live curves (egui_plot): exact IS, mode coverage, FD (raw 2-D), losses, gradient norms and
//! it/s; x = iteration or wall time; log-y toggle; hover read-outs; tweak markers.

use eframe::egui::{self, Color32, Rect};
use egui_plot::{Corner, HoverPosition, Legend, Line, Plot, PlotPoint, PlotPoints, Text, VLine};

use super::settings::{Settings, XAxis};
use sim_engine::metrics::Metrics;

use super::store::{RunRecord, RunStore, inception};

/// Most points drawn per curve (longer series are strided).
const MAX_POINTS: usize = 1500;

/// A plotted quantity.
struct Series {
    title: &'static str,
    /// May the log-y toggle apply (positive quantities only).
    loggable: bool,
    /// (x-source step, wall, value) per run.
    values: fn(&RunRecord) -> Vec<(u64, f64, f64)>,
}

fn evals(r: &RunRecord, f: fn(&Metrics) -> Option<f64>) -> Vec<(u64, f64, f64)> {
    r.evals
        .iter()
        .filter_map(|e| f(&e.metrics).map(|v| (e.step, e.wall_s, v)))
        .collect()
}

fn progress(r: &RunRecord, f: fn(&super::store::ProgressPoint) -> f64) -> Vec<(u64, f64, f64)> {
    r.progress
        .iter()
        .map(|p| (p.step, p.wall_s, f(p)))
        .collect()
}

const SERIES: [Series; 8] = [
    Series {
        title: "Inception Score (toys: exact posterior; images: classifier)",
        loggable: false,
        values: |r| evals(r, inception),
    },
    Series {
        title: "FID (classifier features, images)",
        loggable: true,
        values: |r| evals(r, |m| m.image().map(|i| i.fid)),
    },
    Series {
        title: "mode coverage (toys)",
        loggable: false,
        values: |r| evals(r, |m| m.toy().and_then(|t| t.mode_coverage)),
    },
    Series {
        title: "FD (raw 2-D) to teacher samples (toys)",
        loggable: true,
        values: |r| evals(r, |m| m.toy().map(|t| t.fd)),
    },
    Series {
        title: "generator loss",
        loggable: false,
        values: |r| progress(r, |p| p.loss_generator),
    },
    Series {
        title: "fake-denoiser loss",
        loggable: true,
        values: |r| progress(r, |p| p.loss_fake),
    },
    Series {
        title: "gradient norm θ",
        loggable: true,
        values: |r| progress(r, |p| p.grad_norm_generator),
    },
    Series {
        title: "iterations / s",
        loggable: false,
        values: |r| progress(r, |p| p.it_per_s),
    },
];

/// Draws the curves; returns the screen rectangle they occupy (for the PNG export).
pub fn ui(ui: &mut egui::Ui, settings: &mut Settings, store: &RunStore) -> Rect {
    ui.horizontal(|ui| {
        ui.strong("Curves");
        ui.selectable_value(&mut settings.x_axis, XAxis::Iteration, "x: iteration");
        ui.selectable_value(&mut settings.x_axis, XAxis::WallTime, "x: wall time (s)");
        ui.checkbox(&mut settings.log_y, "log y (losses, FD, norms)");
    });
    let top = ui.cursor().min;
    let runs: Vec<&RunRecord> = store.runs.iter().filter(|r| r.visible).collect();
    let columns = 2;
    let rows = SERIES.len().div_ceil(columns);
    let height = ((ui.available_height() - 8.0 * rows as f32) / rows as f32).max(90.0);
    let width = (ui.available_width() / columns as f32 - 12.0).max(200.0);
    let link = egui::Id::unique("curves-x");
    egui::ScrollArea::vertical().show(ui, |ui| {
        egui::Grid::new("curves")
            .num_columns(columns)
            .show(ui, |ui| {
                for (i, series) in SERIES.iter().enumerate() {
                    plot(ui, series, &runs, settings, link, width, height);
                    if i % columns == columns - 1 {
                        ui.end_row();
                    }
                }
            });
    });
    Rect::from_min_max(top, ui.min_rect().max)
}

fn plot(
    ui: &mut egui::Ui,
    series: &Series,
    runs: &[&RunRecord],
    settings: &Settings,
    link: egui::Id,
    width: f32,
    height: f32,
) {
    let log = settings.log_y && series.loggable;
    let wall = settings.x_axis == XAxis::WallTime;
    let title = series.title;
    ui.vertical(|ui| {
        ui.small(if log {
            format!("{title} (log₁₀)")
        } else {
            title.to_owned()
        });
        Plot::new(title)
            .legend(Legend::default().position(Corner::RightBottom))
            .width(width)
            .height(height)
            .link_axis(link, [true, false])
            .allow_scroll(false)
            .y_axis_formatter(move |mark, _| {
                if log {
                    if mark.value.fract() == 0.0 {
                        format!("1e{}", mark.value)
                    } else {
                        String::new()
                    }
                } else {
                    format!("{:.3}", mark.value)
                }
            })
            .label_formatter(move |hover| {
                let (name, point) = match hover {
                    HoverPosition::NearDataPoint {
                        plot_name,
                        position,
                        ..
                    } => (*plot_name, position),
                    HoverPosition::Elsewhere { position } => ("", position),
                };
                let y = if log { 10f64.powf(point.y) } else { point.y };
                let x = if wall {
                    format!("{:.1} s", point.x)
                } else {
                    format!("iteration {:.0}", point.x)
                };
                Some(if name.is_empty() {
                    format!("{x}\n{y:.4e}")
                } else {
                    format!("{name}\n{x}\n{y:.4e}")
                })
            })
            .show(ui, |plot_ui| {
                let curves: Vec<Vec<[f64; 2]>> = runs
                    .iter()
                    .map(|run| {
                        let values = (series.values)(run);
                        let stride = values.len().div_ceil(MAX_POINTS).max(1);
                        values
                            .iter()
                            .step_by(stride)
                            .filter(|(_, _, v)| v.is_finite() && (!log || *v > 0.0))
                            .map(|&(step, wall_s, v)| {
                                [
                                    if wall { wall_s } else { step as f64 },
                                    if log { v.log10() } else { v },
                                ]
                            })
                            .collect()
                    })
                    .collect();
                // Marker labels sit at the top of the data (not of the view: that would creep).
                let top = curves
                    .iter()
                    .flatten()
                    .map(|p| p[1])
                    .fold(f64::NEG_INFINITY, f64::max);
                for (run, points) in runs.iter().zip(curves) {
                    plot_ui.line(
                        Line::new(run.label.clone(), PlotPoints::from(points))
                            .color(run.color)
                            .width(1.5),
                    );
                    for m in &run.markers {
                        let x = if wall { m.wall_s } else { m.step as f64 };
                        // Unnamed items stay out of the legend; the label itself says what changed.
                        let faint = Color32::from_rgba_unmultiplied(
                            run.color.r(),
                            run.color.g(),
                            run.color.b(),
                            140,
                        );
                        plot_ui.vline(VLine::new("", x).color(faint));
                        if top.is_finite() {
                            plot_ui.text(
                                Text::new(
                                    "",
                                    PlotPoint::new(x, top),
                                    format!("{} @{}", m.label, m.step),
                                )
                                .anchor(egui::Align2::LEFT_TOP)
                                .color(run.color),
                            );
                        }
                    }
                }
            });
    });
}
