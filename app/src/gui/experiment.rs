//! The experiment panel: preset, data and teacher, objective and distance, σ distributions,
//! weighting, learning rates (live), and the settings that apply on restart.

use std::path::PathBuf;

use eframe::egui;
use sim_engine::config::{RunConfig, TeacherConfig};
use sim_engine::data::DataConfig;
use sim_engine::data::images::{ImageSource, Split};
use sim_engine::data::toy::ToyData;
use sim_engine::device::BackendChoice;
use sim_engine::diffusion::sigma::SigmaDistribution;
use sim_engine::distill::distance::Distance;
use sim_engine::distill::objective::{Objective, Weighting};
use sim_engine::protocol::Tweak;

use super::actions::Action;
use super::store::RunStore;

/// A change to send once the user lets go (not on every pixel of a drag).
fn committed(response: &egui::Response) -> bool {
    response.drag_stopped() || (response.changed() && !response.dragged())
}

pub fn ui(
    ui: &mut egui::Ui,
    config: &mut RunConfig,
    backend: &mut BackendChoice,
    store: &RunStore,
    presets: &[PathBuf],
) -> Vec<Action> {
    let mut out = Vec::new();
    let running = store
        .active()
        .filter(|r| r.is_live())
        .map(|r| r.config.clone());
    ui.heading("Experiment");
    presets_row(ui, config, presets, &mut out);
    ui.horizontal(|ui| {
        ui.label("name");
        ui.text_edit_singleline(&mut config.name)
            .on_hover_text("run name");
    });

    restart_section(
        ui,
        "Data and teacher",
        running.as_ref().map(|r| (&r.data, &r.teacher)) != Some((&config.data, &config.teacher))
            && running.is_some(),
        |ui| {
            data_ui(ui, config, &mut out);
        },
    );

    ui.separator();
    ui.strong("Distillation (live)");
    let d = &mut config.distill;
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
        });
    if let Objective::Sid { alpha } = &mut objective {
        let r = ui.add(egui::Slider::new(alpha, 0.0..=2.0).text("SiD α"));
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
            });
        let changed_kind = std::mem::discriminant(&distance) != std::mem::discriminant(&d.distance);
        let param = match &mut distance {
            Distance::PseudoHuber { c } => Some(
                ui.add(
                    egui::Slider::new(c, 1e-4..=10.0)
                        .logarithmic(true)
                        .text("c"),
                ),
            ),
            Distance::Huber { delta } => Some(
                ui.add(
                    egui::Slider::new(delta, 1e-4..=10.0)
                        .logarithmic(true)
                        .text("δ"),
                ),
            ),
            Distance::AlphaPower { alpha } => Some(
                ui.add(
                    egui::Slider::new(alpha, 2..=8)
                        .step_by(2.0)
                        .text("α (even)"),
                ),
            ),
            Distance::ExpPower { alpha, beta } => {
                ui.add(
                    egui::Slider::new(alpha, 2..=8)
                        .step_by(2.0)
                        .text("α (even)"),
                );
                Some(
                    ui.add(
                        egui::Slider::new(beta, 1e-3..=10.0)
                            .logarithmic(true)
                            .text("β"),
                    ),
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
        });
    if weighting != d.weighting {
        out.push(Action::Tweak(Tweak::Weighting(weighting)));
        d.weighting = weighting;
    }

    if let Some(s) = sigma_ui(ui, "σ for θ (p_G)", &mut d.generator_sigma) {
        out.push(Action::Tweak(Tweak::GeneratorSigma(s)));
    }
    if let Some(s) = sigma_ui(ui, "σ for ψ", &mut d.fake_sigma) {
        out.push(Action::Tweak(Tweak::FakeSigma(s)));
    }

    if let Some(v) = lr_ui(ui, "lr θ (generator)", &mut d.lr_generator) {
        out.push(Action::Tweak(Tweak::LrGenerator(v)));
    }
    if let Some(v) = lr_ui(ui, "lr ψ (fake denoiser)", &mut d.lr_fake) {
        out.push(Action::Tweak(Tweak::LrFake(v)));
    }
    let r = ui.add(egui::Slider::new(&mut d.k_fake, 1..=10).text("k_ψ (fake steps per θ step)"));
    if committed(&r) {
        out.push(Action::Tweak(Tweak::KFake(d.k_fake)));
    }

    ui.separator();
    let restart = running.as_ref().is_some_and(|r| {
        r.distill.batch != config.distill.batch
            || r.distill.t_star != config.distill.t_star
            || r.distill.ema_half_life_kimg != config.distill.ema_half_life_kimg
            || r.seed != config.seed
            || r.iterations != config.iterations
            || r.net != config.net
    });
    restart_section(ui, "Run settings", restart, |ui| {
        let d = &mut config.distill;
        ui.add(
            egui::Slider::new(&mut d.batch, 16..=8192)
                .logarithmic(true)
                .text("batch"),
        );
        ui.add(
            egui::Slider::new(&mut d.t_star, 0.1..=80.0)
                .logarithmic(true)
                .text("t*"),
        );
        ui.add(
            egui::Slider::new(&mut d.ema_half_life_kimg, 0.1..=500.0)
                .logarithmic(true)
                .text("EMA half-life (kimg)"),
        );
        ui.horizontal(|ui| {
            ui.add(egui::DragValue::new(&mut config.seed).range(0..=u32::MAX as u64))
                .labelled_by(ui.label("seed").id);
        });
        ui.add(
            egui::Slider::new(&mut config.iterations, 10..=100_000)
                .logarithmic(true)
                .text("iterations"),
        );
        // Image runs copy the teacher's U-Net: its shape is the teacher file's.
        if !matches!(config.data, DataConfig::Image(_)) {
            ui.add(
                egui::Slider::new(&mut config.net.width, 8..=512)
                    .logarithmic(true)
                    .text("net width"),
            );
            ui.add(egui::Slider::new(&mut config.net.depth, 1..=8).text("net depth"));
        }
        ui.add(
            egui::Slider::new(&mut config.eval.every, 10..=2000)
                .logarithmic(true)
                .text("evaluate every"),
        );
        egui::ComboBox::from_label("backend")
            .selected_text(backend_name(*backend))
            .show_ui(ui, |ui| {
                for choice in [BackendChoice::Auto, BackendChoice::Cpu, BackendChoice::Gpu] {
                    ui.selectable_value(backend, choice, backend_name(choice));
                }
            })
            .response
            .on_hover_text("the next run's device; the status bar names the one in use");
    });
    out
}

