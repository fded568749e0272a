//! Samples (or, switched, the diagnostics of `diagnostics`): the teacher (Heun, N steps) next
//! to the student (one step) on the same noise — for 2-D data a scatter with density shading,
//! the exact mixture's component contours and an optional score field; for images, grids on
//! the same noise and labels (one row per class).

use eframe::egui::{self, Color32, Pos2, Rect, Sense, Stroke, pos2, vec2};
use sim_engine::config::RunConfig;
use sim_engine::protocol::{SampleView, ScoreField};

use crate::gui::action::Action;
use crate::gui::palette;
use crate::gui::plots::grid::grid;
use crate::gui::state::run_list::{RunList, RunRecord};
use crate::gui::state::settings::Settings;

/// Bins per side of the density shading.
const BINS: usize = 40;

/// Draws the top panel: the samples | diagnostics tabs with the view's controls, then the
/// active run's samples (teacher next to student) or its diagnostics.
pub fn ui(
    ui: &mut egui::Ui,
    settings: &mut Settings,
    runs: &RunList,
    config: &RunConfig,
) -> Vec<Action> {
    let run = runs.active();
    let out = controls(ui, settings, run);
    if settings.diagnostics {
        let side = (ui.available_width() / 2.0 - 12.0)
            .min(ui.available_height() - 60.0)
            .max(120.0);
        egui::ScrollArea::vertical()
            .id_salt("diagnostics")
            .show(ui, |ui| super::diagnostics::ui(ui, run, side));
        return out;
    }
    let Some(run) = run else {
        ui.label("Start a run to see teacher and student samples.");
        return out;
    };
    let Some(view) = &run.history.samples else {
        ui.label("waiting for the first evaluation…");
        return out;
    };
    let side = (ui.available_width() / 2.0 - 12.0)
        .min(ui.available_height() - 24.0)
        .max(80.0);
    let teacher_caption = format!(
        "Teacher — Heun {} steps ({} NFE)",
        view.teacher_steps, view.teacher_nfe
    );
    match view.image_shape {
        Some(shape) => image_grids(ui, view, shape, teacher_caption, side),
        None => scatters(ui, settings, config, run, view, teacher_caption, side),
    }
    out
}

/// The tabs (samples | diagnostics) and the samples view's controls: the teacher's Heun
/// steps, the score field and its σ.
fn controls(ui: &mut egui::Ui, settings: &mut Settings, run: Option<&RunRecord>) -> Vec<Action> {
    let mut out = Vec::new();
    ui.horizontal(|ui| {
        ui.selectable_value(
            &mut settings.diagnostics,
            false,
            egui::RichText::new("Samples").strong(),
        )
        .on_hover_text("teacher and one-step student samples on the same noise");
        ui.selectable_value(
            &mut settings.diagnostics,
            true,
            egui::RichText::new("Diagnostics").strong(),
        )
        .on_hover_text(
            "what the distance does to each sample of the generator phase: |y| = |D_ψ - D_q|, \
                 the weight of its update and its share of the gradient, by σ",
        );
        ui.separator();
        if settings.diagnostics {
            return;
        }
        let r =
            ui.add(egui::Slider::new(&mut settings.view_steps, 1..=64).text("teacher Heun steps"));
        if r.drag_stopped() || (r.changed() && !r.dragged()) {
            out.push(Action::ViewSteps(settings.view_steps));
        }
        ui.label(format!(
            "NFE {}",
            (2 * settings.view_steps).saturating_sub(1)
        ));
        ui.separator();
        let toggled = ui
            .checkbox(&mut settings.score_field, "score field")
            .on_hover_text("teacher (grey) and fake-denoiser ψ (orange) scores at σ")
            .changed();
        if settings.score_field {
            ui.checkbox(&mut settings.score_difference, "ψ - teacher")
                .on_hover_text(
                    "over the student: the difference of the two scores, (D_ψ - D_q)/σ², \
                     which the generator's update follows (red, scaled to its largest arrow)",
                );
        }
        let mut ask = toggled;
        if settings.score_field {
            let r = ui.add(
                egui::Slider::new(&mut settings.score_sigma, 0.01..=5.0)
                    .logarithmic(true)
                    .text("σ"),
            );
            ask |= r.drag_stopped() || (r.changed() && !r.dragged());
            // A run that has no field yet (just activated) asks once.
            ask |= run.is_some_and(|r| r.is_live() && r.view.score_sigma.is_none());
        }
        if ask {
            out.push(Action::ScoreField {
                sigma: settings.score_field.then_some(settings.score_sigma),
            });
        }
    });
    out
}

