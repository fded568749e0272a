//! The teacher `D_q`: the exact mixture denoiser, a trained MLP (toy data), or a trained EDM
//! U-Net (image data), loaded from safetensors — and everything that makes teachers:
//!
//! - [`TeacherConfig`] (the `[teacher]` of a preset) and [`Teacher`], the frozen denoiser;
//! - [`mlp_file`]: the MLP teacher file of a toy data set;
//! - [`fit`]: denoising regression of an MLP (toy teachers, and the teacher-shaped start of θ
//!   and ψ of an exact teacher, cached);
//! - [`image`]: EDM U-Net teachers for images (settings, trainer, file, sampling).

pub mod edm_file;
pub mod fit;
pub mod image;
pub mod mlp_file;

use std::path::PathBuf;

use burn::module::Module;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use self::edm_file::{EdmTeacher, load_edm_teacher};
use self::image::file::TEACHER_FORMAT;
use self::image::{ImageTeacher, load_image_teacher};
use self::mlp_file::load_network;
use crate::data::DataConfig;
use crate::data::toy::GaussianMixture;
use crate::diffusion::denoiser::{Denoiser, LabelledDenoiser};
use crate::error::{EngineError, MetricError, Result};
use crate::nets::mlp::MlpDenoiser;
use crate::store::tensor_file::TensorFile;
use sim_formats::validation::ValidationError;

/// Why a teacher's samples hold NaN or ±inf, and what to do
/// ([`finite_samples`](crate::metrics::finite_samples)).
pub const NON_FINITE_SAMPLES: &str = "the teacher's network overflows f32 on its own samples: \
     its weights are damaged or not a trained denoiser's — check the teacher file, or retrain it";

/// Where the teacher denoiser comes from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TeacherConfig {
    /// The exact denoiser of a Gaussian-mixture data set (no network, no error).
    #[default]
    Exact,
    /// A trained network loaded from safetensors: an MLP from `sim-workbench train-teacher`
    /// for toy data, or an EDM U-Net from `sim-workbench train-image-teacher` for image data
    /// (its file records the U-Net's shape and classes: θ and ψ are copies of it, and the run
    /// is class-conditional exactly when the teacher is).
    Network {
        /// Path to the teacher's safetensors file (relative paths: to the working directory).
        path: PathBuf,
    },
    /// A published EDM network (DDPM++, e.g. `edm-cifar10-32x32-cond-vp`) converted once by
    /// `tools/edm_to_safetensors.py` (docs/edm-teachers.md); `[data]` names the images it
    /// models (CIFAR-10), against which its samples are scored.
    Edm {
        /// Path to the converted safetensors file.
        path: PathBuf,
    },
}

impl TeacherConfig {
    /// `e`, as an error of the teacher's file when it says that a network teacher's samples are
    /// not finite ([`MetricError::NonFiniteGenerated`]): the file is then at fault.
    pub fn blame_samples(&self, e: EngineError) -> EngineError {
        match (self, e) {
            (
                Self::Network { path } | Self::Edm { path },
                e @ EngineError::Metric(MetricError::NonFiniteGenerated { .. }),
            ) => EngineError::File {
                path: path.clone(),
                message: e.to_string(),
            },
            (_, e) => e,
        }
    }

