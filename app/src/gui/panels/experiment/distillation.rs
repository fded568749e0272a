//! The live settings of a distillation: objective, distance and its parameters, weighting,
//! σ distributions, learning rates, k_ψ. Each committed change is an `Action::Tweak` that the
//! engine's own check (`Tweak::apply`) accepts; a value it refuses is refused where it was
//! typed, with its reason.

use eframe::egui;
use sim_engine::distill::config::DistillConfig;
use sim_engine::distill::distance::Distance;
use sim_engine::distill::objective::{Objective, Weighting};
use sim_engine::protocol::Tweak;

use super::about;
use super::widgets::{LiveNumber, keep, live_number, lr_ui, sigma_ui};
use crate::gui::action::Action;

/// The engine's check of a live change to `distill` (`Tweak::apply`), as the reason it gives.
fn check(distill: &DistillConfig, tweak: Tweak) -> Result<(), String> {
    tweak.apply(&mut distill.clone()).map_err(|e| e.to_string())
}

/// The live section for `distill` (the draft, with changes the engine has not answered yet);
/// returns the tweaks the user committed, each one the engine's check accepts.
pub(super) fn ui(ui: &mut egui::Ui, distill: &DistillConfig) -> Vec<Action> {
    let mut out = Vec::new();
    let d = distill;
    objective_ui(ui, d, &mut out);
    if d.objective == Objective::Sim {
        distance_ui(ui, d, &mut out);
    }
    let mut weighting = d.weighting;
    egui::ComboBox::from_label("weighting w(σ)")
        .selected_text(match weighting {
            Weighting::NoWeight => "nowgt (w = 1)",
            Weighting::Sid => "sidwgt (SiD)",
        })
        .show_ui(ui, |ui| {
            ui.selectable_value(&mut weighting, Weighting::NoWeight, "nowgt (w = 1)");
            ui.selectable_value(&mut weighting, Weighting::Sid, "sidwgt (SiD)");
        })
        .response
        .on_hover_text(about::WEIGHTING);
    if weighting != d.weighting {
        out.push(Action::Tweak(Tweak::Weighting(weighting)));
    }
    if let Some(s) = sigma_ui(
        ui,
        "σ for θ (p_G)",
        about::SIGMA_GENERATOR,
        d.generator_sigma,
        |s| check(d, Tweak::GeneratorSigma(s)),
    ) {
        out.push(Action::Tweak(Tweak::GeneratorSigma(s)));
    }
    if let Some(s) = sigma_ui(ui, "σ for ψ", about::SIGMA_FAKE, d.fake_sigma, |s| {
        check(d, Tweak::FakeSigma(s))
    }) {
        out.push(Action::Tweak(Tweak::FakeSigma(s)));
    }
    if let Some(v) = lr_ui(
        ui,
        "lr θ (generator)",
        about::LR_GENERATOR,
        d.lr_generator,
        |v| check(d, Tweak::LrGenerator(v)),
    ) {
        out.push(Action::Tweak(Tweak::LrGenerator(v)));
    }
    if let Some(v) = lr_ui(
        ui,
        "lr ψ (fake denoiser)",
        about::LR_FAKE,
        d.lr_fake,
        |v| check(d, Tweak::LrFake(v)),
    ) {
        out.push(Action::Tweak(Tweak::LrFake(v)));
    }
    let k_fake = LiveNumber {
        label: "k_ψ (fake steps per θ step)",
        about: about::K_FAKE,
        slider: 1..=10,
        logarithmic: false,
        step: None,
    };
    if let Some(k) = live_number(ui, k_fake, d.k_fake, |k| check(d, Tweak::KFake(k))) {
        out.push(Action::Tweak(Tweak::KFake(k)));
    }
    out
}

