//! The layers of EDM's `SongUNet` (DDPM++): zero-initialised layer constructors (a converted
//! teacher file fills them; [`Zeros`], the [`Layers`] its `UNetBlock`s are made of), EDM's
//! group normalisation and DDPM++'s positional noise embedding (Karras et al. 2022,
//! `training/networks.py`; docs/edm-teachers.md).

use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::nn::{GroupNorm, GroupNormConfig, Linear, PaddingConfig2d};
use burn::prelude::*;

use super::config::group_count;
use crate::error::{EngineError, Result};
use crate::nets::unet_block::Layers;

/// ε of every group normalisation of DDPM++.
pub(super) const NORM_EPS: f64 = 1e-6;

/// A `k × k` convolution `c_in → c_out` with "same" padding and a bias, all zeros.
pub(super) fn conv(c_in: usize, c_out: usize, k: usize, device: &Device) -> Conv2d {
    let pad = k / 2;
    Conv2d {
        weight: Param::from_tensor(Tensor::zeros([c_out, c_in, k, k], device)),
        bias: Some(Param::from_tensor(Tensor::zeros([c_out], device))),
        stride: [1, 1],
        kernel_size: [k, k],
        dilation: [1, 1],
        groups: 1,
        padding: PaddingConfig2d::Explicit(pad, pad, pad, pad),
    }
}

/// A linear layer `d_in → d_out` (Burn's weight layout `[d_in, d_out]`, the transpose of
/// EDM's), all zeros, with or without a bias.
pub(super) fn linear(d_in: usize, d_out: usize, bias: bool, device: &Device) -> Linear {
    Linear {
        weight: Param::from_tensor(Tensor::zeros([d_in, d_out], device)),
        bias: bias.then(|| Param::from_tensor(Tensor::zeros([d_out], device))),
    }
}

/// EDM's `GroupNorm`: `min(32, channels / 4)` groups, ε = 1e-6; an error naming the channel
/// count when those groups do not divide it.
pub(super) fn group_norm(channels: usize, device: &Device) -> Result<GroupNorm> {
    let groups = group_count(channels).ok_or_else(|| {
        EngineError::Invalid(format!(
            "SongUNet: a group normalisation over {channels} channels, which min(32, \
             channels / 4) groups do not divide; choose model_channels and channel_mult so \
             that every block's width (and every decoder concatenation's) is divisible"
        ))
    })?;
    Ok(GroupNormConfig::new(groups, channels)
        .with_epsilon(NORM_EPS)
        .init(device))
}

/// DDPM++'s [`Layers`]: every parameter at zero, for a converted file to fill; EDM's group
/// normalisation.
pub(super) struct Zeros<'a> {
    pub(super) device: &'a Device,
}

impl Layers for Zeros<'_> {
    fn conv(&mut self, c_in: usize, c_out: usize, k: usize, _zero: bool) -> Conv2d {
        conv(c_in, c_out, k, self.device)
    }

    fn linear(&mut self, d_in: usize, d_out: usize) -> Linear {
        linear(d_in, d_out, true, self.device)
    }

    fn group_norm(&mut self, channels: usize) -> Result<GroupNorm> {
        group_norm(channels, self.device)
    }
}

/// DDPM++'s noise embedding (EDM `PositionalEmbedding` with `endpoint = True`, halves swapped
/// as `SongUNet.forward` does): `[sin(c f_j), cos(c f_j)]` with `f_j = 10⁻⁴^(j / (n/2 − 1))`,
/// `j < n/2`.
///
/// # Shapes
/// `c_noise`: `[batch, 1]`; result `[batch, channels]`.
pub(super) fn positional_embedding(c_noise: Tensor<2>, channels: usize) -> Tensor<2> {
    let half = channels / 2;
    let freqs: Vec<f32> = (0..half)
        .map(|j| (1e-4f64).powf(j as f64 / (half - 1) as f64) as f32)
        .collect();
    let f = Tensor::<2>::from_data(TensorData::new(freqs, [1, half]), &c_noise.device());
    let phase = c_noise.mul(f);
    Tensor::cat(vec![phase.clone().sin(), phase.cos()], 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn song_unet_positional_embedding_matches_its_formula() {
        let device = Device::flex();
        let c = Tensor::<2>::from_floats([[0.3], [-1.2]], &device);
        let e = positional_embedding(c, 8)
            .try_into_vec_as::<f32>()
            .expect("f32");
        for (row, c) in [0.3f64, -1.2].into_iter().enumerate() {
            for j in 0..4 {
                let f = 1e-4f64.powf(j as f64 / 3.0);
                let (sin, cos) = (e[row * 8 + j], e[row * 8 + 4 + j]);
                assert!((f64::from(sin) - (c * f).sin()).abs() < 1e-6, "{row} {j}");
                assert!((f64::from(cos) - (c * f).cos()).abs() < 1e-6, "{row} {j}");
            }
        }
    }
}
