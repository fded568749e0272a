//! The race: 2–4 variants of the current config that differ in one setting, each on 1–5 seeds
//! (the same seeds for every variant), started together and overlaid — the controlled
//! comparison; with several seeds a variant is drawn as its mean and min–max band (`plots::band`).

use eframe::egui;
use sim_engine::config::RunConfig;
use sim_engine::distill::distance::Distance;
use sim_engine::distill::objective::{Objective, Weighting};

use crate::gui::action::Action;

/// Which setting the variants differ in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RaceSetting {
    /// SIM distance function.
    #[default]
    Distance,
    /// Objective (SIM / SiD / Diff-Instruct, each with its usual weighting).
    Objective,
    /// Both learning rates.
    LearningRate,
}

/// The race window's choices (whether it is shown is the workbench's `race_open`).
pub struct RaceDialog {
    setting: RaceSetting,
    distances: [bool; 4],
    objectives: [bool; 3],
    lrs: [bool; 4],
    /// Seeds per variant: the config's seed and the next ones.
    seeds: u64,
}

/// Most seeds per variant.
pub const MAX_SEEDS: u64 = 5;

impl Default for RaceDialog {
    fn default() -> Self {
        Self {
            setting: RaceSetting::Distance,
            distances: [true, true, false, false],
            objectives: [true, true, true],
            lrs: [true, true, false, false],
            seeds: 1,
        }
    }
}

const DISTANCES: [(&str, Distance); 4] = [
    ("pseudo-Huber", Distance::PseudoHuber { c: 0.03 }),
    ("L2", Distance::L2),
    ("L1", Distance::L1),
    ("Huber", Distance::Huber { delta: 0.1 }),
];
const LRS: [f64; 4] = [1e-5, 1e-4, 1e-3, 1e-2];

impl RaceDialog {
    /// The variants currently ticked, labelled by their difference.
    pub fn variants(&self, base: &RunConfig) -> Vec<(String, RunConfig)> {
        let mut out = Vec::new();
        match self.setting {
            RaceSetting::Distance => {
                for ((name, d), on) in DISTANCES.iter().zip(self.distances) {
                    if on {
                        let mut c = base.clone();
                        c.distill.objective = Objective::Sim;
                        c.distill.distance = match (d, base.distill.distance) {
                            (Distance::PseudoHuber { .. }, own @ Distance::PseudoHuber { .. }) => {
                                own
                            }
                            _ => *d,
                        };
                        c.name = format!("race-{}", name.to_lowercase());
                        out.push((format!("race: SIM {name}"), c));
                    }
                }
            }
            RaceSetting::Objective => {
                let objectives = [
                    ("SIM", Objective::Sim, Weighting::NoWeight),
                    ("SiD", Objective::Sid { alpha: 1.2 }, Weighting::Sid),
                    (
                        "Diff-Instruct",
                        Objective::DiffInstruct,
                        Weighting::NoWeight,
                    ),
                ];
                for ((name, o, w), on) in objectives.into_iter().zip(self.objectives) {
                    if on {
                        let mut c = base.clone();
                        c.distill.objective = o;
                        c.distill.weighting = w;
                        c.name = format!("race-{}", name.to_lowercase());
                        out.push((format!("race: {name}"), c));
                    }
                }
            }
            RaceSetting::LearningRate => {
                for (lr, on) in LRS.iter().zip(self.lrs) {
                    if on {
                        let mut c = base.clone();
                        c.distill.lr_generator = *lr;
                        c.distill.lr_fake = *lr;
                        c.name = format!("race-lr{lr:.0e}");
                        out.push((format!("race: lr {lr:.0e}"), c));
                    }
                }
            }
        }
        out
    }

    /// Draws the window while `open` (closed by its button, or by starting the race); returns
    /// the race to start.
    pub fn ui(&mut self, ctx: &egui::Context, base: &RunConfig, open: &mut bool) -> Option<Action> {
        let mut action = None;
        egui::Window::new("Race").open(open).show(ctx, |ui| {
            ui.label("Variants of the current config on the same seeds, run side by side:");
            ui.horizontal(|ui| {
                ui.selectable_value(&mut self.setting, RaceSetting::Distance, "distance");
                ui.selectable_value(&mut self.setting, RaceSetting::Objective, "objective");
                ui.selectable_value(
                    &mut self.setting,
                    RaceSetting::LearningRate,
                    "learning rate",
                );
            });
            match self.setting {
                RaceSetting::Distance => {
                    for ((name, _), on) in DISTANCES.iter().zip(self.distances.iter_mut()) {
                        ui.checkbox(on, *name);
                    }
                }
                RaceSetting::Objective => {
                    for (name, on) in ["SIM", "SiD", "Diff-Instruct"]
                        .iter()
                        .zip(self.objectives.iter_mut())
                    {
                        ui.checkbox(on, *name);
                    }
                }
                RaceSetting::LearningRate => {
                    for (lr, on) in LRS.iter().zip(self.lrs.iter_mut()) {
                        ui.checkbox(on, format!("{lr:.0e} (θ and ψ)"));
                    }
                }
            }
            ui.add(egui::Slider::new(&mut self.seeds, 1..=MAX_SEEDS).text("seeds per variant"))
                .on_hover_text(
                    "each variant on seeds s, s+1, … (the same for every variant): curves show \
                     the mean with a min-max band, the runs panel the final scores as mean ± s.e.",
                );
            let variants = self.variants(base);
            let n = variants.len();
            let ok = (2..=4).contains(&n);
            if !ok {
                ui.label("tick 2 to 4 variants");
            }
            let label = match self.seeds {
                1 => format!("Start race ({n})"),
                s => format!("Start race ({n} × {s} seeds)"),
            };
            if ui.add_enabled(ok, egui::Button::new(label)).clicked() {
                action = Some(Action::Race {
                    variants,
                    seeds: self.seeds,
                });
            }
        });
        if action.is_some() {
            *open = false;
        }
        action
    }
}
