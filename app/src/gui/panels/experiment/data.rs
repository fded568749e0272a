//! The data set and the teacher: toy sets with their parameters, image sets (shipped, IDX,
//! CIFAR-10, PNG/JPEG folders), and the exact or network teacher. Image data picks its
//! shipped teacher where there is one.

use std::path::PathBuf;

use eframe::egui;
use sim_engine::config::RunConfig;
use sim_engine::data::DataConfig;
use sim_engine::data::images::{ImageSource, Split};
use sim_engine::data::toy::ToyData;
use sim_engine::teacher::TeacherConfig;

use super::widgets::{path_edit, setting};
use super::{about, canvas};
use crate::gui::action::Action;

/// Edits the data and teacher of `config` (the panel's copy of the draft).
pub(super) fn ui(ui: &mut egui::Ui, config: &mut RunConfig, out: &mut Vec<Action>) {
    data_picker(ui, config);
    data_settings(ui, config, out);
    teacher_picker(ui, config);
    teacher_file(ui, config, out);
}

/// The data picker: the toy sets, a drawn target and the image sets. Image data brings its
/// shipped teacher where there is one; leaving image data brings back the exact teacher.
fn data_picker(ui: &mut egui::Ui, config: &mut RunConfig) {
    let current = config.data.clone();
    egui::ComboBox::from_label("data")
        .selected_text(current.label())
        .show_ui(ui, |ui| {
            for option in data_options(&current) {
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
                            path: source
                                .shipped_teacher()
                                .map(PathBuf::from)
                                .unwrap_or_default(),
                        };
                    } else if current.image().is_some() {
                        config.teacher = TeacherConfig::Exact;
                    }
                    config.data = option;
                }
            }
        })
        .response
        .on_hover_text(about::DATA);
}

/// What the data picker offers; the drawn target keeps what `current` has drawn.
fn data_options(current: &DataConfig) -> [DataConfig; 11] {
    [
        ToyData::default().into(),
        canvas::drawn_from(current),
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
    ]
}

/// The chosen data's own settings: a toy set's shape, the drawing canvas, an image folder and
/// its image size, what an image run's θ, ψ and scores come from.
fn data_settings(ui: &mut egui::Ui, config: &mut RunConfig, out: &mut Vec<Action>) {
    match &mut config.data {
        DataConfig::Toy(ToyData::Ring { modes, radius, std }) => {
            ui.add(setting(modes, 1..=32).text("modes"));
            ui.add(setting(radius, 0.1..=5.0).text("radius"));
            ui.add(setting(std, 0.005..=1.0).logarithmic(true).text("mode std"));
        }
        DataConfig::Toy(ToyData::Grid { side, spacing, std }) => {
            ui.add(setting(side, 1..=10).text("modes per side"));
            ui.add(setting(spacing, 0.05..=2.0).text("spacing"));
            ui.add(setting(std, 0.005..=1.0).logarithmic(true).text("mode std"));
        }
        DataConfig::Toy(ToyData::TwoMoons { noise } | ToyData::SwissRoll { noise }) => {
            ui.add(setting(noise, 0.0..=0.3).text("noise"));
        }
        DataConfig::Toy(ToyData::Mixture { components }) => canvas::ui(ui, components),
        DataConfig::Toy(ToyData::Checkerboard) => {}
        DataConfig::Image(source) => {
            image_source_settings(ui, source, out);
            ui.small(match config.teacher {
                TeacherConfig::Edm { .. } => {
                    "θ and ψ are copies of the converted EDM network; FID/IS use \
                     eval.classifier (the FID Inception-v3 for CIFAR-10)"
                }
                _ => {
                    "θ and ψ are copies of the teacher's U-Net (shape and classes from its \
                     file); FID/IS use the data set's shipped classifier (eval.classifier for \
                     others)"
                }
            });
        }
    }
}

/// An image source's folder (typed, or chosen in a dialog) and a PNG/JPEG folder's image size
/// and channels.
fn image_source_settings(ui: &mut egui::Ui, source: &mut ImageSource, out: &mut Vec<Action>) {
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
        ui.add(setting(size, 8..=64).text("image size"));
        ui.add(setting(channels, 1..=3).text("channels (1 grey, 3 RGB)"));
    }
}

/// The teacher: the exact mixture (toy mixtures only), a network file, or a converted EDM
/// network (image data only).
fn teacher_picker(ui: &mut egui::Ui, config: &mut RunConfig) {
    // A drawn target is a mixture even while it is empty (cleared, to be drawn again).
    let exact = config.data.mixture().is_some()
        || matches!(config.data, DataConfig::Toy(ToyData::Mixture { .. }));
    ui.horizontal(|ui| {
        ui.label("teacher:");
        if exact {
            if ui
                .radio(config.teacher == TeacherConfig::Exact, "exact mixture")
                .on_hover_text(about::TEACHER)
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
            .on_hover_text(about::TEACHER)
            .clicked()
            && !matches!(config.teacher, TeacherConfig::Network { .. })
        {
            config.teacher = TeacherConfig::Network {
                path: PathBuf::new(),
            };
        }
        if config.data.image().is_some()
            && ui
                .radio(
                    matches!(config.teacher, TeacherConfig::Edm { .. }),
                    "EDM (converted)",
                )
                .on_hover_text(about::EDM_TEACHER)
                .clicked()
            && !matches!(config.teacher, TeacherConfig::Edm { .. })
        {
            config.teacher = TeacherConfig::Edm {
                path: PathBuf::new(),
            };
        }
    });
}

/// The teacher's file (typed, or chosen in a dialog), unless the teacher is exact.
fn teacher_file(ui: &mut egui::Ui, config: &mut RunConfig, out: &mut Vec<Action>) {
    let (path, hint) = match &mut config.teacher {
        TeacherConfig::Network { path } => {
            (path, "teacher file (train-teacher / train-image-teacher)")
        }
        TeacherConfig::Edm { path } => {
            (path, "converted EDM network (tools/edm_to_safetensors.py)")
        }
        TeacherConfig::Exact => return,
    };
    ui.horizontal(|ui| {
        if ui.button("File…").clicked() {
            out.push(Action::ChooseTeacher);
        }
        path_edit(ui, path, hint);
    });
}

/// The data picker's name of an option (a kind, without its folder).
fn source_name(data: &DataConfig) -> String {
    match data.image() {
        Some(ImageSource::Idx { .. }) => "IDX folder (MNIST format)".into(),
        Some(ImageSource::Cifar10 { .. }) => "CIFAR-10 folder".into(),
        Some(ImageSource::Folder { .. }) => "PNG/JPEG folder".into(),
        None if matches!(data, DataConfig::Toy(ToyData::Mixture { .. })) => {
            "draw your own (mixture)".into()
        }
        _ => data.label(),
    }
}
