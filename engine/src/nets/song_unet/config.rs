//! `SongUNetConfig`: the shape of EDM's DDPM++ U-Net and its preconditioning, as a converted
//! teacher file records them (docs/edm-teachers.md).

use serde::{Deserialize, Serialize};

use crate::diffusion::edm::check_sigma_data;
use sim_formats::limits;
use sim_formats::validation::ValidationError;

/// How the raw network `F` is wrapped into a denoiser `D(x; σ) = c_skip x + c_out F(c_in x;
/// c_noise)` (Karras et al. 2022, Table 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Preconditioning {
    /// EDM's own (`EDMPrecond`): the `edm-cifar10-32x32-*` teachers.
    Edm {
        /// σ_d, 0.5 for images in [−1, 1].
        sigma_data: f64,
    },
    /// The variance-preserving one (`VPPrecond`, Song et al. 2021): the DDPM++ `baseline-*`
    /// networks. `c_noise = (M − 1) σ⁻¹(σ)` with the VP schedule's inverse.
    Vp {
        /// β_d, the extent of the schedule (19.9).
        beta_d: f64,
        /// β_min, its initial slope (0.1).
        beta_min: f64,
        /// M, DDPM's original number of time steps (1000).
        m: f64,
    },
}

impl Preconditioning {
    /// "edm" or "vp": the file's `precond` metadata.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Edm { .. } => "edm",
            Self::Vp { .. } => "vp",
        }
    }

    /// The σ_d the distillation's losses weight with: the EDM one, or 0.5 for VP networks
    /// (images in [−1, 1]; VP's own c_skip = 1 has no σ_d).
    pub fn sigma_data(&self) -> f64 {
        match self {
            Self::Edm { sigma_data } => *sigma_data,
            Self::Vp { .. } => 0.5,
        }
    }
}

/// EDM's `SongUNet` in its DDPM++ configuration (positional noise embedding, standard encoder
/// and decoder, resampling filter `[1, 1]`), with its preconditioning. The field names are
/// those of EDM's constructor arguments; `edm-cifar10-32x32-{uncond,cond}-vp` is
/// [`SongUNetConfig::cifar10`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SongUNetConfig {
    /// Image height and width.
    pub img_resolution: usize,
    /// Colour channels in and out.
    pub img_channels: usize,
    /// Classes of the one-hot labels; 0 = unconditional.
    pub label_dim: usize,
    /// Width of the augmentation labels the network was trained with (9 for CIFAR-10); their
    /// layer is loaded but not used: sampling passes none, as EDM's does.
    pub augment_dim: usize,
    /// Base channel count (128).
    pub model_channels: usize,
    /// Channels per resolution level, as multiples of `model_channels` (`[2, 2, 2]`).
    pub channel_mult: Vec<usize>,
    /// Width of the conditioning embedding, as a multiple of `model_channels` (4).
    pub channel_mult_emb: usize,
    /// Residual blocks per level in the encoder (the decoder has one more) (4).
    pub num_blocks: usize,
    /// Resolutions with self-attention (`[16]`).
    pub attn_resolutions: Vec<usize>,
    /// Dropout inside the blocks while ψ or θ trains (0.13 for CIFAR-10; a teacher is frozen).
    pub dropout: f64,
    /// How `F` becomes a denoiser.
    pub precond: Preconditioning,
}

impl SongUNetConfig {
    /// The published CIFAR-10 teachers' shape (EDM `train.py --arch=ddpmpp`, augmentation on),
    /// conditional on the 10 classes or not.
    pub fn cifar10(conditional: bool) -> Self {
        Self {
            img_resolution: 32,
            img_channels: 3,
            label_dim: if conditional { 10 } else { 0 },
            augment_dim: 9,
            model_channels: 128,
            channel_mult: vec![2, 2, 2],
            channel_mult_emb: 4,
            num_blocks: 4,
            attn_resolutions: vec![16],
            dropout: 0.13,
            precond: Preconditioning::Edm { sigma_data: 0.5 },
        }
    }

    /// Values per image, `C·H·W`.
    pub fn dim(&self) -> usize {
        self.img_channels * self.img_resolution * self.img_resolution
    }

    /// Width of the conditioning embedding.
    pub fn emb_channels(&self) -> usize {
        self.model_channels * self.channel_mult_emb
    }

