//! The live settings of a distillation: objective, distance and its parameters, weighting,
//! σ distributions, learning rates, k_ψ. Widgets work on a copy of the draft; each committed
//! change is an `Action::Tweak`, which updates the draft and the live run alike.

use eframe::egui;
use sim_engine::distill::config::DistillConfig;
use sim_engine::distill::distance::Distance;
use sim_engine::distill::objective::{Objective, Weighting};
use sim_engine::protocol::Tweak;

use super::about;
use super::widgets::{committed, keep, lr_ui, sigma_ui};
use crate::gui::actions::Action;

/// The live section for the draft's `distill`; returns the tweaks the user committed.
pub(super) fn ui(ui: &mut egui::Ui, distill: &DistillConfig) -> Vec<Action> {
    let mut out = Vec::new();
    let mut draft = distill.clone();
    let d = &mut draft;
    // Objective.
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
    if let Objective::Sid { alpha } = &mut objective {
        let r = ui
            .add(egui::Slider::new(alpha, 0.0..=2.0).text("SiD α"))
            .on_hover_text(about::SID_ALPHA);
        if committed(&r) {
            out.push(Action::Tweak(Tweak::Objective(objective)));
        }
    }
    if objective != d.objective
        && !matches!(
            (objective, d.objective),
            (Objective::Sid { .. }, Objective::Sid { .. })
        )
    {
        out.push(Action::Tweak(Tweak::Objective(objective)));
    }
    d.objective = objective;

    // Distance (SIM only), with only its own parameters.
    if d.objective == Objective::Sim {
        let mut distance = d.distance;
        egui::ComboBox::from_label("distance d")
            .selected_text(distance.label())
            .show_ui(ui, |ui| {
                let options = [
                    keep(distance, Distance::PseudoHuber { c: 0.03 }),
                    Distance::L2,
                    Distance::L1,
                    keep(distance, Distance::Huber { delta: 0.1 }),
                    keep(distance, Distance::AlphaPower { alpha: 4 }),
                    keep(
                        distance,
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
        let changed_kind = std::mem::discriminant(&distance) != std::mem::discriminant(&d.distance);
        let param = match &mut distance {
            Distance::PseudoHuber { c } => Some(
                ui.add(
                    egui::Slider::new(c, 1e-4..=10.0)
                        .logarithmic(true)
                        .text("c"),
                )
                .on_hover_text(about::PSEUDO_HUBER_C),
            ),
            Distance::Huber { delta } => Some(
                ui.add(
                    egui::Slider::new(delta, 1e-4..=10.0)
                        .logarithmic(true)
                        .text("δ"),
                )
                .on_hover_text(about::HUBER_DELTA),
            ),
            Distance::AlphaPower { alpha } => Some(
                ui.add(
                    egui::Slider::new(alpha, 2..=8)
                        .step_by(2.0)
                        .text("α (even)"),
                )
                .on_hover_text(about::POWER_ALPHA),
            ),
            Distance::ExpPower { alpha, beta } => {
                ui.add(
                    egui::Slider::new(alpha, 2..=8)
                        .step_by(2.0)
                        .text("α (even)"),
                )
                .on_hover_text(about::POWER_ALPHA);
                Some(
                    ui.add(
                        egui::Slider::new(beta, 1e-3..=10.0)
                            .logarithmic(true)
                            .text("β"),
                    )
                    .on_hover_text(about::EXP_BETA),
                )
            }
            Distance::L2 | Distance::L1 => None,
        };
        if changed_kind || param.is_some_and(|r| committed(&r)) {
            out.push(Action::Tweak(Tweak::Distance(distance)));
        }
        d.distance = distance;
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
        d.weighting = weighting;
    }

    if let Some(s) = sigma_ui(
        ui,
        "σ for θ (p_G)",
        about::SIGMA_GENERATOR,
        &mut d.generator_sigma,
    ) {
        out.push(Action::Tweak(Tweak::GeneratorSigma(s)));
    }
    if let Some(s) = sigma_ui(ui, "σ for ψ", about::SIGMA_FAKE, &mut d.fake_sigma) {
        out.push(Action::Tweak(Tweak::FakeSigma(s)));
    }

    if let Some(v) = lr_ui(
        ui,
        "lr θ (generator)",
        about::LR_GENERATOR,
        &mut d.lr_generator,
    ) {
        out.push(Action::Tweak(Tweak::LrGenerator(v)));
    }
    if let Some(v) = lr_ui(ui, "lr ψ (fake denoiser)", about::LR_FAKE, &mut d.lr_fake) {
        out.push(Action::Tweak(Tweak::LrFake(v)));
    }
    let r = ui
        .add(egui::Slider::new(&mut d.k_fake, 1..=10).text("k_ψ (fake steps per θ step)"))
        .on_hover_text(about::K_FAKE);
    if committed(&r) {
        out.push(Action::Tweak(Tweak::KFake(d.k_fake)));
    }
    out
}
