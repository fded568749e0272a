//! EDM's DDPM++ U-Net (`SongUNet`, the network of the published `edm-cifar10-32x32-*-vp`
//! teachers) with its preconditioning: `D(x; σ, y) = c_skip x + c_out F(c_in x; c_noise, y)`
//! (Karras et al. 2022, Table 1; docs/edm-teachers.md).
//!
//! The layout follows EDM's `SongUNet` with `embedding_type = 'positional'`, standard encoder
//! and decoder and resampling filter `[1, 1]`:
//! - mapping: `emb = silu(map_layer1(silu(map_layer0(pos(c_noise) + map_label(y·√L)))))`;
//! - encoder: a 3×3 input convolution, then per level (a downsampling block at every level but
//!   the first, then `num_blocks` blocks), attention at `attn_resolutions`;
//! - decoder: at the lowest level an attention block and a plain one, elsewhere an upsampling
//!   block; then per level `num_blocks + 1` blocks on `[h, skip]` (the last with attention at
//!   `attn_resolutions`); GroupNorm, SiLU and a 3×3 output convolution.
//!
//! Parameters are named as EDM names them, with the encoder's and decoder's dictionaries as
//! lists in their order (`encoder.4.conv0.weight` for `enc.16x16_down.conv0.weight` of the
//! CIFAR-10 network), so that `tools/edm_to_safetensors.py` maps a published pickle tensor for
//! tensor. Images travel as flat NCHW rows like every other denoiser's.

mod config;
mod layers;

use burn::nn::conv::Conv2d;
use burn::nn::{GroupNorm, Linear};
use burn::prelude::*;
use burn::tensor::activation::silu;

pub use self::config::{Preconditioning, SongUNetConfig};
use self::layers::{Zeros, conv, group_norm, linear, positional_embedding};
use crate::diffusion::denoiser::Denoiser;
use crate::diffusion::edm::Precond;
use crate::error::{EngineError, Result};
use crate::nets::embedding::check_labels;
use crate::nets::unet_block::{BlockConfig, Resample, UNetBlock};
use crate::optim::params::{map_params, named_params};
use crate::rng::normal;

/// EDM's DDPM++ `SongUNet` wrapped in its preconditioning: a denoiser for square images,
/// optionally class-conditional.
#[derive(Module, Debug)]
pub struct SongUNet {
    map_label: Option<Linear>,
    /// Loaded, not used: sampling passes no augmentation labels, as EDM's does.
    map_augment: Option<Linear>,
    map_layer0: Linear,
    map_layer1: Linear,
    enc_conv: Conv2d,
    encoder: Vec<UNetBlock>,
    decoder: Vec<UNetBlock>,
    out_norm: GroupNorm,
    out_conv: Conv2d,
    /// Whether decoder block `i` first concatenates the latest encoder activation.
    #[module(skip)]
    concat: Vec<bool>,
    #[module(skip)]
    config: SongUNetConfig,
}