    /// Checks ranges and that each level's group normalisation divides its channels (the
    /// decoder's concatenations are checked as the network is built); the message names the
    /// field.
    pub fn validate(&self) -> Result<(), ValidationError> {
        for (name, value) in [
            ("img_resolution", self.img_resolution),
            ("img_channels", self.img_channels),
            ("model_channels", self.model_channels),
            ("channel_mult_emb", self.channel_mult_emb),
            ("num_blocks", self.num_blocks),
        ] {
            if value == 0 {
                return Err(ValidationError::new(name, "must be at least 1"));
            }
        }
        limits::at_most(
            "img_resolution",
            self.img_resolution,
            limits::MAX_IMAGE_SIDE,
        )?;
        limits::at_most("img_channels", self.img_channels, limits::MAX_WIDTH)?;
        limits::at_most("label_dim", self.label_dim, limits::MAX_CLASSES)?;
        limits::at_most("augment_dim", self.augment_dim, limits::MAX_WIDTH)?;
        limits::at_most("num_blocks", self.num_blocks, 1024)?;
        limits::at_most("model_channels", self.model_channels, limits::MAX_WIDTH)?;
        limits::at_most("channel_mult_emb", self.channel_mult_emb, limits::MAX_WIDTH)?;
        if self.channel_mult.is_empty() || self.channel_mult.len() > 16 {
            return Err(ValidationError::new(
                "channel_mult",
                "must name 1 to 16 levels, e.g. [2, 2, 2]",
            ));
        }
        let widest = self.channel_mult.iter().max().copied().unwrap_or(1);
        let width = self.model_channels as u128 * widest as u128;
        if width > limits::MAX_WIDTH as u128 || self.emb_channels() > limits::MAX_WIDTH {
            return Err(ValidationError::new(
                "model_channels",
                format!(
                    "gives {width} channels; at most {} are supported",
                    limits::MAX_WIDTH
                ),
            ));
        }
        let factor = 1usize << (self.channel_mult.len() - 1);
        if !self.img_resolution.is_multiple_of(factor) {
            return Err(ValidationError::new(
                "img_resolution",
                format!(
                    "{} is not divisible by 2^(levels − 1) = {factor}",
                    self.img_resolution
                ),
            ));
        }
        if self.model_channels % 2 == 1 || self.model_channels < 4 {
            return Err(ValidationError::new(
                "model_channels",
                "must be even and at least 4 (the noise embedding's sin and cos halves)",
            ));
        }
        for (level, &m) in self.channel_mult.iter().enumerate() {
            let channels = m * self.model_channels;
            if m == 0 || group_count(channels).is_none() {
                return Err(ValidationError::new(
                    format!("channel_mult[{level}]"),
                    format!(
                        "gives {channels} channels, which EDM's group normalisation (min(32, \
                         channels / 4) groups) does not divide"
                    ),
                ));
            }
        }
        if !(self.dropout.is_finite() && (0.0..1.0).contains(&self.dropout)) {
            return Err(ValidationError::new(
                "dropout",
                format!("must be in [0, 1), got {}", self.dropout),
            ));
        }
        // VP's schedule multiplies β_d by ln(1 + σ²) and M by its inverse: kept far inside f64.
        let positive = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 && v <= 1e6 {
                Ok(())
            } else {
                Err(ValidationError::new(
                    format!("precond.{name}"),
                    format!(
                        "must be a positive number at most 1e6 (EDM's: beta_d 19.9, beta_min \
                         0.1, m 1000), got {v}"
                    ),
                ))
            }
        };
        match &self.precond {
            Preconditioning::Edm { sigma_data } => {
                check_sigma_data("precond.sigma_data", *sigma_data)?;
            }
            Preconditioning::Vp {
                beta_d,
                beta_min,
                m,
            } => {
                positive("beta_d", *beta_d)?;
                positive("beta_min", *beta_min)?;
                positive("m", *m)?;
            }
        }
        let blocks = (2 * self.num_blocks as u128 + 3) * self.channel_mult.len() as u128;
        limits::allocation(
            "model_channels",
            "the U-Net's parameters",
            2 * 9 * 4 * width * width * blocks,
            4,
        )?;
        // The class and augmentation maps into the embedding: `label_dim` (or `augment_dim`)
        // rows of its width.
        let emb = self.emb_channels() as u128;
        limits::allocation(
            "label_dim",
            "the class embedding's weights",
            self.label_dim as u128 * emb,
            4,
        )?;
        limits::allocation(
            "augment_dim",
            "the augmentation embedding's weights",
            self.augment_dim as u128 * emb,
            4,
        )?;
        // One image's activations at full resolution: the widest level's channels there and
        // the skips the decoder keeps, estimated as 32 maps of that width.
        limits::allocation(
            "img_resolution",
            "one image's activations (≈ 32 full-resolution feature maps)",
            32 * width * (self.img_resolution as u128).pow(2),
            4,
        )
    }
}

/// EDM's group count for `channels`: `min(32, channels / 4)`, `None` when that is 0 or does
/// not divide `channels` (PyTorch's `group_norm` would refuse it).
pub(super) fn group_count(channels: usize) -> Option<usize> {
    let groups = (channels / 4).min(32);
    (groups > 0 && channels.is_multiple_of(groups)).then_some(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn song_unet_cifar10_config_is_valid_and_round_trips_as_json() {
        for conditional in [false, true] {
            let c = SongUNetConfig::cifar10(conditional);
            assert_eq!(c.validate(), Ok(()));
            assert_eq!(c.dim(), 3072);
            assert_eq!(c.emb_channels(), 512);
            let text = serde_json::to_string(&c).expect("serialises");
            assert_eq!(
                serde_json::from_str::<SongUNetConfig>(&text).expect("parses"),
                c
            );
        }
        let vp = r#"{"kind": "vp", "beta_d": 19.9, "beta_min": 0.1, "m": 1000}"#;
        let p: Preconditioning = serde_json::from_str(vp).expect("parses");
        assert_eq!(p.name(), "vp");
        assert_eq!(p.sigma_data(), 0.5);
    }

    #[test]
    fn song_unet_group_counts_follow_edm() {
        assert_eq!(group_count(256), Some(32));
        assert_eq!(group_count(512), Some(32));
        assert_eq!(group_count(48), Some(12));
        assert_eq!(group_count(3), None);
        assert_eq!(group_count(50), None, "min(32, 12) = 12 does not divide 50");
        let bad = SongUNetConfig {
            model_channels: 10,
            channel_mult: vec![1, 5],
            ..SongUNetConfig::cifar10(false)
        };
        let message = bad
            .validate()
            .expect_err("50 channels: 12 groups do not divide them");
        assert!(message.to_string().contains("channel_mult[1]"), "{message}");
    }
}
