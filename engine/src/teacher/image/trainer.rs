//! `ImageTrainer`: the state of an image-teacher training run (U-Net, its EMA, Adam, step) and
//! its checkpoints, from which a run continues bit for bit.

use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::prelude::*;

use super::batch::TrainingBatch;
use super::file::{ImageTeacherInfo, save_image_teacher};
use super::settings::ImageTeacherSettings;
use crate::data::images::ImageSet;
use crate::error::{EngineError, Result};
use crate::nets::unet::{UNetConfig, UNetDenoiser};
use crate::optim::adam::Adam;
use crate::optim::ema::ema_update;
use crate::optim::params::sanitize_grads;
use crate::rng::{Stream, rng_for};
use crate::store::tensor_file::TensorFile;
use sim_formats::validation::ValidationError;

/// `format` metadata of a training checkpoint.
pub const CHECKPOINT_FORMAT: &str = "sim-workbench image-teacher checkpoint v1";

/// What one training step did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepReport {
    /// Steps done, this one included.
    pub step: u64,
    /// The EDM loss of the batch before the update (batch mean of `λ(σ)‖D − x_0‖²`, summed over
    /// pixels); divide by the image's `C·H·W` for a per-pixel value (1 at initialisation when
    /// the data has second moment σ_d²).
    pub loss: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Global L2 norm of the gradient, after non-finite entries were zeroed.
    pub grad_norm: f64,
    /// Gradient entries that were NaN or ±Inf (zeroed, EDM's `nan_to_num`).
    pub nonfinite_grads: u64,
}

/// An image-teacher training run: EDM denoising loss with σ ~ p_EDM and weight λ(σ) (Karras
/// et al. 2022, Table 1 and eq. 2), Adam keyed by parameter path with a linear learning-rate
/// warm-up, and an EMA of the weights with EDM's half-life ramp-up.
#[derive(Debug)]
pub struct ImageTrainer {
    settings: ImageTeacherSettings,
    unet: UNetConfig,
    data: ImageSet,
    net: UNetDenoiser,
    ema: UNetDenoiser,
    adam: Adam,
    step: u64,
    device: Device,
    command: String,
    wall_before_s: f64,
    started: Instant,
}

impl ImageTrainer {
    /// A fresh run on `data` (as returned by [`ImageTeacherSettings::load_data`]): the U-Net
    /// initialised from `rng_for(seed, 0, Stream::Init)`, its EMA a copy of it. `device` must
    /// be an autodiff device. `command` is recorded in checkpoints and the teacher file.
    pub fn new(
        settings: ImageTeacherSettings,
        data: ImageSet,
        device: &Device,
        command: &str,
    ) -> Result<Self> {
        settings
            .validate()
            .map_err(|e| EngineError::Invalid(format!("image teacher settings: {e}")))?;
        let unet = settings.resolve_unet(&data)?;
        let mut rng = rng_for(settings.seed, 0, Stream::Init);
        let net = UNetDenoiser::new(&unet, settings.sigma_data, &mut rng, device)?;
        let ema = net.valid();
        let adam = Adam::new(settings.adam_beta1, settings.adam_beta2);
        Ok(Self {
            settings,
            unet,
            data,
            net,
            ema,
            adam,
            step: 0,
            device: device.clone(),
            command: command.to_owned(),
            wall_before_s: 0.0,
            started: Instant::now(),
        })
    }

    /// Continues the run saved at `path` by [`ImageTrainer::save_checkpoint`], on `data`, which
    /// must be the images it was trained on (checked by count and a hash of pixels and labels).
    /// The settings are the checkpoint's; `command` is appended to its recorded commands.
    pub fn resume(path: &Path, data: ImageSet, device: &Device, command: &str) -> Result<Self> {
        let file = TensorFile::read(path)?;
        let settings = settings_of(&file, path)?;
        let bad = |key: &str, message: String| EngineError::File {
            path: path.to_owned(),
            message: format!("metadata `{key}`: {message}"),
        };
        let fingerprint = data_fingerprint(&data);
        if file.meta("data_fingerprint")? != fingerprint {
            return Err(EngineError::File {
                path: path.to_owned(),
                message: format!(
                    "was trained on other images than {} ({} images, fingerprint {fingerprint} \
                     vs {}); resume with the data it was trained on",
                    data.name,
                    data.len(),
                    file.meta("data_fingerprint")?
                ),
            });
        }
        let parse_num = |key: &str| -> Result<f64> {
            file.meta(key)?
                .parse::<f64>()
                .map_err(|e| bad(key, e.to_string()))
        };
        let step: u64 = file
            .meta("step")?
            .parse()
            .map_err(|e: std::num::ParseIntError| bad("step", e.to_string()))?;
        let wall_before_s = parse_num("wall_time_s")?;
        if !(wall_before_s.is_finite() && wall_before_s >= 0.0) {
            return Err(bad(
                "wall_time_s",
                format!("is {wall_before_s}; must be a finite number of seconds ≥ 0"),
            ));
        }
        let mut trainer = Self::new(settings, data, device, file.meta("command")?)?;
        trainer.net = file.load_module("net.", trainer.net, device)?;
        trainer.ema = file.load_module("ema.", trainer.ema, &device.clone().inner())?;
        file.load_adam("adam.", &mut trainer.adam, &trainer.net, device)?;
        trainer.step = step;
        trainer.wall_before_s = wall_before_s;
        trainer.command = format!("{}\n{command}", trainer.command);
        Ok(trainer)
    }