/// What the backend picker shows for a choice.
fn backend_name(choice: BackendChoice) -> &'static str {
    match choice {
        BackendChoice::Auto => "auto (GPU if present)",
        BackendChoice::Cpu => "CPU (flex)",
        BackendChoice::Gpu => "GPU (wgpu)",
    }
}

/// Keeps the current parameters when re-selecting the same kind.
fn keep(current: Distance, option: Distance) -> Distance {
    if std::mem::discriminant(&current) == std::mem::discriminant(&option) {
        current
    } else {
        option
    }
}

fn presets_row(
    ui: &mut egui::Ui,
    config: &mut RunConfig,
    presets: &[PathBuf],
    out: &mut Vec<Action>,
) {
    let stem = |p: &PathBuf| {
        p.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    egui::ComboBox::from_label("preset")
        .selected_text(config.name.clone())
        .show_ui(ui, |ui| {
            for path in presets {
                if ui.button(stem(path)).clicked() {
                    out.push(Action::LoadPreset(path.clone()));
                    ui.close();
                }
            }
        });
    ui.horizontal(|ui| {
        if ui
            .button("Open…")
            .on_hover_text("open a preset file")
            .clicked()
        {
            out.push(Action::OpenPresetDialog);
        }
        if ui
            .button("Save as…")
            .on_hover_text("save these settings as a preset")
            .clicked()
        {
            out.push(Action::SavePresetDialog);
        }
    });
    // Typed path: works where no file-dialog portal exists.
    let id = egui::Id::unique("typed-preset-path");
    let mut typed: String = ui.data_mut(|d| d.get_temp(id).unwrap_or_default());
    ui.horizontal(|ui| {
        ui.add(
            egui::TextEdit::singleline(&mut typed)
                .hint_text("path/to/preset.toml")
                .desired_width(150.0),
        )
        .on_hover_text("preset path");
        if ui.button("Load").clicked() && !typed.is_empty() {
            out.push(Action::LoadPreset(PathBuf::from(&typed)));
        }
        if ui.button("Save").clicked() && !typed.is_empty() {
            out.push(Action::SavePreset(PathBuf::from(&typed)));
        }
    });
    ui.data_mut(|d| d.insert_temp(id, typed));
}

fn data_ui(ui: &mut egui::Ui, config: &mut RunConfig, out: &mut Vec<Action>) {
    let current = config.data.clone();
    egui::ComboBox::from_label("data")
        .selected_text(current.label())
        .show_ui(ui, |ui| {
            let options: [DataConfig; 10] = [
                ToyData::default().into(),
                ToyData::Grid {
                    side: 5,
                    spacing: 0.5,
                    std: 0.05,
                }
                .into(),
                ToyData::TwoMoons { noise: 0.05 }.into(),
                ToyData::SwissRoll { noise: 0.03 }.into(),
                ToyData::Checkerboard.into(),
                DataConfig::Image(ImageSource::Digits),
                DataConfig::Image(ImageSource::FashionMnist {
                    split: Split::Train,
                }),
                DataConfig::Image(ImageSource::Idx {
                    dir: PathBuf::new(),
                    split: Split::Train,
                }),
                DataConfig::Image(ImageSource::Cifar10 {
                    dir: PathBuf::new(),
                    split: Split::Train,
                }),
                DataConfig::Image(ImageSource::Folder {
                    dir: PathBuf::new(),
                    size: 32,
                    channels: 3,
                }),
            ];
            for option in options {
                let same = match (&option, &current) {
                    (DataConfig::Toy(a), DataConfig::Toy(b)) => {
                        std::mem::discriminant(a) == std::mem::discriminant(b)
                    }
                    (DataConfig::Image(a), DataConfig::Image(b)) => {
                        std::mem::discriminant(a) == std::mem::discriminant(b)
                    }
                    _ => false,
                };
                if ui.selectable_label(same, source_name(&option)).clicked() && !same {
                    if let Some(source) = option.image() {
                        // Image data needs an image teacher: the shipped one where there is one.
                        config.teacher = TeacherConfig::Network {
                            path: shipped_teacher(source)
                                .map(PathBuf::from)
                                .unwrap_or_default(),
                        };
                    } else if current.image().is_some() {
                        config.teacher = TeacherConfig::Exact;
                    }
                    config.data = option;
                }
            }
        });
    match &mut config.data {
        DataConfig::Toy(ToyData::Ring { modes, radius, std }) => {
            ui.add(egui::Slider::new(modes, 1..=32).text("modes"));
            ui.add(egui::Slider::new(radius, 0.1..=5.0).text("radius"));
            ui.add(
                egui::Slider::new(std, 0.005..=1.0)
                    .logarithmic(true)
                    .text("mode std"),
            );
        }
        DataConfig::Toy(ToyData::Grid { side, spacing, std }) => {
            ui.add(egui::Slider::new(side, 1..=10).text("modes per side"));
            ui.add(egui::Slider::new(spacing, 0.05..=2.0).text("spacing"));
            ui.add(
                egui::Slider::new(std, 0.005..=1.0)
                    .logarithmic(true)
                    .text("mode std"),
            );
        }
        DataConfig::Toy(ToyData::TwoMoons { noise } | ToyData::SwissRoll { noise }) => {
            ui.add(egui::Slider::new(noise, 0.0..=0.3).text("noise"));
        }
        DataConfig::Toy(ToyData::Mixture { components }) => {
            ui.label(format!(
                "custom mixture of {} components (edit the preset)",
                components.len()
            ));
        }
        DataConfig::Toy(ToyData::Checkerboard) => {}
        DataConfig::Image(source) => {
            match source {
                ImageSource::Idx { dir, .. }
                | ImageSource::Cifar10 { dir, .. }
                | ImageSource::Folder { dir, .. } => {
                    ui.horizontal(|ui| {
                        if ui.button("Folder…").clicked() {
                            out.push(Action::ChooseDataFolder);
                        }
                        path_edit(ui, dir, "data folder");
                    });
                }
                ImageSource::Digits | ImageSource::FashionMnist { .. } => {}
            }
            if let ImageSource::Folder { size, channels, .. } = source {
                ui.add(egui::Slider::new(size, 8..=64).text("image size"));
                ui.add(egui::Slider::new(channels, 1..=3).text("channels (1 grey, 3 RGB)"));
            }
            ui.small(
                "θ and ψ are copies of the teacher's U-Net (shape and classes from its file); \
                 FID/IS use the data set's shipped classifier (eval.classifier for others)",
            );
        }
    }
    let exact = config.data.mixture().is_some();
    ui.horizontal(|ui| {
        ui.label("teacher:");
        if exact {
            if ui
                .radio(config.teacher == TeacherConfig::Exact, "exact mixture")
                .clicked()
            {
                config.teacher = TeacherConfig::Exact;
            }
        } else if config.teacher == TeacherConfig::Exact {
            config.teacher = TeacherConfig::Network {
                path: PathBuf::new(),
            };
        }
        if ui
            .radio(
                matches!(config.teacher, TeacherConfig::Network { .. }),
                "network",
            )
            .clicked()
            && config.teacher == TeacherConfig::Exact
        {
            config.teacher = TeacherConfig::Network {
                path: PathBuf::new(),
            };
        }
    });
    if let TeacherConfig::Network { path } = &mut config.teacher {
        ui.horizontal(|ui| {
            if ui.button("File…").clicked() {
                out.push(Action::ChooseTeacher);
            }
            path_edit(
                ui,
                path,
                "teacher file (train-teacher / train-image-teacher)",
            );
        });
    }
}

/// A one-line editor of a path.
fn path_edit(ui: &mut egui::Ui, path: &mut PathBuf, what: &str) {
    let mut text = path.display().to_string();
    ui.add(egui::TextEdit::singleline(&mut text).hint_text("path"))
        .on_hover_text(what);
    *path = PathBuf::from(text);
}

/// The data picker's name of an option (a kind, without its folder).
fn source_name(data: &DataConfig) -> String {
    match data.image() {
        Some(ImageSource::Idx { .. }) => "IDX folder (MNIST format)".into(),
        Some(ImageSource::Cifar10 { .. }) => "CIFAR-10 folder".into(),
        Some(ImageSource::Folder { .. }) => "PNG/JPEG folder".into(),
        _ => data.label(),
    }
}

/// The teacher shipped in `assets/teachers/` for an image data set, if any.
fn shipped_teacher(source: &ImageSource) -> Option<&'static str> {
    match source {
        ImageSource::Digits => Some("assets/teachers/digits-cond.safetensors"),
        ImageSource::FashionMnist { .. } => Some("assets/teachers/fashion-mnist-cond.safetensors"),
        _ => None,
    }
}

