//! One plot of the curves: a quantity of every shown run, its seed bands, the teacher's
//! level, the live-change markers and the hover read-out; computed first ([`Drawing`]), then
//! drawn.

use eframe::egui::{self, Color32};
use egui_plot::{HLine, Line, LineStyle, Plot, PlotPoints, Polygon, Text, VLine};

use super::lines::{Curve, SeedBand, drawn, seed_bands, thin_extents};
use super::readout::Readout;
use super::series::Series;
use crate::gui::plots::band::seed_groups;
use crate::gui::plots::{axes, markers};
use crate::gui::state::run_list::RunRecord;
use crate::gui::state::settings::{Settings, XAxis};

/// How a plot draws its quantity: log₁₀ y, wall time on x, the smoothing weight (0 for a
/// quantity not smoothed).
#[derive(Clone, Copy)]
struct Style {
    log: bool,
    wall: bool,
    smoothing: f64,
}

impl Style {
    fn of(series: &Series, settings: &Settings) -> Self {
        Self {
            log: settings.log_y && series.loggable,
            wall: settings.x_axis == XAxis::WallTime,
            smoothing: if series.smoothable {
                settings.smoothing
            } else {
                0.0
            },
        }
    }
}

/// A live-change marker as drawn: its x, label, colour and label width in points.
struct MarkerMark {
    x: f64,
    label: String,
    color: Color32,
    width: f32,
}

/// What one plot draws, computed from its runs before drawing.
struct Drawing {
    /// The seeds of each race variant, as their mean and min–max band.
    bands: Vec<SeedBand>,
    /// (drawn, raw underneath when smoothed) per run; nothing for the seeds of a band.
    curves: Vec<(Curve, Option<Curve>)>,
    /// The runs' live changes.
    marks: Vec<MarkerMark>,
}

/// Draws `series` of `runs` as one plot titled `title`, `size` points large, its x axis and
/// cursor linked to the other plots of `link`.
pub fn plot(
    ui: &mut egui::Ui,
    series: &Series,
    title: &str,
    runs: &[&RunRecord],
    settings: &Settings,
    link: egui::Id,
    size: egui::Vec2,
) {
    let style = Style::of(series, settings);
    let drawing = Drawing::of(ui, series, runs, style);
    let hover = drawing.readout(runs, style);
    ui.vertical(|ui| {
        ui.small(if style.log {
            format!("{title} (log scale)")
        } else {
            title.to_owned()
        });
        // No legend in the plot, where it covered the curves' newest values: the runs panel is
        // the legend (each run's colour, and a tick that shows or hides it); hover names a run.
        axes::readable(drawing.frame(series), style.log)
            .width(size.x)
            .height(size.y)
            .link_axis(link, [true, false])
            // Hovering one plot draws the same iteration's cursor on all of them.
            .link_cursor(link, [true, false])
            .allow_scroll(false)
            .label_formatter(move |hover_at| hover.text(hover_at))
            .show(ui, |plot_ui| drawing.draw(plot_ui, series, runs, style.log));
    });
}

impl Drawing {
    /// The lines of `series` for `runs`: a race variant's seeds as one band, every other run
    /// as its own curve; and the runs' live changes.
    fn of(ui: &egui::Ui, series: &Series, runs: &[&RunRecord], style: Style) -> Self {
        let groups = seed_groups(runs);
        let bands = seed_bands(series, &groups, style.smoothing, style.log, style.wall);
        let banded = |run: &RunRecord| {
            groups
                .iter()
                .any(|(_, members)| members.iter().any(|m| std::ptr::eq(*m, run)))
        };
        let curves = runs
            .iter()
            .map(|run| {
                if banded(run) {
                    return (Vec::new(), None);
                }
                drawn(
                    &(series.values)(run),
                    style.smoothing,
                    style.log,
                    style.wall,
                )
            })
            .collect();
        Self {
            bands,
            curves,
            marks: marker_marks(ui, runs, style.wall),
        }
    }

    /// What hovering reads: the named curves (each run's, each band's mean) and the markers,
    /// a marker counting as near within 1 % of the curves' x span.
    fn readout(&self, runs: &[&RunRecord], style: Style) -> Readout {
        let named: Vec<(String, Curve)> = runs
            .iter()
            .zip(&self.curves)
            .filter(|(_, (drawn, _))| !drawn.is_empty())
            .map(|(run, (drawn, _))| (run.label.clone(), drawn.clone()))
            .chain(self.bands.iter().map(|b| (b.label.clone(), b.mean.clone())))
            .collect();
        let x_span = named
            .iter()
            .flat_map(|(_, c)| c.iter().map(|p| p[0]))
            .fold([f64::INFINITY, f64::NEG_INFINITY], |[lo, hi], x| {
                [lo.min(x), hi.max(x)]
            });
        Readout {
            curves: named,
            markers: self.marks.iter().map(|m| (m.x, m.label.clone())).collect(),
            near_x: ((x_span[1] - x_span[0]) * 0.01).max(0.5),
            log: style.log,
            wall: style.wall,
        }
    }

    /// The plot, widened on each axis where the data span no extent: a lone value (the first
    /// iteration) spans no width, and egui_plot would make a plot of it invalid.
    fn frame<'a>(&self, series: &Series) -> Plot<'a> {
        let [thin_x, thin_y] = thin_extents(
            self.curves
                .iter()
                .flat_map(|(drawn, _)| drawn)
                .chain(self.bands.iter().flat_map(|b| &b.mean)),
        );
        let mut plot = Plot::new(series.title);
        if let Some([lo, hi]) = thin_x {
            plot = plot.include_x(lo).include_x(hi);
        }
        if let Some([lo, hi]) = thin_y {
            plot = plot.include_y(lo).include_y(hi);
        }
        plot
    }

    /// The highest value drawn. Marker labels hang from the top of the data, not of the view:
    /// egui_plot counts a text's anchor in its automatic bounds, so an anchor above the data
    /// would push the view up frame after frame.
    fn data_top(&self) -> f64 {
        self.curves
            .iter()
            .flat_map(|(drawn, raw)| drawn.iter().chain(raw.iter().flatten()))
            .chain(self.bands.iter().flat_map(|b| b.quads.iter().flatten()))
            .map(|p| p[1])
            .fold(f64::NEG_INFINITY, f64::max)
    }

    /// Draws the bands, then each run's curves (the raw one faint underneath) and teacher
    /// level, then the markers.
    fn draw(
        self,
        plot_ui: &mut egui_plot::PlotUi<'_>,
        series: &Series,
        runs: &[&RunRecord],
        log: bool,
    ) {
        let data_top = self.data_top();
        for band in self.bands {
            draw_band(plot_ui, band);
        }
        for (run, (points, raw)) in runs.iter().zip(self.curves) {
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
        draw_markers(plot_ui, &self.marks, data_top);
    }
}

/// A race variant's seeds: the min–max band, faint, under their mean.
fn draw_band(plot_ui: &mut egui_plot::PlotUi<'_>, band: SeedBand) {
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

/// The live changes of `runs` as markers, each label measured in the plot's small font.
fn marker_marks(ui: &egui::Ui, runs: &[&RunRecord], wall: bool) -> Vec<MarkerMark> {
    let font = egui::TextStyle::Small.resolve(ui.style());
    runs.iter()
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
        .collect()
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
