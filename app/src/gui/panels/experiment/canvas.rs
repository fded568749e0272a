//! Draw your own target: a 2-D canvas on which clicks and strokes become the components of a
//! Gaussian mixture (`[data] kind = "mixture"`), so the teacher keeps its exact score. A click
//! on empty ground adds a component of the chosen width, a stroke lays one every width along
//! it, a click on a component makes it one heavier, a right-click removes the nearest one.

use eframe::egui::{self, Color32, Pos2, Rect, Sense, Stroke, pos2, vec2};
use sim_engine::data::DataConfig;
use sim_engine::data::toy::{Component, ToyData};

use crate::gui::palette;

/// The canvas shows `[−EXTENT, EXTENT]²`.
pub const EXTENT: f64 = 2.0;

/// Most components a drawn target has (the exact teacher's cost grows with each).
pub const MAX_COMPONENTS: usize = 64;

/// The width of a new target's components.
const DEFAULT_STD: f64 = 0.08;

/// The data picker's "draw your own" entry: the current data's components when it is a
/// mixture (a ring, a grid, a preset's mixture), so drawing starts from what was there.
pub fn drawn_from(current: &DataConfig) -> DataConfig {
    let components = current
        .mixture()
        .filter(|m| m.dim() == 2 && m.modes() <= MAX_COMPONENTS)
        .map(|m| {
            m.weights()
                .iter()
                .zip(m.means())
                .zip(m.stds())
                .map(|((&weight, mean), &std)| Component {
                    weight,
                    mean: [mean[0], mean[1]],
                    std,
                })
                .collect()
        })
        .unwrap_or_default();
    ToyData::Mixture { components }.into()
}

/// What a primary press (`fresh`) or drag at `at` does: on a component (within its width) a
/// fresh press makes it one heavier; elsewhere a component of width `std` and weight 1 is
/// added unless one lies nearer than `std` (so a stroke lays one every width). Returns whether
/// anything changed.
pub fn paint(components: &mut Vec<Component>, at: [f64; 2], std: f64, fresh: bool) -> bool {
    let nearest = nearest(components, at);
    match nearest {
        Some((k, d)) if d <= components[k].std.max(std) => {
            if fresh {
                components[k].weight += 1.0;
            }
            fresh
        }
        Some((_, d)) if d < std * 1.5 => false,
        _ if components.len() >= MAX_COMPONENTS => false,
        _ => {
            components.push(Component {
                weight: 1.0,
                mean: at,
                std,
            });
            true
        }
    }
}

/// Removes the component nearest `at` if it lies within three of its widths.
pub fn erase(components: &mut Vec<Component>, at: [f64; 2]) -> bool {
    match nearest(components, at) {
        Some((k, d)) if d <= 3.0 * components[k].std => {
            components.remove(k);
            true
        }
        _ => false,
    }
}

/// The index of the component whose mean is nearest `at`, and its distance.
fn nearest(components: &[Component], at: [f64; 2]) -> Option<(usize, f64)> {
    components
        .iter()
        .map(|c| (c.mean[0] - at[0]).hypot(c.mean[1] - at[1]))
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

/// The canvas and its controls, editing `components` in place (the panel's copy of the draft).
pub fn ui(ui: &mut egui::Ui, components: &mut Vec<Component>) {
    let mut std = components.first().map_or(DEFAULT_STD, |c| c.std);
    ui.horizontal(|ui| {
        let r = ui
            .add(
                egui::Slider::new(&mut std, 0.01..=0.5)
                    .logarithmic(true)
                    .text("width"),
            )
            .on_hover_text("the std of every component, and of those you add");
        if r.changed() {
            components.iter_mut().for_each(|c| c.std = std);
        }
        if ui.button("Clear").clicked() {
            components.clear();
        }
    });
    let side = ui.available_width().min(280.0);
    let (response, painter) = ui.allocate_painter(vec2(side, side), Sense::click_and_drag());
    let response = response.on_hover_text(
        "click: add a mode (on a mode: make it heavier) · drag: a stroke of modes · \
         right-click: remove the nearest",
    );
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Canvas, true, "target canvas"));
    let rect = response.rect;
    let to_data = |p: Pos2| {
        [
            ((p.x - rect.left()) / rect.width() * 2.0 - 1.0) as f64 * EXTENT,
            (1.0 - (p.y - rect.top()) / rect.height() * 2.0) as f64 * EXTENT,
        ]
    };
    if let Some(at) = response.interact_pointer_pos() {
        let (pressed, down) = ui.input(|i| (i.pointer.primary_pressed(), i.pointer.primary_down()));
        if response.secondary_clicked() {
            erase(components, to_data(at));
        } else if pressed || down {
            paint(components, to_data(at), std, pressed);
        }
    }
    draw(&painter, rect, components);
    let total: f64 = components.iter().map(|c| c.weight).sum();
    ui.small(match components.len() {
        0 => "empty: click or drag on the canvas to draw a target".to_owned(),
        n => format!(
            "{n} modes (at most {MAX_COMPONENTS}), heaviest {:.0} % of the mass; Save as… keeps it as a preset",
            100.0 * components.iter().map(|c| c.weight).fold(0.0, f64::max) / total
        ),
    });
}

