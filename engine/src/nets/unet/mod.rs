//! The image denoiser: a small U-Net `F` wrapped in EDM preconditioning (Karras et al. 2022,
//! Table 1), `D(x; σ, y) = c_skip x + c_out F(c_in x; c_noise, y)` (docs/algorithm.md §1).
//!
//! The layout is EDM's `DhariwalUNet` (ADM) scaled down: a 3×3 input convolution; per level,
//! `blocks_per_level` residual blocks then a stride-2 downsampling (except at the lowest
//! level); a middle of residual block, optional self-attention, residual block; per level on
//! the way up, `blocks_per_level + 1` residual blocks on the concatenation with the matching
//! encoder activation, then nearest-neighbour upsampling and a 3×3 convolution; GroupNorm, SiLU
//! and a zero-initialised 3×3 output convolution. Every residual block is EDM's `UNetBlock`
//! with ADM's settings ([`crate::nets::unet_block`]), conditioned on an embedding of `c_noise`
//! (and of the class, if any) by a per-channel scale and shift.
//!
//! Images travel as flat rows, like every other [`Denoiser`]: `[batch, C·H·W]` in channel-major
//! (NCHW) order, pixel `(c, i, j)` at column `c·H·W + i·W + j`.

mod attention;
mod config;
mod layers;

use burn::nn::GroupNorm;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::silu;
use rand::Rng;

use self::attention::SelfAttention;
pub use self::config::UNetConfig;
use self::layers::{Downsample, Embedding, Seeded, Upsample, group_norm};
use crate::diffusion::denoiser::Denoiser;
use crate::diffusion::edm::{Precond, check_sigma_data};
use crate::error::{EngineError, Result};
use crate::nets::embedding::check_labels;
use crate::nets::unet_block::{BlockConfig, Layers, Resample, UNetBlock};

/// Width of the conditioning embedding per base channel (ADM's `channel_mult_emb`).
const EMBEDDING_MULT: usize = 4;

/// One encoder level: residual blocks, then (except at the lowest level) a downsampling.
#[derive(Module, Debug)]
struct EncoderLevel {
    blocks: Vec<UNetBlock>,
    down: Option<Downsample>,
}

/// The middle of the U-Net, at the lowest resolution.
#[derive(Module, Debug)]
struct Middle {
    first: UNetBlock,
    attention: Option<SelfAttention>,
    second: UNetBlock,
}

/// One decoder level: residual blocks on `[h, skip]`, then (except at the top) an upsampling.
#[derive(Module, Debug)]
struct DecoderLevel {
    blocks: Vec<UNetBlock>,
    up: Option<Upsample>,
}

/// An EDM-preconditioned U-Net denoiser for square images, optionally class-conditional.
///
/// Parameters are named by their module path (`encoder.0.blocks.0.conv0.weight`,
/// `middle.attention.qkv.weight`, `output.bias`, …), so `optim::params`, the Adam state
/// and the safetensors checkpoints handle it as they handle the MLP.
#[derive(Module, Debug)]
pub struct UNetDenoiser {
    embedding: Embedding,
    input: Conv2d,
    encoder: Vec<EncoderLevel>,
    middle: Middle,
    decoder: Vec<DecoderLevel>,
    out_norm: GroupNorm,
    output: Conv2d,
    #[module(skip)]
    config: UNetConfig,
    #[module(skip)]
    sigma_data: f64,
}

impl UNetDenoiser {
    /// A freshly initialised network, every parameter drawn from `rng` in a fixed order (the
    /// same seed gives bit-identical parameters). Convolutions and linear layers start at
    /// `U(−1/√fan_in, 1/√fan_in)` (EDM's `kaiming_uniform`, gain √(1/3)); the second
    /// convolution of every residual block, the attention projection and the output convolution
    /// start at zero (as in EDM's `DhariwalUNet`), so `D` starts as exactly `c_skip x`.
    ///
    /// `sigma_data` is EDM's σ_d (0.5 for images scaled to [−1, 1]).
    pub fn new(
        config: &UNetConfig,
        sigma_data: f64,
        rng: &mut impl Rng,
        device: &Device,
    ) -> Result<Self> {
        config
            .validate()
            .map_err(|m| EngineError::Invalid(format!("U-Net: {m}")))?;
        check_sigma_data("sigma_data", sigma_data)
            .map_err(|m| EngineError::Invalid(format!("U-Net: {m}")))?;
        let widths: Vec<usize> = config
            .channel_mult
            .iter()
            .map(|m| m * config.channels)
            .collect();
        let emb = EMBEDDING_MULT * config.channels;
        // EDM's `UNetBlock` with ADM's settings: the embedding scales and shifts, no residual
        // scaling, no resampling or attention inside the block.
        let block = |c_in, c_out| BlockConfig {
            c_in,
            c_out,
            emb,
            dropout: config.dropout,
            resample: Resample::Keep,
            heads: 0,
            adaptive_scale: true,
            skip_scale: 1.0,
        };
        let layers = &mut Seeded { rng, device };
        let embedding = Embedding::new(config.noise_frequencies, config.classes, emb, layers);
        let input = layers.conv(config.image_channels, widths[0], 3, false);

        // Channel counts of the activations the decoder concatenates, in encoder order.
        let mut skips = vec![widths[0]];
        let mut ch = widths[0];
        let mut encoder = Vec::with_capacity(widths.len());
        for (level, &width) in widths.iter().enumerate() {
            let mut blocks = Vec::with_capacity(config.blocks_per_level);
            for _ in 0..config.blocks_per_level {
                blocks.push(UNetBlock::new(&block(ch, width), layers)?);
                ch = width;
                skips.push(ch);
            }
            let down = (level + 1 < widths.len()).then(|| {
                skips.push(ch);
                Downsample::new(ch, layers)
            });
            encoder.push(EncoderLevel { blocks, down });
        }

        let middle = Middle {
            first: UNetBlock::new(&block(ch, ch), layers)?,
            attention: config
                .attention
                .then(|| SelfAttention::new(ch, layers))
                .transpose()?,
            second: UNetBlock::new(&block(ch, ch), layers)?,
        };

        let mut decoder = Vec::with_capacity(widths.len());
        for (level, &width) in widths.iter().enumerate().rev() {
            let mut blocks = Vec::with_capacity(config.blocks_per_level + 1);
            for _ in 0..=config.blocks_per_level {
                let skip = skips.pop().unwrap_or(0);
                blocks.push(UNetBlock::new(&block(ch + skip, width), layers)?);
                ch = width;
            }
            let up = (level > 0).then(|| Upsample::new(ch, layers));
            decoder.push(DecoderLevel { blocks, up });
        }

        Ok(Self {
            embedding,
            input,
            encoder,
            middle,
            decoder,
            out_norm: group_norm(ch, device),
            output: layers.conv(ch, config.image_channels, 3, true),
            config: config.clone(),
            sigma_data,
        })
    }

