//! The current generator loss written out (SiD users stumble over its signs and α).

use eframe::egui;
use sim_engine::config::RunConfig;

use crate::gui::palette;

pub fn ui(ui: &mut egui::Ui, config: &RunConfig) {
    let d = &config.distill;
    ui.strong("Generator loss");
    ui.add(
        egui::Label::new(egui::RichText::new(d.objective.formula(&d.distance)).monospace()).wrap(),
    );
    ui.small(format!(
        "x_t = x_0 + σε, x_0 = g_θ(z) = D_θ(z; t* = {}), σ ~ {}, w = {:?}; gradients reach θ through x_0 and x_t.",
        d.t_star,
        d.generator_sigma.label(),
        d.weighting
    ));
    if matches!(d.objective, sim_engine::distill::objective::Objective::Sim)
        && let Some(caveat) = d.distance.caveat()
    {
        ui.colored_label(palette::FAKE, caveat);
    }
}
