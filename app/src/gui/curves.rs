//! Live curves (egui_plot): IS, and mode coverage and FD (raw 2-D) for toys or FID for images,
//! losses, gradient norms and it/s; x = iteration or wall time, linked across the plots with a
//! shared hover cursor (double-click resets a view); log-y toggle; hover read-outs;
//! tweak markers (labels stacked inside the plot, `markers`); the teacher's own FID / IS as a
//! dashed level line; the per-iteration curves smoothed (debiased EMA) over their raw values
//! drawn faint; long curves min/max downsampled; axes with labelled ticks at any zoom (`axes`).
//! One kind of data at a time (`store::data_kind`): runs of other data never share axes — the
//! tabs above the plots switch between the kinds of the ticked runs, as TensorBoard keeps
//! differently named scalars in different charts.

use eframe::egui::{self, Color32};
use egui_plot::{
    HLine, HoverPosition, Line, LineStyle, Plot, PlotPoint, PlotPoints, Polygon, Text, VLine,
};

use super::axes;
use super::band::{BandPoint, band, seed_groups};
use super::downsample::min_max;
use super::markers;
use super::settings::{Settings, XAxis};
use super::smoothing::debiased_ema;
use sim_engine::data::DataConfig;
use sim_engine::metrics::Metrics;

use super::store::{RunRecord, RunStore, inception};

/// Smallest plot area, in points (`axes::MIN_PLOT`, where its tick guarantees are checked).
const MIN_PLOT: [f32; 2] = [axes::MIN_PLOT[0] as f32, axes::MIN_PLOT[1] as f32];

/// A curve's plot points.
type Curve = Vec<[f64; 2]>;

/// Most points drawn per curve (longer series are downsampled to their extremes).
const MAX_POINTS: usize = 1500;

/// Most quads of a seed band.
const BAND_QUADS: usize = 300;

/// A race variant on several seeds, as drawn: its mean and the quads of its min–max band.
struct SeedBand {
    label: String,
    color: Color32,
    mean: Curve,
    quads: Vec<[[f64; 2]; 4]>,
}

/// The runs a plot is about.
#[derive(Clone, Copy, PartialEq)]
enum World {
    /// Every run.
    Any,
    /// 2-D toy runs.
    Toy,
    /// Image runs.
    Image,
}

/// A plotted quantity.
struct Series {
    title: &'static str,
    world: World,
    /// Image scores are named after their feature network: "FID (digits-CNN)".
    named: bool,
    /// May the log-y toggle apply (positive quantities only).
    loggable: bool,
    /// A value per iteration, noisy enough to be drawn smoothed.
    smoothable: bool,
    /// (x-source step, wall, value) per run.
    values: fn(&RunRecord) -> Vec<(u64, f64, f64)>,
    /// The same quantity of the multi-step teacher, drawn as a dashed level line.
    teacher: Option<fn(&Metrics) -> Option<f64>>,
}

fn evals(r: &RunRecord, f: fn(&Metrics) -> Option<f64>) -> Vec<(u64, f64, f64)> {
    r.history
        .evals
        .iter()
        .filter_map(|e| f(&e.metrics).map(|v| (e.step, e.wall_s, v)))
        .collect()
}

fn progress(r: &RunRecord, f: fn(&super::store::ProgressPoint) -> f64) -> Vec<(u64, f64, f64)> {
    r.history
        .progress
        .iter()
        .map(|p| (p.step, p.wall_s, f(p)))
        .collect()
}

