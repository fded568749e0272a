//! The teacher `D_q`: the exact mixture denoiser, a trained MLP (toy data), or a trained EDM
//! U-Net (image data), loaded from safetensors.

use std::path::Path;

use burn::module::Module;
use burn::prelude::*;

use crate::config::{NetConfig, TeacherConfig};
use crate::data::DataConfig;
use crate::data::toy::{GaussianMixture, ToyData};
use crate::diffusion::denoiser::{Denoiser, LabelledDenoiser};
use crate::error::{EngineError, Result};
use crate::image_teacher::file::TEACHER_FORMAT;
use crate::image_teacher::{ImageTeacher, load_image_teacher};
use crate::nets::mlp::MlpDenoiser;
use crate::rng::{Stream, rng_for};
use crate::store::tensor_file::TensorFile;

/// `format` metadata of an MLP teacher file.
pub const MLP_FORMAT: &str = "sim-workbench mlp-denoiser v1";

/// A frozen teacher denoiser.
#[derive(Debug)]
pub enum Teacher {
    /// The exact denoiser of a Gaussian mixture.
    Exact(GaussianMixture),
    /// A trained MLP (parameters frozen; inputs still differentiable).
    Network(MlpDenoiser),
    /// A trained EDM U-Net for images (frozen, dropout off), with its provenance.
    Image(Box<ImageTeacher>),
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
        }
    }
}

/// Saves a trained MLP with what is needed to rebuild it (net settings, data, σ_d).
pub fn save_network(
    path: &Path,
    net: &MlpDenoiser,
    config: &NetConfig,
    data: &ToyData,
) -> Result<()> {
    let mut file = TensorFile::new();
    file.insert_module("", net)?;
    file.metadata.insert("format".into(), MLP_FORMAT.into());
    file.metadata.insert("net".into(), to_toml(config));
    file.metadata.insert("data".into(), to_toml(data));
    file.metadata
        .insert("sigma_data".into(), net.sigma_data().to_string());
    file.write(path)
}

/// Loads an MLP saved by [`save_network`]: the network, its settings and its data set.
pub fn load_network(path: &Path, device: &Device) -> Result<(MlpDenoiser, NetConfig, ToyData)> {
    let file = TensorFile::read(path)?;
    let bad = |key: &str, e: String| EngineError::File {
        path: path.to_owned(),
        message: format!("metadata `{key}`: {e}"),
    };
    let config: NetConfig =
        toml::from_str(file.meta("net")?).map_err(|e| bad("net", e.to_string()))?;
    let data: ToyData =
        toml::from_str(file.meta("data")?).map_err(|e| bad("data", e.to_string()))?;
    let sigma_data: f64 = file
        .meta("sigma_data")?
        .parse()
        .map_err(|e: std::num::ParseFloatError| bad("sigma_data", e.to_string()))?;
    let mut rng = rng_for(0, 0, Stream::Other(0));
    let net = MlpDenoiser::new(&config, data.dim(), sigma_data, &mut rng, device);
    let net = file.load_module("", net, device)?;
    Ok((net, config, data))
}

fn to_toml<T: serde::Serialize>(value: &T) -> String {
    toml::to_string(value).unwrap_or_default()
}