/// A σ distribution picker; returns the new value when the user commits a change.
fn sigma_ui(
    ui: &mut egui::Ui,
    label: &str,
    sigma: &mut SigmaDistribution,
) -> Option<SigmaDistribution> {
    let mut committed_change = false;
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
                let same = std::mem::discriminant(&option) == std::mem::discriminant(sigma);
                if ui.selectable_label(same, option.label()).clicked() && !same {
                    *sigma = option;
                    committed_change = true;
                }
            }
        });
    match sigma {
        SigmaDistribution::LogNormal { p_mean, p_std } => {
            ui.horizontal(|ui| {
                let a = ui
                    .add(egui::DragValue::new(p_mean).speed(0.05).range(-8.0..=4.0))
                    .on_hover_text("P_mean");
                let b = ui
                    .add(egui::DragValue::new(p_std).speed(0.05).range(0.0..=5.0))
                    .on_hover_text("P_std");
                ui.label("P_mean, P_std");
                committed_change |= committed(&a) || committed(&b);
            });
        }
        _ => {
            if let Some((m, s)) = sigma.log_normal_params() {
                ui.small(format!("ln σ ~ N({m}, {s}²)"));
            } else {
                ui.small("σ ∈ [0.002, 24.4] (SiD's code)");
            }
        }
    }
    committed_change.then_some(*sigma)
}

/// A learning rate: logarithmic slider plus numeric entry; returns it when committed.
fn lr_ui(ui: &mut egui::Ui, label: &str, lr: &mut f64) -> Option<f64> {
    let slider = ui.add(
        egui::Slider::new(lr, 1e-6..=1e-1)
            .logarithmic(true)
            .text(label),
    );
    let entry = ui
        .add(
            egui::DragValue::new(lr)
                .range(1e-7..=1.0)
                .speed(0.0)
                .custom_formatter(|v, _| format!("{v:.2e}")),
        )
        .on_hover_text(format!("{label}: type a value"));
    (committed(&slider) || committed(&entry)).then_some(*lr)
}

fn restart_section(
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
