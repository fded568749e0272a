//! The shipped image-teacher file: the EMA weights of a trained U-Net in safetensors, with the
//! metadata needed to rebuild it and to say how it was made.

use std::path::Path;

use burn::module::Module;
use burn::prelude::*;

use super::settings::ImageTeacherSettings;
use crate::diffusion::edm::check_sigma_data;
use crate::error::{EngineError, Result};
use crate::nets::unet::{UNetConfig, UNetDenoiser};
use crate::rng::{Stream, rng_for};
use crate::store::tensor_file::TensorFile;

/// `format` metadata of an image-teacher file.
pub const TEACHER_FORMAT: &str = "sim-workbench unet-denoiser v1";

/// What an image-teacher file records besides its weights.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageTeacherInfo {
    /// The U-Net's shape, with image size, channels and classes (metadata `unet`, TOML).
    pub unet: UNetConfig,
    /// EDM's σ_d the network was trained with (metadata `sigma_data`).
    pub sigma_data: f64,
    /// The data set's name (metadata `data_name`).
    pub data_name: String,
    /// Every training setting, data source included (metadata `training`, TOML).
    pub training: ImageTeacherSettings,
    /// Adam steps trained (metadata `steps`).
    pub steps: u64,
    /// Training wall time in seconds, over every resumed session (metadata `wall_time_s`).
    pub wall_time_s: f64,
    /// The command lines that trained it, one per line (metadata `command`).
    pub command: String,
}

/// A trained image teacher: a frozen EDM U-Net denoiser `D_q(x; σ, y)` and its provenance.
#[derive(Debug)]
pub struct ImageTeacher {
    /// The network: parameters without gradients and dropout off ([`Module::freeze`]); inputs
    /// stay differentiable on an autodiff device, as distillation needs.
    pub net: UNetDenoiser,
    /// How it was made.
    pub info: ImageTeacherInfo,
}

/// Writes `net` (the EMA weights) and `info` atomically to `path`. Metadata keys: `format`,
/// `unet`, `sigma_data`, `data_name`, `image_shape` (`C×H×W`), `classes`, `training`,
/// `steps`, `wall_time_s`, `command`.
pub fn save_image_teacher(path: &Path, net: &UNetDenoiser, info: &ImageTeacherInfo) -> Result<()> {
    let mut file = TensorFile::new();
    file.insert_module("", net)?;
    let u = &info.unet;
    let meta = [
        ("format", TEACHER_FORMAT.to_owned()),
        ("unet", toml::to_string(u).unwrap_or_default()),
        ("sigma_data", info.sigma_data.to_string()),
        ("data_name", info.data_name.clone()),
        (
            "image_shape",
            format!("{}×{}×{}", u.image_channels, u.image_size, u.image_size),
        ),
        ("classes", u.classes.to_string()),
        ("training", info.training.to_toml()),
        ("steps", info.steps.to_string()),
        ("wall_time_s", info.wall_time_s.to_string()),
        ("command", info.command.clone()),
    ];
    for (key, value) in meta {
        file.metadata.insert(key.into(), value);
    }
    file.write(path)
}

/// Loads a teacher written by [`save_image_teacher`] onto `device`, frozen. Errors name the
/// file, the metadata field at fault and what to do.
pub fn load_image_teacher(path: &Path, device: &Device) -> Result<ImageTeacher> {
    let file = TensorFile::read(path)?;
    let bad = |key: &str, message: String| EngineError::File {
        path: path.to_owned(),
        message: format!(
            "metadata `{key}`: {message}; the file is damaged or from another version — \
             retrain it with `sim-workbench train-image-teacher`"
        ),
    };
    let format = file.meta("format")?;
    if format != TEACHER_FORMAT {
        return Err(EngineError::File {
            path: path.to_owned(),
            message: format!(
                "is a `{format}` file, not an image teacher (`{TEACHER_FORMAT}`); pass a file \
                 written by `sim-workbench train-image-teacher`"
            ),
        });
    }
    let unet: UNetConfig =
        toml::from_str(file.meta("unet")?).map_err(|e| bad("unet", e.to_string()))?;
    unet.validate().map_err(|e| bad("unet", e.to_string()))?;
    // The shape facts beside `unet` must say what `unet` says.
    let shape = format!(
        "{}×{}×{}",
        unet.image_channels, unet.image_size, unet.image_size
    );
    for (key, expected) in [
        ("classes", unet.classes.to_string()),
        ("image_shape", shape),
    ] {
        let found = file.meta(key)?;
        if found != expected {
            return Err(bad(
                key,
                format!("is {found:?} but `unet` says {expected:?}"),
            ));
        }
    }
    let number = |key: &str| -> Result<f64> {
        file.meta(key)?
            .parse::<f64>()
            .map_err(|e| bad(key, e.to_string()))
    };
    let sigma_data = number("sigma_data")?;
    check_sigma_data("sigma_data", sigma_data).map_err(|e| bad("sigma_data", e.message))?;
    let wall_time_s = number("wall_time_s")?;
    if !(wall_time_s.is_finite() && wall_time_s >= 0.0) {
        return Err(bad("wall_time_s", format!("is {wall_time_s}, must be ≥ 0")));
    }
    let steps: u64 = file
        .meta("steps")?
        .parse()
        .map_err(|e: std::num::ParseIntError| bad("steps", e.to_string()))?;
    let training = ImageTeacherSettings::parse(file.meta("training")?, "teacher file", &[])
        .map_err(|e| bad("training", e.to_string()))?;
    let mut rng = rng_for(0, 0, Stream::Init);
    let blank = UNetDenoiser::new(&unet, sigma_data, &mut rng, device)
        .map_err(|e| bad("unet", e.to_string()))?;
    let net = file.load_module("", blank, device)?.freeze();
    Ok(ImageTeacher {
        net,
        info: ImageTeacherInfo {
            unet,
            sigma_data,
            data_name: file.meta("data_name")?.to_owned(),
            training,
            steps,
            wall_time_s,
            command: file.meta("command")?.to_owned(),
        },
    })
}