impl SongUNet {
    /// The network of `config` with every parameter at zero, to be filled from a converted
    /// teacher file (`TensorFile::load_module`). Errors name the field when the shape cannot
    /// be built (a group normalisation that does not divide its channels).
    pub fn zeros(config: &SongUNetConfig, device: &Device) -> Result<Self> {
        config
            .validate()
            .map_err(|m| EngineError::Invalid(format!("SongUNet: {m}")))?;
        let (mc, emb) = (config.model_channels, config.emb_channels());
        let levels = config.channel_mult.len();
        let attends = |res: usize| config.attn_resolutions.contains(&res);
        // EDM's `UNetBlock` with DDPM++'s settings: the embedding added before `norm1`, every
        // residual sum scaled by √½, one attention head.
        let block = |c_in, c_out, attention: bool, resample| {
            let shape = BlockConfig {
                c_in,
                c_out,
                emb,
                dropout: config.dropout,
                resample,
                heads: usize::from(attention),
                adaptive_scale: false,
                skip_scale: std::f64::consts::FRAC_1_SQRT_2,
            };
            UNetBlock::new(&shape, &mut Zeros { device })
        };

        let mut cout = mc;
        let mut skips = vec![cout];
        let mut encoder = Vec::new();
        for (level, &mult) in config.channel_mult.iter().enumerate() {
            let res = config.img_resolution >> level;
            if level > 0 {
                encoder.push(block(cout, cout, false, Resample::Down)?);
                skips.push(cout);
            }
            for _ in 0..config.num_blocks {
                let cin = cout;
                cout = mc * mult;
                encoder.push(block(cin, cout, attends(res), Resample::Keep)?);
                skips.push(cout);
            }
        }

        let mut decoder = Vec::new();
        let mut concat = Vec::new();
        for (level, &mult) in config.channel_mult.iter().enumerate().rev() {
            let res = config.img_resolution >> level;
            if level + 1 == levels {
                decoder.push(block(cout, cout, true, Resample::Keep)?);
                decoder.push(block(cout, cout, false, Resample::Keep)?);
                concat.extend([false, false]);
            } else {
                decoder.push(block(cout, cout, false, Resample::Up)?);
                concat.push(false);
            }
            for idx in 0..=config.num_blocks {
                let cin = cout + skips.pop().unwrap_or(0);
                cout = mc * mult;
                let attention = idx == config.num_blocks && attends(res);
                decoder.push(block(cin, cout, attention, Resample::Keep)?);
                concat.push(true);
            }
        }

        Ok(Self {
            map_label: (config.label_dim > 0).then(|| linear(config.label_dim, mc, true, device)),
            map_augment: (config.augment_dim > 0)
                .then(|| linear(config.augment_dim, mc, false, device)),
            map_layer0: linear(mc, emb, true, device),
            map_layer1: linear(emb, emb, true, device),
            enc_conv: conv(config.img_channels, mc, 3, device),
            encoder,
            decoder,
            out_norm: group_norm(cout, device)?,
            out_conv: conv(cout, config.img_channels, 3, device),
            concat,
            config: config.clone(),
        })
    }

    /// The network of `config` with random weights drawn from `rng` in a fixed order: every
    /// weight `N(0, 1/fan_in)`, biases 0, normalisations the identity. For timing and shape
    /// checks without a published file (`sim-workbench random-edm-teacher`): its samples are
    /// noise.
    pub fn random(
        config: &SongUNetConfig,
        rng: &mut impl rand::Rng,
        device: &Device,
    ) -> Result<Self> {
        let net = Self::zeros(config, device)?;
        let shapes: std::collections::BTreeMap<String, Vec<usize>> = named_params(&net)
            .into_iter()
            .map(|(path, t)| (path, t.shape))
            .collect();
        Ok(map_params(net, None, |path, values, _| {
            let shape = &shapes[path];
            let n = values.dims()[0];
            let drawn = match (path.rsplit('.').next(), shape.len()) {
                (Some("gamma"), _) => vec![1.0; n],
                (_, 1) => vec![0.0; n],
                // Burn's Linear is [in, out]; a convolution [out, in, k, k].
                (_, 2) => normal(rng, n, 1.0 / (shape[0] as f64).sqrt()),
                _ => normal(rng, n, 1.0 / ((n / shape[0]) as f64).sqrt()),
            };
            Tensor::from_data(TensorData::new(drawn, [n]), device)
        }))
    }

    /// The shape and preconditioning this network was built from.
    pub fn config(&self) -> &SongUNetConfig {
        &self.config
    }

    /// Values per image, `C·H·W`.
    pub fn dim(&self) -> usize {
        self.config.dim()
    }

