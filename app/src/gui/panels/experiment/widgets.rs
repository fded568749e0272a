//! Widgets the experiment panel's sections share.

use std::ops::RangeInclusive;
use std::path::PathBuf;

use eframe::egui;
use sim_engine::diffusion::sigma::SigmaDistribution;
use sim_engine::distill::distance::Distance;

use crate::gui::palette;

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

/// A σ distribution picker; returns the new distribution when the user commits a change that
/// `check` (the engine's check of the tweak) accepts.
pub(super) fn sigma_ui(
    ui: &mut egui::Ui,
    label: &str,
    about: &str,
    sigma: SigmaDistribution,
    check: impl Fn(SigmaDistribution) -> Result<(), String>,
) -> Option<SigmaDistribution> {
    let mut chosen = None;
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
                let same = std::mem::discriminant(&option) == std::mem::discriminant(&sigma);
                if ui.selectable_label(same, option.label()).clicked() && !same {
                    chosen = Some(option);
                }
            }
        })
        .response
        .on_hover_text(about);
    match sigma {
        SigmaDistribution::LogNormal { p_mean, p_std } => {
            let mean = LiveNumber {
                label: &format!("P_mean ({label})"),
                about: "P_mean: the mean of ln σ",
                slider: -8.0..=4.0,
                logarithmic: false,
                step: None,
            };
            if let Some(p_mean) = live_number(ui, mean, p_mean, |p_mean| {
                check(SigmaDistribution::LogNormal { p_mean, p_std })
            }) {
                chosen = Some(SigmaDistribution::LogNormal { p_mean, p_std });
            }
            let std = LiveNumber {
                label: &format!("P_std ({label})"),
                about: "P_std: the standard deviation of ln σ",
                slider: 0.0..=5.0,
                logarithmic: false,
                step: None,
            };
            if let Some(p_std) = live_number(ui, std, p_std, |p_std| {
                check(SigmaDistribution::LogNormal { p_mean, p_std })
            }) {
                chosen = Some(SigmaDistribution::LogNormal { p_mean, p_std });
            }
        }
        _ => {
            if let Some((m, s)) = sigma.log_normal_params() {
                ui.small(format!("ln σ ~ N({m}, {s}²)"));
            } else {
                ui.small("σ ∈ [0.002, 24.4] (SiD's code)");
            }
        }
    }
    chosen.filter(|s| check(*s).is_ok())
}

/// A number a live control edits: how it is parsed from what the user typed and shown back.
pub(super) trait Typed: egui::emath::Numeric + std::str::FromStr {
    /// What a typed text must be ("a number").
    const KIND: &'static str;
    /// The value as the box shows it: exact, so what is shown is what is used.
    fn show(self) -> String;
}

impl Typed for f64 {
    const KIND: &'static str = "a number";
    fn show(self) -> String {
        // Rust's shortest text that reads back as the same f64; exponent form when plain
        // notation would be long (1e-7, not 0.0000001).
        if self != 0.0 && !(1e-3..1e5).contains(&self.abs()) {
            format!("{self:e}")
        } else {
            format!("{self}")
        }
    }
}

impl Typed for u32 {
    const KIND: &'static str = "a whole number ≥ 0";
    fn show(self) -> String {
        self.to_string()
    }
}

/// How a live number is offered: its name, its tooltip, and the range its slider covers — a
/// convenience only: the box next to it takes any value the engine's check accepts.
pub(super) struct LiveNumber<'a, T> {
    pub label: &'a str,
    pub about: &'a str,
    pub slider: RangeInclusive<T>,
    pub logarithmic: bool,
    /// Slider step (even integers: 2); `None` for a continuous slider.
    pub step: Option<f64>,
}