const SERIES: [Series; 8] = [
    Series {
        title: "Inception Score",
        world: World::Any,
        named: true,
        loggable: false,
        smoothable: false,
        values: |r| evals(r, inception),
        teacher: Some(inception),
    },
    Series {
        title: "FID",
        world: World::Image,
        named: true,
        loggable: true,
        smoothable: false,
        values: |r| evals(r, |m| m.image().map(|i| i.fid)),
        teacher: Some(|m| m.image().map(|i| i.fid)),
    },
    Series {
        title: "mode coverage",
        world: World::Toy,
        named: false,
        loggable: false,
        smoothable: false,
        values: |r| evals(r, |m| m.toy().and_then(|t| t.mode_coverage)),
        teacher: None,
    },
    Series {
        title: "FD (raw 2-D) to teacher samples",
        world: World::Toy,
        named: false,
        loggable: true,
        smoothable: false,
        values: |r| evals(r, |m| m.toy().map(|t| t.fd)),
        teacher: None,
    },
    Series {
        title: "generator loss",
        world: World::Any,
        named: false,
        loggable: false,
        smoothable: true,
        values: |r| progress(r, |p| p.stats.loss_generator),
        teacher: None,
    },
    Series {
        title: "fake-denoiser loss",
        world: World::Any,
        named: false,
        loggable: true,
        smoothable: true,
        values: |r| progress(r, |p| p.stats.loss_fake),
        teacher: None,
    },
    Series {
        title: "gradient norm θ",
        world: World::Any,
        named: false,
        loggable: true,
        smoothable: true,
        values: |r| progress(r, |p| p.stats.grad_norm_generator),
        teacher: None,
    },
    Series {
        title: "iterations / s",
        world: World::Any,
        named: false,
        loggable: false,
        smoothable: true,
        values: |r| progress(r, |p| p.it_per_s),
        teacher: None,
    },
];

