//! `UNetConfig`: the shape of the image denoiser's U-Net, as written in a preset (TOML).

use serde::{Deserialize, Serialize};

use super::EMBEDDING_MULT;
use sim_formats::limits;
use sim_formats::validation::ValidationError;

/// Shape of an EDM-preconditioned U-Net denoiser for square images (ADM / "DhariwalUNet"
/// layout of Karras et al. 2022, scaled down).
///
/// Level `l` of the U-Net works at resolution `image_size / 2^l` with
/// `channels · channel_mult[l]` channels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UNetConfig {
    /// Base channel count; level `l` has `channels · channel_mult[l]` channels.
    pub channels: usize,
    /// Channel multiplier per resolution level; its length is the number of levels
    /// (`[1, 2]` for 8×8 images, `[1, 2, 2]` for 32×32).
    pub channel_mult: Vec<usize>,
    /// Residual blocks per level in the encoder (the decoder has one more per level).
    pub blocks_per_level: usize,
    /// Self-attention in the middle of the U-Net, at the lowest resolution.
    pub attention: bool,
    /// Dropout probability inside the residual blocks (0 = none). Active only on an autodiff
    /// device while the module's training flag is on (Burn's `Dropout`); its mask comes from the
    /// backend's generator, not from the run seed, so runs that must be bit-reproducible keep it 0.
    pub dropout: f64,
    /// Number of classes for class conditioning; 0 = unconditional.
    pub classes: usize,
    /// Image channels (1 for grey, 3 for RGB).
    pub image_channels: usize,
    /// Image height and width (square images; 28×28 data is padded to 32 by the loader).
    pub image_size: usize,
    /// Fourier frequencies of the noise embedding of `c_noise` (sin and cos each).
    pub noise_frequencies: usize,
}

impl Default for UNetConfig {
    /// A small 8×8 grey-scale U-Net: 32 base channels, two levels, one block per level,
    /// attention at 4×4.
    fn default() -> Self {
        Self {
            channels: 32,
            channel_mult: vec![1, 2],
            blocks_per_level: 1,
            attention: true,
            dropout: 0.0,
            classes: 0,
            image_channels: 1,
            image_size: 8,
            noise_frequencies: 16,
        }
    }
}

impl UNetConfig {
    /// Number of resolution levels.
    pub fn levels(&self) -> usize {
        self.channel_mult.len()
    }

    /// Values per image, `image_channels · image_size²`: the `dim` of the flat tensors the
    /// denoiser works on.
    pub fn dim(&self) -> usize {
        self.image_channels * self.image_size * self.image_size
    }