/// A live numeric setting: a slider and a box to type a value into. A value (dragged or typed)
/// is returned exactly when `check` — the engine's own check of the change it would make —
/// accepts it; otherwise nothing changes and the reason stays under the box until the next
/// edit. The box shows `value`, the value in use, whenever it is not being edited.
pub(super) fn live_number<T: Typed>(
    ui: &mut egui::Ui,
    spec: LiveNumber<'_, T>,
    value: T,
    check: impl Fn(T) -> Result<(), String>,
) -> Option<T> {
    let text_id = egui::Id::unique(("live-number", spec.label));
    let error_id = text_id.with("refused");
    let mut accepted = None;
    let mut refusal: Option<String> = None;
    ui.horizontal(|ui| {
        let mut dragged = value;
        let mut slider = egui::Slider::new(&mut dragged, spec.slider)
            .logarithmic(spec.logarithmic)
            .show_value(false)
            .clamping(egui::SliderClamping::Never);
        if let Some(step) = spec.step {
            slider = slider.step_by(step);
        }
        let slider = ui.add(slider).on_hover_text(spec.about);
        let mut text: String = ui
            .data(|d| d.get_temp(text_id))
            .unwrap_or_else(|| value.show());
        let entry = ui
            .add(egui::TextEdit::singleline(&mut text).desired_width(72.0))
            .on_hover_text(format!(
                "{}: type any value, Enter to apply; the engine's check decides",
                spec.label
            ));
        let label = ui.label(spec.label);
        let entry = entry.labelled_by(label.id);
        let slider = slider.labelled_by(label.id);
        if entry.gained_focus() {
            ui.data_mut(|d| d.remove::<String>(error_id));
        }
        let proposed = proposal(&slider, dragged, &entry, &text, value);
        let checked = proposed.map(|p| {
            p.and_then(|v| {
                check(v)
                    .map(|()| v)
                    .map_err(|r| format!("refused {}: {r}", v.show()))
            })
        });
        match checked {
            Some(Ok(v)) => accepted = Some(v),
            Some(Err(reason)) => refusal = Some(reason),
            None => {}
        }
        if entry.has_focus() {
            ui.data_mut(|d| d.insert_temp(text_id, text));
        } else {
            ui.data_mut(|d| d.remove::<String>(text_id));
        }
    });
    refusal_line(ui, error_id, accepted.is_some(), refusal);
    accepted
}

/// What the user proposes: a value dragged to and let go, or one typed and left (Enter, or
/// focus elsewhere); text that is no number is refused here, a value equal to `value` is none.
fn proposal<T: Typed>(
    slider: &egui::Response,
    dragged: T,
    entry: &egui::Response,
    text: &str,
    value: T,
) -> Option<Result<T, String>> {
    if committed(slider) && dragged != value {
        Some(Ok(dragged))
    } else if entry.lost_focus() {
        let typed = text.trim();
        match typed.parse::<T>() {
            Ok(v) if v == value => None,
            Ok(v) => Some(Ok(v)),
            Err(_) => Some(Err(format!(
                "“{typed}” is not {}: nothing changed",
                T::KIND
            ))),
        }
    } else {
        None
    }
}

/// The reason the latest proposal was refused, kept under the box (in egui's memory, under
/// `error_id`) until a value is accepted; a verdict redraws at once.
fn refusal_line(ui: &mut egui::Ui, error_id: egui::Id, accepted: bool, refusal: Option<String>) {
    if accepted || refusal.is_some() {
        // Show the value in use (or the reason) now, not at the next event.
        ui.ctx().request_repaint();
    }
    if accepted {
        ui.data_mut(|d| d.remove::<String>(error_id));
    }
    if let Some(reason) = refusal {
        ui.data_mut(|d| d.insert_temp(error_id, reason));
    }
    if let Some(reason) = ui.data(|d| d.get_temp::<String>(error_id)) {
        ui.add(egui::Label::new(egui::RichText::new(reason).small().color(palette::ERROR)).wrap());
    }
}

/// A learning rate: a logarithmic slider over 1e-6..=1e-1 and a box for any positive value.
pub(super) fn lr_ui(
    ui: &mut egui::Ui,
    label: &str,
    about: &str,
    lr: f64,
    check: impl Fn(f64) -> Result<(), String>,
) -> Option<f64> {
    let spec = LiveNumber {
        label,
        about,
        slider: 1e-6..=1e-1,
        logarithmic: true,
        step: None,
    };
    live_number(ui, spec, lr, check)
}

/// The slider of a setting that applies on restart: its range is the slider's, never the
/// value's — a value from a preset, a pasted string or `--set` outside it is kept as it is (the
/// handle rests at the end), not silently clamped into the draft; the config's own `validate`,
/// run at Start, is the check.
pub(super) fn setting<N: egui::emath::Numeric>(
    value: &mut N,
    range: RangeInclusive<N>,
) -> egui::Slider<'_> {
    egui::Slider::new(value, range).clamping(egui::SliderClamping::Never)
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
