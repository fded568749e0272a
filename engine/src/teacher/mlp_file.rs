//! The MLP teacher file of a toy data set: the network's safetensors with what rebuilds it
//! (net settings, data set, σ_d), written by `sim-workbench train-teacher` and by the cache of
//! teacher-shaped fits.

use std::path::Path;

use burn::prelude::*;
use serde::Serialize;

use crate::data::toy::ToyData;
use crate::diffusion::edm::check_sigma_data;
use crate::error::{EngineError, Result};
use crate::nets::mlp::{MlpConfig, MlpDenoiser};
use crate::rng::{Stream, rng_for};
use crate::store::tensor_file::TensorFile;

/// `format` metadata of an MLP teacher file.
pub const MLP_FORMAT: &str = "sim-workbench mlp-denoiser v1";

/// Saves a trained MLP with what is needed to rebuild it (net settings, data, σ_d).
pub fn save_network(
    path: &Path,
    net: &MlpDenoiser,
    config: &MlpConfig,
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

/// Loads an MLP saved by [`save_network`]: the network, its settings and its data set. Every
/// metadata field is checked (the net settings against the [`limits`](sim_formats::limits), the data
/// set as a preset's, σ_d against [`SIGMA_DATA_RANGE`](crate::diffusion::edm::SIGMA_DATA_RANGE))
/// before the network is built; errors name the file and the field.
pub fn load_network(path: &Path, device: &Device) -> Result<(MlpDenoiser, MlpConfig, ToyData)> {
    let file = TensorFile::read(path)?;
    let bad = |key: &str, e: String| EngineError::File {
        path: path.to_owned(),
        message: format!(
            "metadata `{key}`: {e}; the file is damaged or was not written by `sim-workbench \
             train-teacher` — train the teacher again"
        ),
    };
    let config: MlpConfig =
        toml::from_str(file.meta("net")?).map_err(|e| bad("net", e.to_string()))?;
    config.validate().map_err(|e| bad("net", e.to_string()))?;
    let data: ToyData =
        toml::from_str(file.meta("data")?).map_err(|e| bad("data", e.to_string()))?;
    data.validate().map_err(|e| bad("data", e.to_string()))?;
    let sigma_data: f64 = file
        .meta("sigma_data")?
        .parse()
        .map_err(|e: std::num::ParseFloatError| bad("sigma_data", e.to_string()))?;
    check_sigma_data("sigma_data", sigma_data).map_err(|e| bad("sigma_data", e.message))?;
    let mut rng = rng_for(0, 0, Stream::Other(0));
    let net = MlpDenoiser::new(&config, data.dim(), sigma_data, &mut rng, device);
    let net = file.load_module("", net, device)?;
    Ok((net, config, data))
}

fn to_toml<T: Serialize>(value: &T) -> String {
    toml::to_string(value).unwrap_or_default()
}