    /// `D(x; σ, y)` with the network's preconditioning and class vectors `labels` (one-hot
    /// rows, or mixes of them); `None` means EDM's "no class", an all-zero label vector.
    ///
    /// # Shapes
    /// `x`: `[batch, C·H·W]` (NCHW order), `sigma`: `[batch, 1]`, `labels`:
    /// `[batch, label_dim]`; result `[batch, C·H·W]`.
    ///
    /// # Panics
    /// If `labels` is given but the network has no classes or a different number of them
    /// (`label_dim`), or if the shapes do not match.
    pub fn denoise_labelled(
        &self,
        x: Tensor<2>,
        sigma: Tensor<2>,
        labels: Option<Tensor<2>>,
    ) -> Tensor<2> {
        check_labels("SongUNet", labels.as_ref(), self.config.label_dim);
        let [batch, dim] = x.dims();
        let (c, s) = (self.config.img_channels, self.config.img_resolution);
        self.precond(sigma).denoise(x, |x_in, c_noise| {
            self.network(x_in.reshape([batch, c, s, s]), c_noise, labels)
                .reshape([batch, dim])
        })
    }

    /// The preconditioning coefficients at `sigma` (`[batch, 1]`).
    fn precond(&self, sigma: Tensor<2>) -> Precond {
        match self.config.precond {
            Preconditioning::Edm { sigma_data } => Precond::new(sigma, sigma_data),
            Preconditioning::Vp {
                beta_d,
                beta_min,
                m,
            } => Precond::vp(sigma, beta_d, beta_min, m),
        }
    }

    /// The raw network `F(x_in; c_noise, y)` (EDM's `SongUNet.forward` with no augmentation
    /// labels), which the preconditioning feeds with `x_in = c_in x`.
    ///
    /// # Shapes
    /// `x_in`: `[batch, C, H, W]`, `c_noise`: `[batch, 1]`, `labels`: `[batch, label_dim]`;
    /// result `[batch, C, H, W]`.
    pub fn network(
        &self,
        x_in: Tensor<4>,
        c_noise: Tensor<2>,
        labels: Option<Tensor<2>>,
    ) -> Tensor<4> {
        let batch = x_in.dims()[0];
        let mut emb = positional_embedding(c_noise, self.config.model_channels);
        if let Some(layer) = &self.map_label {
            let dim = self.config.label_dim;
            let y = labels.unwrap_or_else(|| Tensor::zeros([batch, dim], &x_in.device()));
            emb = emb.add(layer.forward(y.mul_scalar((dim as f64).sqrt())));
        }
        let emb = silu(self.map_layer0.forward(emb));
        let emb = silu(self.map_layer1.forward(emb));

        let mut h = self.enc_conv.forward(x_in);
        let mut skips = vec![h.clone()];
        for block in &self.encoder {
            h = block.forward(h, emb.clone());
            skips.push(h.clone());
        }
        for (block, &concat) in self.decoder.iter().zip(&self.concat) {
            if concat && let Some(skip) = skips.pop() {
                h = Tensor::cat(vec![h, skip], 1);
            }
            h = block.forward(h, emb.clone());
        }
        self.out_conv.forward(silu(self.out_norm.forward(h)))
    }
}

impl Denoiser for SongUNet {
    /// `D(x; σ)` without a class: see [`SongUNet::denoise_labelled`].
    fn denoise(&self, x: Tensor<2>, sigma: Tensor<2>) -> Tensor<2> {
        self.denoise_labelled(x, sigma, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, rng_for};

    /// At the published shapes the network has EDM's parameter count for
    /// `edm-cifar10-32x32-cond-vp` (55,735,299, as EDM's own code counts it for that
    /// configuration), and a random one denoises to finite values.
    #[test]
    fn song_unet_at_the_published_shapes_has_edms_parameter_count() {
        let device = Device::flex();
        let mut rng = rng_for(0, 0, Stream::Init);
        let net =
            SongUNet::random(&SongUNetConfig::cifar10(true), &mut rng, &device).expect("builds");
        let count: usize = named_params(&net)
            .into_values()
            .map(|t| t.shape.iter().product::<usize>())
            .sum();
        assert_eq!(count, 55_735_299);
        let x = Tensor::<2>::from_data(TensorData::new(vec![0.1f32; 2 * 3072], [2, 3072]), &device);
        let sigma = Tensor::<2>::from_floats([[0.5], [20.0]], &device);
        let d = net.denoise(x, sigma).try_into_vec_as::<f32>().expect("f32");
        assert!(d.iter().all(|v| v.is_finite()));
    }
}