/// The objective picker, and SiD's α.
fn objective_ui(ui: &mut egui::Ui, d: &DistillConfig, out: &mut Vec<Action>) {
    let mut objective = d.objective;
    egui::ComboBox::from_label("objective")
        .selected_text(objective.label(&d.distance))
        .show_ui(ui, |ui| {
            ui.selectable_value(
                &mut objective,
                Objective::Sim,
                "SIM (score implicit matching)",
            );
            let sid = match objective {
                Objective::Sid { .. } => objective,
                _ => Objective::Sid { alpha: 1.2 },
            };
            ui.selectable_value(&mut objective, sid, "SiD (score identity distillation)");
            ui.selectable_value(
                &mut objective,
                Objective::DiffInstruct,
                "Diff-Instruct (KL)",
            );
        })
        .response
        .on_hover_text(about::OBJECTIVE);
    if objective != d.objective {
        out.push(Action::Tweak(Tweak::Objective(objective)));
    }
    if let Objective::Sid { alpha } = d.objective {
        let spec = LiveNumber {
            label: "SiD α",
            about: about::SID_ALPHA,
            slider: 0.0..=2.0,
            logarithmic: false,
            step: None,
        };
        if let Some(alpha) = live_number(ui, spec, alpha, |alpha| {
            check(d, Tweak::Objective(Objective::Sid { alpha }))
        }) {
            out.push(Action::Tweak(Tweak::Objective(Objective::Sid { alpha })));
        }
    }
}

/// The SIM distance picker, with only the chosen distance's own parameters.
fn distance_ui(ui: &mut egui::Ui, d: &DistillConfig, out: &mut Vec<Action>) {
    let changed = distance_picker(ui, d.distance).or_else(|| distance_parameters(ui, d));
    if let Some(distance) = changed {
        out.push(Action::Tweak(Tweak::Distance(distance)));
    }
}

/// The distance picker: each distance keeps the parameters `current` has where it is the
/// same kind. Returns another distance picked.
fn distance_picker(ui: &mut egui::Ui, current: Distance) -> Option<Distance> {
    let mut distance = current;
    egui::ComboBox::from_label("distance d")
        .selected_text(distance.label())
        .show_ui(ui, |ui| {
            let options = [
                keep(current, Distance::PseudoHuber { c: 0.03 }),
                Distance::L2,
                Distance::L1,
                keep(current, Distance::Huber { delta: 0.1 }),
                keep(current, Distance::AlphaPower { alpha: 4 }),
                keep(
                    current,
                    Distance::ExpPower {
                        alpha: 2,
                        beta: 0.5,
                    },
                ),
            ];
            for option in options {
                let name = option
                    .label()
                    .split(" (")
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                ui.selectable_value(&mut distance, option, name);
            }
        })
        .response
        .on_hover_text(about::DISTANCE);
    (distance != current).then_some(distance)
}

/// The picked distance's own parameters (c, δ, α, β), each a live number checked as the
/// engine checks it. Returns the distance with a changed parameter.
fn distance_parameters(ui: &mut egui::Ui, d: &DistillConfig) -> Option<Distance> {
    let check_distance = |distance: Distance| check(d, Tweak::Distance(distance));
    let positive = |label, about, slider| LiveNumber {
        label,
        about,
        slider,
        logarithmic: true,
        step: None,
    };
    let power = LiveNumber {
        label: "α (even)",
        about: about::POWER_ALPHA,
        slider: 2..=8,
        logarithmic: false,
        step: Some(2.0),
    };
    match d.distance {
        Distance::PseudoHuber { c } => live_number(
            ui,
            positive("c", about::PSEUDO_HUBER_C, 1e-4..=10.0),
            c,
            |c| check_distance(Distance::PseudoHuber { c }),
        )
        .map(|c| Distance::PseudoHuber { c }),
        Distance::Huber { delta } => live_number(
            ui,
            positive("δ", about::HUBER_DELTA, 1e-4..=10.0),
            delta,
            |delta| check_distance(Distance::Huber { delta }),
        )
        .map(|delta| Distance::Huber { delta }),
        Distance::AlphaPower { alpha } => live_number(ui, power, alpha, |alpha| {
            check_distance(Distance::AlphaPower { alpha })
        })
        .map(|alpha| Distance::AlphaPower { alpha }),
        Distance::ExpPower { alpha, beta } => {
            let alpha_changed = live_number(ui, power, alpha, |alpha| {
                check_distance(Distance::ExpPower { alpha, beta })
            })
            .map(|alpha| Distance::ExpPower { alpha, beta });
            let beta_changed = live_number(
                ui,
                positive("β", about::EXP_BETA, 1e-3..=10.0),
                beta,
                |beta| check_distance(Distance::ExpPower { alpha, beta }),
            )
            .map(|beta| Distance::ExpPower { alpha, beta });
            alpha_changed.or(beta_changed)
        }
        Distance::L2 | Distance::L1 => None,
    }
}
