//! `ImageTeacherSettings`: every setting of an image-teacher training run, as TOML (what a
//! checkpoint records and `--set key=value` overrides reach by dotted path).

use serde::{Deserialize, Serialize};

use crate::data::images::{ImageSet, ImageSource};
use crate::diffusion::edm::check_sigma_data;
use crate::error::{ConfigError, EngineError, Result};
use crate::nets::unet::UNetConfig;
use crate::optim::ema::ema_beta;
use crate::preset::parse_validated;
use sim_formats::limits;
use sim_formats::validation::{ValidationError, positive};

/// How an EDM U-Net teacher is trained on an image data set (EDM's `training_loop.py`
/// settings, scaled down to CPU-sized runs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImageTeacherSettings {
    /// Where the images come from.
    pub data: ImageSource,
    /// Pad images to `pad_to × pad_to` with background (28×28 → 32); 0 keeps their size.
    pub pad_to: usize,
    /// Condition the U-Net on the data set's class labels (one-hot); `false` = unconditional.
    pub conditional: bool,
    /// The U-Net. `image_channels`, `image_size` and `classes` are taken from the data (and
    /// `conditional`) by [`ImageTeacherSettings::resolve_unet`]; the rest is used as written.
    pub unet: UNetConfig,
    /// EDM's σ_d: 0.5 for images scaled to `[-1, 1]` (docs/algorithm.md §1).
    pub sigma_data: f64,
    /// Total Adam steps of the run.
    pub steps: u64,
    /// Images per step.
    pub batch: usize,
    /// Peak learning rate, reached at the end of the warm-up and then held (EDM keeps it
    /// constant after its `lr_rampup`).
    pub lr: f64,
    /// Linear learning-rate warm-up: step `k` uses `lr · min(1, (k + 1) / warmup_steps)`
    /// (EDM's `lr_rampup_kimg`, counted in steps); 0 = none.
    pub warmup_steps: u64,
    /// Adam β₁ (EDM: 0.9).
    pub adam_beta1: f64,
    /// Adam β₂ (EDM: 0.999).
    pub adam_beta2: f64,
    /// EMA half-life in thousands of images (EDM: `ema_halflife_kimg`).
    pub ema_half_life_kimg: f64,
    /// EMA ramp-up: the half-life is at most this fraction of the images seen so far, so the
    /// average forgets the random initialisation early on (EDM: `ema_rampup_ratio` = 0.05);
    /// 0 = no ramp-up.
    pub ema_rampup_ratio: f64,
    /// Random horizontal flips of the training images (off for digits: a mirrored 2 is no 2).
    pub hflip: bool,
    /// Seed of the initialisation and of every batch (step `k` draws from
    /// `rng_for(seed, k, Stream::ImageTeacher)`, so a resumed run is bit-identical).
    pub seed: u64,
}

impl Default for ImageTeacherSettings {
    /// The settings of the shipped digits teachers (`assets/teachers/`), unconditional: a
    /// 16-channel U-Net with levels `[1, 2]` and no attention (174 k parameters), 2,000 steps
    /// of 64 images.
    fn default() -> Self {
        Self {
            data: ImageSource::Digits,
            pad_to: 0,
            conditional: false,
            unet: UNetConfig {
                channels: 16,
                channel_mult: vec![1, 2],
                blocks_per_level: 1,
                attention: false,
                ..UNetConfig::default()
            },
            sigma_data: 0.5,
            steps: 2000,
            batch: 64,
            lr: 2e-3,
            warmup_steps: 200,
            adam_beta1: 0.9,
            adam_beta2: 0.999,
            ema_half_life_kimg: 50.0,
            ema_rampup_ratio: 0.05,
            hflip: false,
            seed: 0,
        }
    }
}

impl ImageTeacherSettings {
    /// The defaults with `key=value` overrides applied (`unet.channels=24`, `lr=1e-3`,
    /// `data.kind=fashion_mnist`), then validated; errors name the key.
    pub fn from_overrides(overrides: &[String]) -> Result<Self, ConfigError> {
        Self::parse(&Self::default().to_toml(), "defaults", overrides)
    }

    /// Parses settings TOML (`origin` names it in errors), applies overrides, validates.
    pub fn parse(text: &str, origin: &str, overrides: &[String]) -> Result<Self, ConfigError> {
        parse_validated(text, origin, overrides, Self::validate)
    }