    /// The settings this network was built from.
    pub fn config(&self) -> &UNetConfig {
        &self.config
    }

    /// EDM's σ_d this network was built for.
    pub fn sigma_data(&self) -> f64 {
        self.sigma_data
    }

    /// Values per image, `C·H·W`: the width of the flat rows [`Denoiser::denoise`] takes.
    pub fn dim(&self) -> usize {
        self.config.dim()
    }

    /// One-hot class vectors for integer labels in `0..classes`.
    ///
    /// # Shapes
    /// `labels`: `[batch]`; result `[batch, classes]`.
    pub fn one_hot(&self, labels: Tensor<1, Int>) -> Tensor<2> {
        labels.one_hot::<2>(self.config.classes).float()
    }

    /// `D(x; σ, y)` (EDM Table 1 preconditioning) with class vectors `labels`: one-hot rows,
    /// or any mix of them; `None` (like an all-zero row) means "no class", the unconditional
    /// denoiser of a class-conditional network.
    ///
    /// # Shapes
    /// `x`: `[batch, C·H·W]` (NCHW order), `sigma`: `[batch, 1]`, `labels`:
    /// `[batch, classes]`; result `[batch, C·H·W]`.
    ///
    /// # Panics
    /// If `labels` is given but the network has no classes or a different number of them, or
    /// if the shapes do not match.
    pub fn denoise_labelled(
        &self,
        x: Tensor<2>,
        sigma: Tensor<2>,
        labels: Option<Tensor<2>>,
    ) -> Tensor<2> {
        check_labels("U-Net", labels.as_ref(), self.config.classes);
        let [batch, dim] = x.dims();
        let (c, s) = (self.config.image_channels, self.config.image_size);
        Precond::new(sigma, self.sigma_data).denoise(x, |x_in, c_noise| {
            self.raw(x_in.reshape([batch, c, s, s]), c_noise, labels)
                .reshape([batch, dim])
        })
    }

    /// The raw network `F(c_in x; c_noise, y)`.
    ///
    /// # Shapes
    /// `x_in`: `[batch, C, H, W]`, `c_noise`: `[batch, 1]`, `labels`: `[batch, classes]`;
    /// result `[batch, C, H, W]`.
    fn raw(&self, x_in: Tensor<4>, c_noise: Tensor<2>, labels: Option<Tensor<2>>) -> Tensor<4> {
        let emb = self.embedding.forward(c_noise, labels);
        let mut h = self.input.forward(x_in);
        let mut skips = vec![h.clone()];
        for level in &self.encoder {
            for block in &level.blocks {
                h = block.forward(h, emb.clone());
                skips.push(h.clone());
            }
            if let Some(down) = &level.down {
                h = down.forward(h);
                skips.push(h.clone());
            }
        }
        h = self.middle.first.forward(h, emb.clone());
        if let Some(attention) = &self.middle.attention {
            h = attention.forward(h);
        }
        h = self.middle.second.forward(h, emb.clone());
        // The decoder has exactly as many blocks as there are skips, taken last-in first-out.
        let mut skips = skips.into_iter().rev();
        for level in &self.decoder {
            for (block, skip) in level.blocks.iter().zip(skips.by_ref()) {
                h = block.forward(Tensor::cat(vec![h, skip], 1), emb.clone());
            }
            if let Some(up) = &level.up {
                h = up.forward(h);
            }
        }
        self.output.forward(silu(self.out_norm.forward(h)))
    }
}

impl Denoiser for UNetDenoiser {
    /// `D(x; σ)` without a class: see [`UNetDenoiser::denoise_labelled`].
    fn denoise(&self, x: Tensor<2>, sigma: Tensor<2>) -> Tensor<2> {
        self.denoise_labelled(x, sigma, None)
    }
}

#[cfg(test)]
mod tests;