/// Image samples: the teacher's grid next to the student's, on the same noise and labels.
fn image_grids(
    ui: &mut egui::Ui,
    view: &SampleView,
    shape: [usize; 3],
    teacher_caption: String,
    side: f32,
) {
    ui.horizontal(|ui| {
        ui.vertical(|ui| {
            ui.label(teacher_caption);
            grid(ui, "teacher-grid", &view.teacher, shape, view.columns, side);
        });
        ui.vertical(|ui| {
            let rows = if view.labels.is_some() {
                " (one row per class)"
            } else {
                ""
            };
            ui.label(format!(
                "Student — one step (1 NFE), iteration {}{rows}",
                view.step
            ));
            grid(ui, "student-grid", &view.student, shape, view.columns, side);
        });
    });
}

/// 2-D samples: the teacher's scatter next to the student's, with the mixture's contours and
/// the score field when shown.
fn scatters(
    ui: &mut egui::Ui,
    settings: &Settings,
    config: &RunConfig,
    run: &RunRecord,
    view: &SampleView,
    teacher_caption: String,
    side: f32,
) {
    let mixture = config
        .data
        .mixture()
        .filter(|_| run.engine.config.data == config.data)
        .or_else(|| run.engine.config.data.mixture());
    let extent = view.teacher.iter().fold(0.5f32, |m, v| m.max(v.abs())) * 1.2;
    let field = settings
        .score_field
        .then_some(run.history.score_field.as_ref())
        .flatten();
    ui.horizontal(|ui| {
        ui.vertical(|ui| {
            ui.label(teacher_caption);
            scatter(
                ui,
                side,
                extent,
                &view.teacher,
                palette::TEACHER,
                mixture.as_ref(),
                field.map(|f| (f, Arrows::Teacher)),
            );
        });
        ui.vertical(|ui| {
            ui.label(format!(
                "Student — one step (1 NFE), iteration {}",
                view.step
            ));
            scatter(
                ui,
                side,
                extent,
                &view.student,
                run.color,
                mixture.as_ref(),
                field.map(|f| {
                    let arrows = if settings.score_difference {
                        Arrows::Difference
                    } else {
                        Arrows::Fake
                    };
                    (f, arrows)
                }),
            );
        });
    });
}