    /// Checks ranges; the message names the field and says what would be valid.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let at_least_one = [
            ("channels", self.channels),
            ("blocks_per_level", self.blocks_per_level),
            ("image_channels", self.image_channels),
            ("image_size", self.image_size),
            ("noise_frequencies", self.noise_frequencies),
        ];
        for (name, value) in at_least_one {
            if value == 0 {
                return Err(ValidationError::new(name, "must be at least 1"));
            }
        }
        if self.channel_mult.is_empty() {
            return Err(ValidationError::new(
                "channel_mult",
                "must name at least one level, e.g. [1, 2]",
            ));
        }
        if let Some(level) = self.channel_mult.iter().position(|&m| m == 0) {
            return Err(ValidationError::new(
                format!("channel_mult[{level}]"),
                "is 0; every multiplier must be at least 1",
            ));
        }
        if self.levels() > 16 {
            return Err(ValidationError::new(
                "channel_mult",
                format!("has {} levels; at most 16 are supported", self.levels()),
            ));
        }
        let factor = 1usize << (self.levels() - 1);
        if !self.image_size.is_multiple_of(factor) {
            return Err(ValidationError::new(
                "image_size",
                format!(
                    "image_size {} must be divisible by 2^(levels − 1) = {factor} for {} \
                     levels (channel_mult {:?}); use fewer levels or pad the images",
                    self.image_size,
                    self.levels(),
                    self.channel_mult
                ),
            ));
        }
        self.within_limits()?;
        if !(self.dropout.is_finite() && (0.0..1.0).contains(&self.dropout)) {
            return Err(ValidationError::new(
                "dropout",
                format!("must be in [0, 1), got {}", self.dropout),
            ));
        }
        Ok(())
    }

    /// Every size within the [`limits`], and the parameters (≈ 9·w² per 3×3 convolution, four
    /// per residual block) within the machine's memory: checked before anything is allocated.
    fn within_limits(&self) -> Result<(), ValidationError> {
        limits::at_most("image_size", self.image_size, limits::MAX_IMAGE_SIDE)?;
        limits::at_most("image_channels", self.image_channels, limits::MAX_WIDTH)?;
        limits::at_most("classes", self.classes, limits::MAX_CLASSES)?;
        limits::at_most(
            "noise_frequencies",
            self.noise_frequencies,
            limits::MAX_WIDTH,
        )?;
        limits::at_most("blocks_per_level", self.blocks_per_level, 1024)?;
        let widest = self.channel_mult.iter().max().copied().unwrap_or(1) as u128;
        let width = self.channels as u128 * widest;
        if width > limits::MAX_WIDTH as u128 {
            return Err(ValidationError::new(
                "channels",
                format!(
                    "channels {} × channel_mult {widest} = {width} channels; at most {} are \
                     supported",
                    self.channels,
                    limits::MAX_WIDTH
                ),
            ));
        }
        let blocks = (2 * self.blocks_per_level as u128 + 1) * self.levels() as u128;
        limits::allocation(
            "channels",
            "the U-Net's parameters",
            9 * 4 * width * width * blocks,
            4,
        )?;
        // The class and noise maps into the conditioning embedding: a row of its width per
        // class, and per sine and cosine of each frequency.
        let emb = (EMBEDDING_MULT * self.channels) as u128;
        limits::allocation(
            "classes",
            "the class embedding's weights",
            self.classes as u128 * emb,
            4,
        )?;
        limits::allocation(
            "noise_frequencies",
            "the noise embedding's weights",
            2 * self.noise_frequencies as u128 * emb,
            4,
        )?;
        // One image and its activations at full resolution, estimated as 32 first-level
        // feature maps (the estimate of a distillation batch's, per image).
        let first = (self.channels * self.channel_mult[0]) as u128;
        let maps = 32 * first + self.image_channels as u128;
        limits::allocation(
            "image_size",
            "one image and its activations (≈ 32 first-level feature maps)",
            maps * (self.image_size as u128).pow(2),
            4,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unet_config_defaults_are_valid_and_round_trip() {
        let config = UNetConfig::default();
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.dim(), 64);
        let text = toml::to_string(&config).expect("serialises");
        let back: UNetConfig = toml::from_str(&text).expect("parses");
        assert_eq!(back, config);
        let partial: UNetConfig = toml::from_str("image_size = 32\nchannel_mult = [1, 2, 2]\n")
            .expect("partial config parses");
        assert_eq!(partial.channels, 32);
        assert_eq!(partial.levels(), 3);
        assert!(toml::from_str::<UNetConfig>("chanels = 8\n").is_err());
    }

    #[test]
    fn unet_config_errors_name_the_field() {
        let bad = |edit: fn(&mut UNetConfig)| {
            let mut c = UNetConfig::default();
            edit(&mut c);
            c.validate().expect_err("must be rejected").to_string()
        };
        let odd = bad(|c| {
            c.image_size = 30;
            c.channel_mult = vec![1, 2, 2];
        });
        assert!(odd.contains("image_size 30"), "{odd}");
        assert!(odd.contains("2^(levels − 1) = 4"), "{odd}");
        assert!(bad(|c| c.channel_mult = vec![]).contains("channel_mult"));
        assert!(bad(|c| c.channel_mult = vec![1, 0]).contains("channel_mult[1]"));
        assert!(bad(|c| c.channels = 0).contains("channels"));
        assert!(bad(|c| c.blocks_per_level = 0).contains("blocks_per_level"));
        assert!(bad(|c| c.dropout = 1.0).contains("dropout"));
        assert!(bad(|c| c.noise_frequencies = 0).contains("noise_frequencies"));
        assert!(bad(|c| c.image_size = 1 << 40).contains("at most 4096"));
        assert!(bad(|c| c.channels = 1 << 16).contains("at most 65536"));
        assert!(bad(|c| c.channels = 30_000).contains("the U-Net's parameters"));
        let mut ok = UNetConfig {
            image_size: 32,
            channel_mult: vec![1, 2, 2],
            ..UNetConfig::default()
        };
        assert_eq!(ok.validate(), Ok(()));
        ok.channel_mult = vec![1; 7];
        assert!(ok.validate().is_err(), "32 is not divisible by 2^6");
    }
}