    /// The settings as TOML (what checkpoints and teacher files record).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# unserialisable settings: {e}\n"))
    }

    /// Checks ranges; the error names the key and says what would be valid.
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_sigma_data("sigma_data", self.sigma_data)?;
        positive("lr", self.lr, "a learning rate such as 2e-3")?;
        positive("ema_half_life_kimg", self.ema_half_life_kimg, "e.g. 50")?;
        for (key, beta) in [
            ("adam_beta1", self.adam_beta1),
            ("adam_beta2", self.adam_beta2),
        ] {
            if !(0.0..1.0).contains(&beta) {
                return Err(ValidationError::new(
                    key,
                    format!("must be in [0, 1), got {beta}"),
                ));
            }
        }
        if !(self.ema_rampup_ratio.is_finite() && self.ema_rampup_ratio >= 0.0) {
            return Err(ValidationError::new(
                "ema_rampup_ratio",
                format!(
                    "must be ≥ 0 (0.05 as in EDM, 0 = none), got {}",
                    self.ema_rampup_ratio
                ),
            ));
        }
        limits::batch("batch", self.batch)?;
        // The data-dependent fields are filled in later; check the rest with valid stand-ins.
        let unet = UNetConfig {
            image_channels: 1,
            image_size: 1 << (self.unet.levels().clamp(1, 16) - 1),
            classes: 0,
            ..self.unet.clone()
        };
        unet.validate().map_err(|e| e.within("unet"))?;
        if self.unet.dropout > 0.0 {
            return Err(ValidationError::new(
                "unet.dropout",
                "must be 0: dropout masks come from the backend's generator, not the run seed, \
                 so a run with dropout could not be resumed bit for bit",
            ));
        }
        Ok(())
    }

    /// Loads the images and pads them to `pad_to`.
    pub fn load_data(&self) -> Result<ImageSet> {
        let set = self
            .data
            .load()
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        if self.pad_to == 0 {
            return Ok(set);
        }
        set.pad_to(self.pad_to)
            .map_err(|e| EngineError::Invalid(e.to_string()))
    }

    /// The U-Net for `set`: `unet` with the image channels and size of the data and, when
    /// `conditional`, its number of classes.
    pub fn resolve_unet(&self, set: &ImageSet) -> Result<UNetConfig> {
        if set.height != set.width {
            return Err(EngineError::Invalid(format!(
                "{}: images are {}×{}; the U-Net needs square images — set `pad_to` to {}",
                set.name,
                set.height,
                set.width,
                set.height.max(set.width)
            )));
        }
        if set.is_empty() {
            return Err(EngineError::Invalid(format!("{}: no images", set.name)));
        }
        if self.conditional && set.classes == 0 {
            return Err(EngineError::Invalid(format!(
                "{}: `conditional = true` needs class labels, and this data set has none; \
                 train unconditionally",
                set.name
            )));
        }
        let unet = UNetConfig {
            image_channels: set.channels,
            image_size: set.height,
            classes: if self.conditional { set.classes } else { 0 },
            ..self.unet.clone()
        };
        unet.validate()
            .map_err(|m| EngineError::Invalid(format!("unet for {}: {m}", set.name)))?;
        Ok(unet)
    }

    /// Learning rate of step `step` (0-based): linear warm-up, then constant.
    pub fn lr_at(&self, step: u64) -> f64 {
        if self.warmup_steps == 0 {
            return self.lr;
        }
        self.lr * ((step + 1) as f64 / self.warmup_steps as f64).min(1.0)
    }

    /// EMA decay after `steps_done` steps (EDM's `training_loop.py`): half-life
    /// `h = min(1000 · ema_half_life_kimg, ema_rampup_ratio · images seen)` images, and
    /// `β = 0.5^(batch / h)`.
    pub fn ema_beta_at(&self, steps_done: u64) -> f64 {
        let mut kimg = self.ema_half_life_kimg;
        if self.ema_rampup_ratio > 0.0 {
            let seen = (steps_done as f64) * self.batch as f64;
            kimg = kimg.min(self.ema_rampup_ratio * seen / 1000.0);
        }
        if kimg <= 0.0 {
            return 0.0;
        }
        ema_beta(self.batch, kimg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_and_overrides_name_keys() {
        let d = ImageTeacherSettings::default();
        assert_eq!(d.validate(), Ok(()));
        let back = ImageTeacherSettings::parse(&d.to_toml(), "t", &[]).expect("parses");
        assert_eq!(back, d);
        let s = ImageTeacherSettings::from_overrides(&[
            "unet.channels=24".into(),
            "unet.attention=true".into(),
            "conditional=true".into(),
            "data.kind=fashion_mnist".into(),
            "pad_to=32".into(),
        ])
        .expect("overrides apply");
        assert_eq!(
            (s.unet.channels, s.unet.attention, s.conditional),
            (24, true, true)
        );
        assert_eq!(
            s.data,
            ImageSource::FashionMnist {
                split: crate::data::images::Split::Train
            }
        );
        let err = ImageTeacherSettings::from_overrides(&["unet.chanels=3".into()])
            .expect_err("typo")
            .to_string();
        assert!(err.contains("unet") && err.contains("chanels"), "{err}");
        let err = ImageTeacherSettings::from_overrides(&["lr=-1".into()])
            .expect_err("negative")
            .to_string();
        assert!(err.contains("`lr`"), "{err}");
        let err = ImageTeacherSettings::from_overrides(&["unet.dropout=0.1".into()])
            .expect_err("dropout")
            .to_string();
        assert!(err.contains("unet.dropout"), "{err}");
    }

    #[test]
    fn warm_up_and_ema_ramp() {
        let s = ImageTeacherSettings {
            lr: 1.0,
            warmup_steps: 4,
            batch: 100,
            ema_half_life_kimg: 1.0,
            ema_rampup_ratio: 0.5,
            ..ImageTeacherSettings::default()
        };
        let lrs: Vec<f64> = (0..6).map(|k| s.lr_at(k)).collect();
        assert_eq!(lrs, [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]);
        // After 4 steps, 400 images seen: half-life min(1000, 0.5·400 = 200) images.
        assert!((s.ema_beta_at(4) - 0.5f64.powf(100.0 / 200.0)).abs() < 1e-12);
        // After 100 steps the cap of 1000 images applies.
        assert!((s.ema_beta_at(100) - 0.5f64.powf(0.1)).abs() < 1e-12);
        assert_eq!(
            s.ema_beta_at(0),
            0.0,
            "the first average is the network itself"
        );
    }
}