#[allow(clippy::too_many_arguments)]
fn scatter(
    ui: &mut egui::Ui,
    side: f32,
    extent: f32,
    points: &[f32],
    color: Color32,
    mixture: Option<&sim_engine::data::toy::GaussianMixture>,
    field: Option<(&ScoreField, Arrows)>,
) {
    let (response, painter) = ui.allocate_painter(vec2(side, side), Sense::hover());
    let rect = response.rect;
    painter.rect_filled(rect, 2.0, Color32::from_gray(250));
    let to_screen = |x: f32, y: f32| -> Pos2 {
        pos2(
            rect.left() + (x / extent + 1.0) * 0.5 * rect.width(),
            rect.top() + (1.0 - (y / extent + 1.0) * 0.5) * rect.height(),
        )
    };
    // Density shading: a 2-D histogram, alpha by count.
    let mut bins = vec![0u32; BINS * BINS];
    for p in points.chunks_exact(2) {
        let i = (((p[0] / extent + 1.0) * 0.5) * BINS as f32).floor();
        let j = (((p[1] / extent + 1.0) * 0.5) * BINS as f32).floor();
        if (0.0..BINS as f32).contains(&i) && (0.0..BINS as f32).contains(&j) {
            bins[j as usize * BINS + i as usize] += 1;
        }
    }
    let max = bins.iter().copied().max().unwrap_or(1).max(1) as f32;
    let cell = rect.width() / BINS as f32;
    for (k, &c) in bins.iter().enumerate() {
        if c > 0 {
            let (i, j) = ((k % BINS) as f32, (k / BINS) as f32);
            let min = pos2(rect.left() + i * cell, rect.bottom() - (j + 1.0) * cell);
            let alpha = (40.0 + 160.0 * (c as f32 / max).sqrt()) as u8;
            painter.rect_filled(
                Rect::from_min_size(min, vec2(cell, cell)),
                0.0,
                Color32::from_rgba_unmultiplied(color.r(), color.g(), color.b(), alpha / 3),
            );
        }
    }
    // Exact mixture: each component's 1σ and 2σ circles.
    if let Some(m) = mixture {
        for (mean, &s) in m.means().iter().zip(m.stds()) {
            let c = to_screen(mean[0] as f32, mean[1] as f32);
            let px = s as f32 / extent * 0.5 * rect.width();
            painter.circle_stroke(c, px, Stroke::new(1.0, palette::CONTOUR));
            painter.circle_stroke(
                c,
                2.0 * px,
                Stroke::new(0.6, palette::CONTOUR.gamma_multiply(0.6)),
            );
        }
    }
    for p in points.chunks_exact(2) {
        let at = to_screen(p[0], p[1]);
        if rect.contains(at) {
            painter.circle_filled(at, 1.3, color);
        }
    }
    if let Some((f, which)) = field {
        arrows(&painter, f, &to_screen, rect, which);
    }
    painter.rect_stroke(
        rect,
        2.0,
        Stroke::new(1.0, Color32::from_gray(180)),
        egui::StrokeKind::Inside,
    );
}

/// Which score a panel's arrows show.
#[derive(Clone, Copy, PartialEq)]
enum Arrows {
    /// The teacher's `(D_q − x)/σ²`.
    Teacher,
    /// The fake denoiser's `(D_ψ − x)/σ²`.
    Fake,
    /// ψ's minus the teacher's, `(D_ψ − D_q)/σ²`: what the generator's update follows.
    Difference,
}

/// Score arrows: teacher and ψ normalised by the largest teacher score so both sides share one
/// scale; the difference, far shorter, by its own largest arrow.
fn arrows(
    painter: &egui::Painter,
    field: &ScoreField,
    to_screen: &dyn Fn(f32, f32) -> Pos2,
    rect: Rect,
    which: Arrows,
) {
    let scores: Vec<f32> = match which {
        Arrows::Teacher => field.teacher.clone(),
        Arrows::Fake => field.fake.clone(),
        Arrows::Difference => field
            .fake
            .iter()
            .zip(&field.teacher)
            .map(|(f, t)| f - t)
            .collect(),
    };
    let color = match which {
        Arrows::Teacher => Color32::from_gray(90),
        Arrows::Fake => palette::FAKE,
        Arrows::Difference => palette::ERROR,
    };
    let scale = if which == Arrows::Difference {
        &scores
    } else {
        &field.teacher
    };
    let max = scale
        .chunks_exact(2)
        .map(|v| v[0].hypot(v[1]))
        .fold(1e-12f32, f32::max);
    let n = (field.points.len() / 2) as f32;
    let spacing = rect.width() / n.sqrt().max(2.0);
    for (p, s) in field.points.chunks_exact(2).zip(scores.chunks_exact(2)) {
        let origin = to_screen(p[0], p[1]);
        let v = vec2(s[0], -s[1]) / max * spacing * 0.9;
        if rect.contains(origin) && v.length() > 0.5 {
            painter.arrow(origin, v, Stroke::new(1.0, color));
        }
    }
}