    /// The settings recorded in a checkpoint (to load its data before
    /// [`ImageTrainer::resume`]).
    pub fn checkpoint_settings(path: &Path) -> Result<ImageTeacherSettings> {
        settings_of(&TensorFile::read(path)?, path)
    }

    /// One Adam step on the batch of the current step, then the EMA update.
    pub fn step(&mut self) -> StepReport {
        let classes = self.unet.classes;
        let batch = TrainingBatch::draw(&self.data, &self.settings, classes, self.step);
        let loss = batch.loss(&self.net, &self.device);
        let value = f64::from(loss.clone().into_scalar::<f32>());
        let mut grads = GradientsParams::from_grads(loss.backward(), &self.net);
        let (nonfinite_grads, grad_norm) = sanitize_grads(&self.net, &mut grads);
        let lr = self.settings.lr_at(self.step);
        self.net = self.adam.step(self.net.clone(), &grads, lr);
        self.step += 1;
        let beta = self.settings.ema_beta_at(self.step);
        self.ema = ema_update(self.ema.clone(), &self.net, beta);
        StepReport {
            step: self.step,
            loss: value,
            lr,
            grad_norm,
            nonfinite_grads,
        }
    }

    /// Steps done.
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// The settings (from the checkpoint when resumed).
    pub fn settings(&self) -> &ImageTeacherSettings {
        &self.settings
    }

    /// Changes the planned total of steps (a resumed run may be extended); recorded in
    /// checkpoints and the teacher file, without effect on the steps themselves. Refused when
    /// it is 0 or fewer than the steps already done.
    pub fn set_total_steps(&mut self, steps: u64) -> Result<(), ValidationError> {
        if steps == 0 || steps < self.step {
            return Err(ValidationError::new(
                "steps",
                format!(
                    "is {steps}, but at least {} is needed ({} steps are already done)",
                    self.step.max(1),
                    self.step
                ),
            ));
        }
        self.settings.steps = steps;
        Ok(())
    }

    /// The U-Net's shape, with the data's image size, channels and classes filled in.
    pub fn unet_config(&self) -> &UNetConfig {
        &self.unet
    }

    /// Parameters of the U-Net.
    pub fn parameter_count(&self) -> usize {
        self.net.num_params()
    }

    /// The network being trained.
    pub fn net(&self) -> &UNetDenoiser {
        &self.net
    }

    /// The EMA of the network (no autodiff): what is shipped and sampled.
    pub fn ema(&self) -> &UNetDenoiser {
        &self.ema
    }

    /// The training images.
    pub fn data(&self) -> &ImageSet {
        &self.data
    }

    /// Seconds of training so far, over every resumed session.
    pub fn wall_time_s(&self) -> f64 {
        self.wall_before_s + self.started.elapsed().as_secs_f64()
    }

    /// Writes the whole state atomically: network (`net.`), EMA (`ema.`), Adam moments
    /// (`adam.m.`, `adam.v.`), and as metadata the step, settings, data fingerprint, wall time
    /// and commands.
    pub fn save_checkpoint(&self, path: &Path) -> Result<()> {
        let mut file = TensorFile::new();
        file.insert_module("net.", &self.net)?;
        file.insert_module("ema.", &self.ema)?;
        file.insert_adam("adam.", &self.adam)?;
        let meta = [
            ("format", CHECKPOINT_FORMAT.to_owned()),
            ("settings", self.settings.to_toml()),
            ("step", self.step.to_string()),
            ("data_fingerprint", data_fingerprint(&self.data)),
            ("wall_time_s", self.wall_time_s().to_string()),
            ("command", self.command.clone()),
        ];
        for (key, value) in meta {
            file.metadata.insert(key.into(), value);
        }
        file.write(path)
    }

    /// Writes the teacher file: the EMA weights and [`ImageTeacherInfo`] (see
    /// [`save_image_teacher`]). Returns the recorded info.
    pub fn save_teacher(&self, path: &Path) -> Result<ImageTeacherInfo> {
        let info = ImageTeacherInfo {
            unet: self.unet.clone(),
            sigma_data: self.settings.sigma_data,
            data_name: self.data.name.clone(),
            training: self.settings.clone(),
            steps: self.step,
            wall_time_s: self.wall_time_s(),
            command: self.command.clone(),
        };
        save_image_teacher(path, &self.ema, &info)?;
        Ok(info)
    }
}

/// Checks that `file` (read from `path`) is a checkpoint and returns its settings.
fn settings_of(file: &TensorFile, path: &Path) -> Result<ImageTeacherSettings> {
    let format = file.meta("format")?;
    if format != CHECKPOINT_FORMAT {
        return Err(EngineError::File {
            path: path.to_owned(),
            message: format!(
                "is a `{format}` file, not an image-teacher checkpoint (`{CHECKPOINT_FORMAT}`); \
                 pass the checkpoint `train-image-teacher` wrote (`--checkpoint`)"
            ),
        });
    }
    ImageTeacherSettings::parse(file.meta("settings")?, "checkpoint", &[]).map_err(|e| {
        EngineError::File {
            path: path.to_owned(),
            message: format!("metadata `settings`: {e}"),
        }
    })
}

/// `<count>:<FNV-1a of pixels and labels>`: identifies a data set for resuming.
fn data_fingerprint(set: &ImageSet) -> String {
    let bytes: &[u8] = bytemuck::cast_slice(&set.pixels);
    let hash = crate::store::fnv1a(bytes) ^ crate::store::fnv1a(&set.labels).rotate_left(1);
    format!("{}:{hash:016x}", set.len())
}