/// The kinds of data of the ticked runs, in order of first appearance, each with its count.
pub fn kinds(store: &RunStore) -> Vec<(String, usize)> {
    let mut kinds: Vec<(String, usize)> = Vec::new();
    for run in store.runs.iter().filter(|r| r.view.visible) {
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
pub fn shown_kind(store: &RunStore, pick: Option<&str>) -> Option<String> {
    shown_among(&kinds(store), store, pick)
}

/// [`shown_kind`] among `kinds` (the ticked runs' [`kinds`]).
fn shown_among(kinds: &[(String, usize)], store: &RunStore, pick: Option<&str>) -> Option<String> {
    let present = |k: &str| kinds.iter().any(|(kind, _)| kind == k);
    pick.filter(|k| present(k))
        .map(str::to_owned)
        .or_else(|| {
            store
                .active()
                .map(RunRecord::data_kind)
                .filter(|k| present(k))
        })
        .or_else(|| kinds.first().map(|(k, _)| k.clone()))
}

/// Draws the curves panel: its controls, the tabs of the kinds of data, and the plots of the
/// shown kind. `pick` is the user's choice of kind.
pub fn ui(ui: &mut egui::Ui, settings: &mut Settings, store: &RunStore, pick: &mut Option<String>) {
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
    let kinds = kinds(store);
    let shown = shown_among(&kinds, store, pick.as_deref());
    if kinds.len() > 1 {
        ui.horizontal_wrapped(|ui| {
            ui.label("data:");
            for (kind, count) in &kinds {
                let selected = shown.as_deref() == Some(kind);
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
    let width = ui.available_width();
    egui::ScrollArea::vertical().show(ui, |ui| {
        plots(
            ui,
            settings,
            store,
            shown.as_deref(),
            width,
            ui.available_height(),
        );
    });
}

/// The height in points of the curves PNG's figure ([`figure`]) at `width` points.
pub fn figure_height(store: &RunStore, kind: Option<&str>, width: f32) -> f32 {
    let rows = series_of(store, kind).len().div_ceil(columns(width));
    rows as f32 * (FIGURE_PLOT_HEIGHT + 40.0) + 48.0
}

/// The curves PNG's figure: a legend (the runs panel is the legend on screen, and a file has
/// none), then the plots of `kind`, each as tall as on a roomy screen.
pub fn figure(ui: &mut egui::Ui, settings: &Settings, store: &RunStore, kind: &str, height: f32) {
    ui.horizontal_wrapped(|ui| {
        ui.strong(kind);
        for run in store
            .runs
            .iter()
            .filter(|r| r.view.visible && r.data_kind() == kind)
        {
            let (dot, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
            ui.painter().circle_filled(dot.center(), 4.5, run.color);
            ui.label(&run.label);
        }
    });
    let width = ui.available_width();
    plots(ui, settings, store, Some(kind), width, height - 32.0);
}

/// Height of a plot in the PNG figure, in points.
const FIGURE_PLOT_HEIGHT: f32 = 220.0;

/// The plots of the ticked runs of `kind`, in one or two columns (as `width` allows), sharing
/// `height` down to [`MIN_PLOT`] each (then the caller scrolls).
pub fn plots(
    ui: &mut egui::Ui,
    settings: &Settings,
    store: &RunStore,
    kind: Option<&str>,
    width: f32,
    height: f32,
) {
    let runs: Vec<&RunRecord> = store
        .runs
        .iter()
        .filter(|r| r.view.visible && kind.is_none_or(|k| r.data_kind() == k))
        .collect();
    let shown = series_of(store, kind);
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
                plot(ui, series, &title, &runs, settings, link, size);
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

/// The quantities plotted for `kind`: the shared ones, and the toy or image scores.
fn series_of(store: &RunStore, kind: Option<&str>) -> Vec<&'static Series> {
    let image = store
        .runs
        .iter()
        .find(|r| kind.is_some_and(|k| r.data_kind() == k))
        .is_some_and(|r| matches!(r.engine.config.data, DataConfig::Image(_)));
    SERIES
        .iter()
        .filter(|s| match s.world {
            World::Any => true,
            World::Toy => !image,
            World::Image => image,
        })
        .collect()
}

/// The seeds of each race variant (`groups`, from `seed_groups`), drawn as their mean and
/// min–max band.
fn seed_bands(
    series: &Series,
    groups: &[(String, Vec<&RunRecord>)],
    smoothing: f64,
    log: bool,
    wall: bool,
) -> Vec<SeedBand> {
    groups
        .iter()
        .map(|(name, members)| {
            let values: Vec<Vec<(u64, f64, f64)>> = members
                .iter()
                .map(|m| smoothed(&(series.values)(m), smoothing))
                .collect();
            let y = |v: f64| if log { v.log10() } else { v };
            let at: Vec<(f64, BandPoint)> = band(&values)
                .into_iter()
                .filter(|p| !log || p.min > 0.0)
                .map(|p| (if wall { p.wall_s } else { p.step as f64 }, p))
                .collect();
            let mean: Curve = at.iter().map(|(x, p)| [*x, y(p.mean)]).collect();
            // One quad per stretch between two kept points: each is convex, as egui fills them.
            let stride = at.len().div_ceil(BAND_QUADS).max(1);
            let kept: Vec<&(f64, BandPoint)> = at.iter().step_by(stride).chain(at.last()).collect();
            let quads = kept
                .windows(2)
                .filter(|w| w[0].0 < w[1].0)
                .map(|w| {
                    let ((x0, a), (x1, b)) = (w[0], w[1]);
                    [
                        [*x0, y(a.min)],
                        [*x1, y(b.min)],
                        [*x1, y(b.max)],
                        [*x0, y(a.max)],
                    ]
                })
                .collect();
            SeedBand {
                label: format!("{name} (mean of {} seeds)", members.len()),
                color: members[0].color,
                mean: min_max(&mean, MAX_POINTS),
                quads,
            }
        })
        .collect()
}

/// A live-change marker as drawn: its x, label, colour and label width in points.
struct MarkerMark {
    x: f64,
    label: String,
    color: Color32,
    width: f32,
}

/// What hovering a plot reads: near a curve's point that point; elsewhere the value of the
/// curve nearest the pointer at the pointer's x (never the pointer's own position), with the
/// live changes whose line is within `near_x` of it.
struct Readout {
    curves: Vec<(String, Curve)>,
    markers: Vec<(f64, String)>,
    near_x: f64,
    log: bool,
    wall: bool,
}

impl Readout {
    fn text(&self, hover: &HoverPosition) -> Option<String> {
        let (name, point) = match hover {
            HoverPosition::NearDataPoint {
                plot_name,
                position,
                ..
            } => (plot_name.to_string(), [position.x, position.y]),
            HoverPosition::Elsewhere { position } => self.nearest(position)?,
        };
        let x = if self.wall {
            format!("{:.1} s", point[0])
        } else {
            format!("iteration {:.0}", point[0])
        };
        let y = readout(if self.log {
            10f64.powf(point[1])
        } else {
            point[1]
        });
        let mut lines: Vec<String> = [name, x, y].into_iter().filter(|l| !l.is_empty()).collect();
        lines.extend(
            self.markers
                .iter()
                .filter(|(mx, _)| (mx - point[0]).abs() <= self.near_x)
                .map(|(_, label)| format!("| {label}")),
        );
        Some(lines.join("\n"))
    }

    /// The curve whose value at the pointer's x is nearest the pointer, and that value.
    fn nearest(&self, pointer: &PlotPoint) -> Option<(String, [f64; 2])> {
        self.curves
            .iter()
            .filter_map(|(name, curve)| {
                let i = curve.partition_point(|p| p[0] < pointer.x);
                let candidates = [i.checked_sub(1), Some(i)];
                let point = candidates
                    .into_iter()
                    .flatten()
                    .filter_map(|j| curve.get(j))
                    .min_by(|a, b| {
                        (a[0] - pointer.x)
                            .abs()
                            .total_cmp(&(b[0] - pointer.x).abs())
                    })?;
                Some((name.clone(), *point))
            })
            .min_by(|a, b| {
                (a.1[1] - pointer.y)
                    .abs()
                    .total_cmp(&(b.1[1] - pointer.y).abs())
            })
    }
}

fn plot(
    ui: &mut egui::Ui,
    series: &Series,
    title: &str,
    runs: &[&RunRecord],
    settings: &Settings,
    link: egui::Id,
    size: egui::Vec2,
) {
    let log = settings.log_y && series.loggable;
    let wall = settings.x_axis == XAxis::WallTime;
    let smoothing = if series.smoothable {
        settings.smoothing
    } else {
        0.0
    };
    let groups = seed_groups(runs);
    let bands = seed_bands(series, &groups, smoothing, log, wall);
    let banded = |run: &RunRecord| {
        groups
            .iter()
            .any(|(_, members)| members.iter().any(|m| std::ptr::eq(*m, run)))
    };
    // (drawn, raw underneath when smoothed) per run; nothing for the seeds of a band.
    let curves: Vec<(Curve, Option<Curve>)> = runs
        .iter()
        .map(|run| {
            if banded(run) {
                return (Vec::new(), None);
            }
            drawn(&(series.values)(run), smoothing, log, wall)
        })
        .collect();
    // A lone value (the first iteration) spans no width: egui_plot would make a plot of it invalid.
    let [thin_x, thin_y] = thin_extents(
        curves
            .iter()
            .flat_map(|(drawn, _)| drawn)
            .chain(bands.iter().flat_map(|b| &b.mean)),
    );
    let font = egui::TextStyle::Small.resolve(ui.style());
    let marks: Vec<MarkerMark> = runs
        .iter()
        .flat_map(|run| {
            run.history.markers.iter().map(|m| {
                let width = ui
                    .painter()
                    .layout_no_wrap(m.label.clone(), font.clone(), run.color)
                    .size()
                    .x;
                MarkerMark {
                    x: if wall { m.wall_s } else { m.step as f64 },
                    label: m.label.clone(),
                    color: run.color,
                    width,
                }
            })
        })
        .collect();
    let named: Vec<(String, Curve)> = runs
        .iter()
        .zip(&curves)
        .filter(|(_, (drawn, _))| !drawn.is_empty())
        .map(|(run, (drawn, _))| (run.label.clone(), drawn.clone()))
        .chain(bands.iter().map(|b| (b.label.clone(), b.mean.clone())))
        .collect();
    let x_span = named
        .iter()
        .flat_map(|(_, c)| c.iter().map(|p| p[0]))
        .fold([f64::INFINITY, f64::NEG_INFINITY], |[lo, hi], x| {
            [lo.min(x), hi.max(x)]
        });
    // Marker labels hang from the top of the data, not of the view: egui_plot counts a text's
    // anchor in its automatic bounds, so an anchor above the data would push the view up
    // frame after frame.
    let data_top = curves
        .iter()
        .flat_map(|(drawn, raw)| drawn.iter().chain(raw.iter().flatten()))
        .chain(bands.iter().flat_map(|b| b.quads.iter().flatten()))
        .map(|p| p[1])
        .fold(f64::NEG_INFINITY, f64::max);
    let hover = Readout {
        curves: named,
        markers: marks.iter().map(|m| (m.x, m.label.clone())).collect(),
        near_x: ((x_span[1] - x_span[0]) * 0.01).max(0.5),
        log,
        wall,
    };
    ui.vertical(|ui| {
        ui.small(if log {
            format!("{title} (log scale)")
        } else {
            title.to_owned()
        });
        // No legend in the plot, where it covered the curves' newest values: the runs panel is
        // the legend (each run's colour, and a tick that shows or hides it); hover names a run.
        let mut plot = Plot::new(series.title);
        if let Some([lo, hi]) = thin_x {
            plot = plot.include_x(lo).include_x(hi);
        }
        if let Some([lo, hi]) = thin_y {
            plot = plot.include_y(lo).include_y(hi);
        }
        axes::readable(plot, log)
            .width(size.x)
            .height(size.y)
            .link_axis(link, [true, false])
            // Hovering one plot draws the same iteration's cursor on all of them.
            .link_cursor(link, [true, false])
            .allow_scroll(false)
            .label_formatter(move |hover_at| hover.text(hover_at))
            .show(ui, |plot_ui| {
                for band in bands {
                    for quad in band.quads {
                        plot_ui.polygon(
                            Polygon::new("", PlotPoints::from(quad.to_vec()))
                                .fill_color(band.color.gamma_multiply(0.22))
                                .stroke(egui::Stroke::NONE)
                                .allow_hover(false),
                        );
                    }
                    plot_ui.line(
                        Line::new(band.label, PlotPoints::from(band.mean))
                            .color(band.color)
                            .width(1.5),
                    );
                }
                for (run, (points, raw)) in runs.iter().zip(curves) {
                    if let Some(raw) = raw {
                        // Unnamed: out of the legend and of the hover names.
                        plot_ui.line(
                            Line::new("", PlotPoints::from(raw))
                                .color(run.color.gamma_multiply(0.3))
                                .width(1.0),
                        );
                    }
                    if !points.is_empty() {
                        plot_ui.line(
                            Line::new(run.label.clone(), PlotPoints::from(points))
                                .color(run.color)
                                .width(1.5),
                        );
                    }
                    teacher_line(plot_ui, series, run, log);
                }
                draw_markers(plot_ui, &marks, data_top);
            });
    });
}

/// The teacher's own score as a dashed level line, when the run has one for this series.
fn teacher_line(plot_ui: &mut egui_plot::PlotUi<'_>, series: &Series, run: &RunRecord, log: bool) {
    let reference = run.engine.teacher.as_ref().and_then(|t| {
        let value = series.teacher.and_then(|f| f(&t.metrics))?;
        Some((value, t.nfe))
    });
    if let Some((value, nfe)) = reference
        && value.is_finite()
        && (!log || value > 0.0)
    {
        let y = if log { value.log10() } else { value };
        plot_ui.hline(
            HLine::new(format!("{}: teacher ({nfe} NFE)", run.label), y)
                .color(run.color)
                .style(LineStyle::dashed_loose()),
        );
    }
}

/// Live-change markers: a faint line each, and its label in rows hanging from the top of the
/// data (`data_top`), stacked so that none overlaps another (`markers::stack`); one without
/// room is read on hover.
fn draw_markers(plot_ui: &mut egui_plot::PlotUi<'_>, marks: &[MarkerMark], data_top: f64) {
    let transform = *plot_ui.transform();
    let frame = *transform.frame();
    let row_height = 14.0;
    let top = transform.position_from_point_y(data_top);
    // Rows within the data's upper part (the anchors stay inside the data's range).
    let rows = if data_top.is_finite() {
        (((frame.bottom() - top) * 0.4 / row_height) as usize).max(1)
    } else {
        0
    };
    let at: Vec<(f32, f32)> = marks
        .iter()
        .map(|m| (transform.position_from_point_x(m.x) - frame.left(), m.width))
        .collect();
    let placed = markers::stack(&at, frame.width(), rows);
    for (m, place) in marks.iter().zip(placed) {
        let faint = Color32::from_rgba_unmultiplied(m.color.r(), m.color.g(), m.color.b(), 140);
        // Unnamed items stay out of the legend; the label itself says what changed.
        plot_ui.vline(VLine::new("", m.x).color(faint));
        let Some(place) = place else { continue };
        let corner = egui::pos2(
            frame.left() + place.left,
            top + place.row as f32 * row_height,
        );
        plot_ui.text(
            Text::new(
                "",
                transform.value_from_position(corner),
                egui::RichText::new(&m.label).small(),
            )
            .anchor(egui::Align2::LEFT_TOP)
            .color(m.color),
        );
    }
}

/// A run's curve as drawn from its `(step, wall_s, value)` series: smoothed (debiased EMA of
/// weight `smoothing`) with the raw curve to draw faint underneath, or raw alone at 0; on the
/// x axis the step or the wall time, log₁₀ values with `log` (non-positive ones left out);
/// downsampled to [`MAX_POINTS`]. The series itself is never changed.
fn drawn(
    values: &[(u64, f64, f64)],
    smoothing: f64,
    log: bool,
    wall: bool,
) -> (Curve, Option<Curve>) {
    let points = |ys: &[f64]| -> Curve {
        let all: Curve = values
            .iter()
            .zip(ys)
            .filter(|&(_, &v)| v.is_finite() && (!log || v > 0.0))
            .map(|(&(step, wall_s, _), &v)| {
                [
                    if wall { wall_s } else { step as f64 },
                    if log { v.log10() } else { v },
                ]
            })
            .collect();
        min_max(&all, MAX_POINTS)
    };
    let raw: Vec<f64> = values.iter().map(|&(_, _, v)| v).collect();
    if smoothing > 0.0 {
        let smooth: Vec<f64> = smoothed(values, smoothing).iter().map(|p| p.2).collect();
        (points(&smooth), Some(points(&raw)))
    } else {
        (points(&raw), None)
    }
}

/// `values` with each value replaced by its debiased EMA of weight `smoothing` (0: as they are).
fn smoothed(values: &[(u64, f64, f64)], smoothing: f64) -> Vec<(u64, f64, f64)> {
    let raw: Vec<f64> = values.iter().map(|&(_, _, v)| v).collect();
    values
        .iter()
        .zip(debiased_ema(&raw, smoothing))
        .map(|(&(step, wall_s, _), v)| (step, wall_s, v))
        .collect()
}

/// For each axis whose `points` span (almost) no extent, a range around them to show instead:
/// one unit on x (an iteration, a second), ±5 % of the value on y (one unit about zero).
/// Without it one point, or two that differ in the last bit, make egui_plot's bounds invalid.
fn thin_extents<'a>(points: impl Iterator<Item = &'a [f64; 2]>) -> [Option<[f64; 2]>; 2] {
    let mut range = [[f64::INFINITY, f64::NEG_INFINITY]; 2];
    for p in points {
        for (r, v) in range.iter_mut().zip(p) {
            *r = [r[0].min(*v), r[1].max(*v)];
        }
    }
    let pad = |[lo, hi]: [f64; 2], half: fn(f64) -> f64| {
        let c = 0.5 * (lo + hi);
        (lo <= hi && hi - lo <= 1e-9 * c.abs()).then(|| [c - half(c), c + half(c)])
    };
    [
        pad(range[0], |_| 0.5),
        pad(range[1], |c| if c == 0.0 { 0.5 } else { 0.05 * c.abs() }),
    ]
}

/// A hover value: 4 significant digits, in plain notation where that stays short.
fn readout(y: f64) -> String {
    if y == 0.0 {
        "0.000".into()
    } else if (1e-3..1e5).contains(&y.abs()) {
        let decimals = (3 - y.abs().log10().floor() as i32).clamp(0, 6) as usize;
        format!("{y:.decimals$}")
    } else {
        format!("{y:.3e}")
    }
}

#[cfg(test)]
mod tests {
    use egui_plot::{HoverPosition, PlotPoint};

    use super::{Readout, drawn, readout, thin_extents};

    /// Away from any point, hover reads the value of the curve nearest the pointer at the
    /// pointer's x, not the pointer's own position; a marker line near that x is named.
    #[test]
    fn hover_reads_the_nearest_curve() {
        let hover = Readout {
            curves: vec![
                ("low".into(), vec![[0.0, 1.0], [10.0, 2.0], [20.0, 3.0]]),
                ("high".into(), vec![[0.0, 9.0], [10.0, 8.0], [20.0, 7.0]]),
            ],
            markers: vec![(11.0, "lr θ = 1.0e-3".into())],
            near_x: 1.5,
            log: false,
            wall: false,
        };
        let at = |x, y| HoverPosition::Elsewhere {
            position: PlotPoint::new(x, y),
        };
        assert_eq!(
            hover.text(&at(9.0, 3.5)).as_deref(),
            Some("low\niteration 10\n2.000\n| lr θ = 1.0e-3")
        );
        assert_eq!(
            hover.text(&at(19.0, 6.0)).as_deref(),
            Some("high\niteration 20\n7.000")
        );
        let log = Readout { log: true, ..hover };
        assert_eq!(
            log.text(&at(0.2, 0.5)).as_deref(),
            Some("low\niteration 0\n10.00")
        );
    }

    /// Smoothing changes the drawn line, keeps the raw one underneath as it was, and leaves
    /// the series alone.
    #[test]
    fn smoothing_changes_the_drawn_line_not_the_data() {
        let values: Vec<(u64, f64, f64)> = (1..=50)
            .map(|i| (i, 0.1 * i as f64, if i % 2 == 0 { 1.0 } else { 3.0 }))
            .collect();
        let kept = values.clone();
        let (raw, none) = drawn(&values, 0.0, false, false);
        assert!(none.is_none());
        let (smooth, under) = drawn(&values, 0.9, false, false);
        assert_eq!(
            under.as_ref(),
            Some(&raw),
            "the raw curve underneath is the unsmoothed one"
        );
        assert_ne!(smooth, raw);
        // The zig-zag between 1 and 3 is flattened towards its mean 2.
        let last = smooth.last().map_or(0.0, |p| p[1]);
        assert!((last - 2.0).abs() < 0.2, "{last}");
        assert_eq!(values, kept);
        // Wall time on x, log10 on y.
        let (wall_log, _) = drawn(&values, 0.0, true, true);
        assert!((wall_log[0][0] - 0.1).abs() < 1e-12 && (wall_log[1][1] - 0.0).abs() < 1e-12);
    }

    #[test]
    fn a_lone_point_gets_a_range_on_both_axes_and_a_curve_keeps_its_own() {
        // The first iteration's loss, smoothed and raw a bit apart (what broke egui_plot).
        let lone = [[1.0, 0.0560293048620224], [1.0, 0.05602930486202241]];
        let [x, y] = thin_extents(lone.iter());
        assert_eq!(x, Some([0.5, 1.5]));
        let [lo, hi] = y.expect("a thin y range");
        assert!((lo - 0.95 * 0.05602930486202241).abs() < 1e-12 && hi > lo);
        assert_eq!(thin_extents([[0.0, 0.0]].iter())[1], Some([-0.5, 0.5]));
        let curve = [[1.0, 0.2], [2.0, 0.1]];
        assert_eq!(thin_extents(curve.iter()), [None, None]);
        assert_eq!(thin_extents([].iter()), [None, None]);
    }

    #[test]
    fn readouts_keep_four_significant_digits() {
        assert_eq!(readout(7.85581), "7.856");
        assert_eq!(readout(0.012345), "0.01235");
        assert_eq!(readout(1234.56), "1235");
        assert_eq!(readout(-0.5), "-0.5000");
        assert_eq!(readout(0.0), "0.000");
        assert_eq!(readout(2.5e-5), "2.500e-5");
        assert_eq!(readout(3.0e7), "3.000e7");
    }
}
