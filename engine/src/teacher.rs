//! The teacher `D_q`: the exact mixture denoiser, or a trained MLP loaded from safetensors.

use std::path::Path;

use burn::module::Module;
use burn::prelude::*;

use crate::config::{NetConfig, TeacherConfig};
use crate::data::toy::{GaussianMixture, ToyData};
use crate::diffusion::denoiser::Denoiser;
use crate::error::{EngineError, Result};
use crate::nets::mlp::MlpDenoiser;
use crate::rng::{Stream, rng_for};
use crate::store::tensor_file::TensorFile;

/// A frozen teacher denoiser.
#[derive(Debug)]
pub enum Teacher {
    /// The exact denoiser of a Gaussian mixture.
    Exact(GaussianMixture),
    /// A trained network (parameters frozen; inputs still differentiable).
    Network(MlpDenoiser),
}

impl Teacher {
    /// Builds the teacher a config asks for.
    pub fn load(config: &TeacherConfig, data: &ToyData, device: &Device) -> Result<Self> {
        match config {
            TeacherConfig::Exact => data.mixture().map(Self::Exact).ok_or_else(|| {
                EngineError::Invalid(format!(
                    "teacher.kind = \"exact\" needs a Gaussian-mixture data set, not {}",
                    data.label()
                ))
            }),
            TeacherConfig::Network { path } => {
                let (net, _, teacher_data) = load_network(path, device)?;
                if &teacher_data != data {
                    return Err(EngineError::File {
                        path: path.clone(),
                        message: format!(
                            "this teacher was trained on {} but the preset's data is {}; \
                             set [data] to match or train a teacher for it",
                            teacher_data.label(),
                            data.label()
                        ),
                    });
                }
                Ok(Self::Network(net.no_grad()))
            }
        }
    }

    /// EDM's σ_d the teacher works with.
    pub fn sigma_data(&self) -> f64 {
        match self {
            Self::Exact(m) => m.sigma_data(),
            Self::Network(n) => n.sigma_data(),
        }
    }
}

impl Denoiser for Teacher {
    fn denoise(&self, x: Tensor<2>, sigma: Tensor<2>) -> Tensor<2> {
        match self {
            Self::Exact(m) => m.denoise(x, sigma),
            Self::Network(n) => n.denoise(x, sigma),
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
    file.metadata
        .insert("format".into(), "sim-workbench mlp-denoiser v1".into());
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