    /// Checks that this kind of teacher can model `data`; the key is `teacher.kind`.
    pub fn validate_for(&self, data: &DataConfig) -> Result<(), ValidationError> {
        match (self, data) {
            (Self::Exact, DataConfig::Image(source)) => Err(ValidationError::new(
                "teacher.kind",
                format!(
                    "image data ({}) needs a trained U-Net teacher, not the exact teacher of \
                     the 2-D mixtures: set [teacher] kind = \"network\" and path = \
                     \"{}\" (or a teacher from `sim-workbench train-image-teacher`)",
                    source.label(),
                    crate::assets::DIGITS_TEACHER
                ),
            )),
            (Self::Exact, DataConfig::Toy(toy)) if toy.mixture().is_none() => {
                Err(ValidationError::new(
                    "teacher.kind",
                    "an exact teacher needs a Gaussian-mixture data set (ring, grid, mixture); \
                     train a network teacher for this data with `sim-workbench train-teacher`",
                ))
            }
            (Self::Edm { .. }, DataConfig::Toy(toy)) => Err(ValidationError::new(
                "teacher.kind",
                format!(
                    "an EDM teacher models images, not the 2-D set {}: set [data] to the \
                     images it was trained on (kind = \"cifar10\" and its dir)",
                    toy.label()
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// A frozen teacher denoiser.
#[derive(Debug)]
pub enum Teacher {
    /// The exact denoiser of a Gaussian mixture.
    Exact(GaussianMixture),
    /// A trained MLP (parameters frozen; inputs still differentiable).
    Network(MlpDenoiser),
    /// A trained EDM U-Net for images (frozen, dropout off), with its provenance.
    Image(Box<ImageTeacher>),
    /// A converted published EDM network (frozen).
    Edm(Box<EdmTeacher>),
}

impl Teacher {
    /// Builds the teacher a config asks for, checking that it models the run's `data`. Errors
    /// name the field at fault (`teacher.kind`, `teacher.path`, `data.kind`) and the fix.
    pub fn load(config: &TeacherConfig, data: &DataConfig, device: &Device) -> Result<Self> {
        let path = match config {
            TeacherConfig::Exact => {
                return data.mixture().map(Self::Exact).ok_or_else(|| {
                    EngineError::Invalid(format!(
                        "teacher.kind = \"exact\" needs a Gaussian-mixture data set, not {}",
                        data.label()
                    ))
                });
            }
            TeacherConfig::Network { path } => path,
            TeacherConfig::Edm { path } => {
                return match data {
                    DataConfig::Image(_) => {
                        Ok(Self::Edm(Box::new(load_edm_teacher(path, device)?)))
                    }
                    DataConfig::Toy(toy) => Err(EngineError::Invalid(format!(
                        "teacher.kind = \"edm\" models images, not the 2-D set {}",
                        toy.label()
                    ))),
                };
            }
        };
        let format = TensorFile::read(path)?.meta("format")?.to_owned();
        let mismatch = |message: String| EngineError::File {
            path: path.clone(),
            message,
        };
        match data {
            DataConfig::Toy(toy) => {
                if format == TEACHER_FORMAT {
                    return Err(mismatch(format!(
                        "teacher.path is an image teacher (EDM U-Net), but [data] is the 2-D toy \
                         set {}: set data.kind to the image set it was trained on (e.g. \
                         \"digits\"), or point teacher.path at an MLP teacher from \
                         `sim-workbench train-teacher`",
                        toy.label()
                    )));
                }
                let (net, _, teacher_data) = load_network(path, device)?;
                if &teacher_data != toy {
                    return Err(mismatch(format!(
                        "this teacher was trained on {} but the preset's data is {}; \
                         set [data] to match or train a teacher for it",
                        teacher_data.label(),
                        toy.label()
                    )));
                }
                Ok(Self::Network(net.no_grad()))
            }
            DataConfig::Image(source) => {
                if format != TEACHER_FORMAT {
                    return Err(mismatch(format!(
                        "teacher.path is a `{format}` file, but [data] is the image set {}: \
                         image runs need an EDM U-Net teacher from `sim-workbench \
                         train-image-teacher` (e.g. assets/teachers/digits-cond.safetensors), \
                         or set data.kind to a 2-D toy set for this teacher",
                        source.label()
                    )));
                }
                let teacher = load_image_teacher(path, device)?;
                let trained_on = &teacher.info.training.data;
                if trained_on != source {
                    return Err(mismatch(format!(
                        "this teacher was trained on {} but [data] is {}; set data.kind (and \
                         its fields) to match, or train a teacher for it with \
                         `sim-workbench train-image-teacher`",
                        trained_on.label(),
                        source.label()
                    )));
                }
                Ok(Self::Image(Box::new(teacher)))
            }
        }
    }

    /// EDM's σ_d the teacher works with.
    pub fn sigma_data(&self) -> f64 {
        match self {
            Self::Exact(m) => m.sigma_data(),
            Self::Network(n) => n.sigma_data(),
            Self::Image(t) => t.net.sigma_data(),
            Self::Edm(t) => t.net.config().precond.sigma_data(),
        }
    }
}

impl Denoiser for Teacher {
    /// `D_q(x; σ)`; an image teacher without a class (all-zero class vector).
    fn denoise(&self, x: Tensor<2>, sigma: Tensor<2>) -> Tensor<2> {
        self.denoise_labelled(x, sigma, None)
    }
}

impl LabelledDenoiser for Teacher {
    /// `D_q(x; σ, y)`; the toy teachers are unconditional and never get labels.
    fn denoise_labelled(
        &self,
        x: Tensor<2>,
        sigma: Tensor<2>,
        labels: Option<Tensor<2>>,
    ) -> Tensor<2> {
        match self {
            Self::Exact(m) => m.denoise(x, sigma),
            Self::Network(n) => n.denoise(x, sigma),
            Self::Image(t) => t.net.denoise_labelled(x, sigma, labels),
            Self::Edm(t) => t.net.denoise_labelled(x, sigma, labels),
        }
    }
}