/// The components as 1σ and 2σ circles, filled by weight, over the axes.
fn draw(painter: &egui::Painter, rect: Rect, components: &[Component]) {
    painter.rect_filled(rect, 2.0, Color32::from_gray(250));
    let to_screen = |m: [f64; 2]| {
        pos2(
            rect.left() + ((m[0] / EXTENT + 1.0) * 0.5) as f32 * rect.width(),
            rect.top() + ((1.0 - (m[1] / EXTENT + 1.0) * 0.5) as f32) * rect.height(),
        )
    };
    let axis = Stroke::new(0.5, Color32::from_gray(200));
    painter.line_segment(
        [
            pos2(rect.left(), rect.center().y),
            pos2(rect.right(), rect.center().y),
        ],
        axis,
    );
    painter.line_segment(
        [
            pos2(rect.center().x, rect.top()),
            pos2(rect.center().x, rect.bottom()),
        ],
        axis,
    );
    let heaviest = components.iter().map(|c| c.weight).fold(0.0, f64::max);
    let scale = rect.width() / (2.0 * EXTENT) as f32;
    for c in components {
        let at = to_screen(c.mean);
        let radius = c.std as f32 * scale;
        let alpha = (60.0 + 160.0 * c.weight / heaviest.max(1e-12)) as u8;
        let fill = Color32::from_rgba_unmultiplied(
            palette::CONTOUR.r(),
            palette::CONTOUR.g(),
            palette::CONTOUR.b(),
            alpha,
        );
        painter.circle_filled(at, radius.max(1.5), fill);
        painter.circle_stroke(at, 2.0 * radius, Stroke::new(0.6, palette::CONTOUR));
    }
    painter.rect_stroke(
        rect,
        2.0,
        Stroke::new(1.0, Color32::from_gray(180)),
        egui::StrokeKind::Inside,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clicks_add_strokes_space_and_presses_on_a_mode_weigh_it() {
        let mut c = Vec::new();
        assert!(paint(&mut c, [0.0, 0.0], 0.1, true));
        // A drag within one width of it adds nothing, nor does one at 1.2 widths.
        assert!(!paint(&mut c, [0.05, 0.0], 0.1, false));
        assert!(!paint(&mut c, [0.12, 0.0], 0.1, false));
        // 1.6 widths away: a new component.
        assert!(paint(&mut c, [0.16, 0.0], 0.1, false));
        assert_eq!(c.len(), 2);
        // A fresh press on the first: one heavier, nothing added.
        assert!(paint(&mut c, [0.01, 0.0], 0.1, true));
        assert_eq!((c.len(), c[0].weight, c[1].weight), (2, 2.0, 1.0));
        assert!(erase(&mut c, [0.2, 0.05]));
        assert!(!erase(&mut c, [1.5, 1.5]), "too far from any mode");
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn a_target_holds_at_most_its_limit_and_starts_from_the_current_mixture() {
        let mut c = Vec::new();
        for i in 0..100 {
            paint(&mut c, [f64::from(i) * 0.3 - 15.0, 0.0], 0.1, true);
        }
        assert_eq!(c.len(), MAX_COMPONENTS);
        let DataConfig::Toy(ToyData::Mixture { components }) =
            drawn_from(&ToyData::default().into())
        else {
            panic!("a mixture");
        };
        // The default ring: 8 equal modes of std 0.08 on the unit circle.
        assert_eq!(components.len(), 8);
        assert!(components.iter().all(|c| (c.std - 0.08).abs() < 1e-12));
        assert!((components[0].mean[0].hypot(components[0].mean[1]) - 1.0).abs() < 1e-9);
    }
}
