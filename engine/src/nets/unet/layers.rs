//! The layers of the workbench U-Net: seeded constructors ([`Seeded`], the [`Layers`] its
//! residual blocks are made of), the noise/class embedding and the resamplers (the ADM layout
//! of EDM's `DhariwalUNet`, Karras et al. 2022, scaled down).

use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::nn::{GroupNorm, GroupNormConfig, Linear, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::silu;
use rand::Rng;

use crate::error::Result;
use crate::nets::embedding::{embedding_width, fourier_embedding};
use crate::nets::unet_block::{Layers, Resample};
use crate::rng::normal;

/// Draws `n` values of `U(−bound, bound)`, or `n` zeros (without drawing) when `bound` is 0.
fn uniform(rng: &mut impl Rng, n: usize, bound: f64) -> Vec<f32> {
    if bound > 0.0 {
        (0..n)
            .map(|_| rng.random_range(-bound..bound) as f32)
            .collect()
    } else {
        vec![0.0; n]
    }
}

/// A `k × k` convolution `c_in → c_out` with "same" padding (`k` odd) and the given stride;
/// weights and bias `U(−scale/√fan_in, scale/√fan_in)` from `rng` (scale 1: EDM's
/// `kaiming_uniform` with gain √(1/3); scale 0: zero-initialised).
fn conv(
    c_in: usize,
    c_out: usize,
    k: usize,
    stride: usize,
    scale: f64,
    rng: &mut impl Rng,
    device: &Device,
) -> Conv2d {
    let bound = scale / ((c_in * k * k) as f64).sqrt();
    let weight = uniform(rng, c_out * c_in * k * k, bound);
    let bias = uniform(rng, c_out, bound);
    let pad = k / 2;
    Conv2d {
        weight: Param::from_tensor(Tensor::from_data(
            TensorData::new(weight, [c_out, c_in, k, k]),
            device,
        )),
        bias: Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(bias, [c_out]),
            device,
        ))),
        stride: [stride, stride],
        kernel_size: [k, k],
        dilation: [1, 1],
        groups: 1,
        padding: PaddingConfig2d::Explicit(pad, pad, pad, pad),
    }
}

/// A linear layer `d_in → d_out` with weights and bias `U(−scale/√d_in, scale/√d_in)`.
fn linear(d_in: usize, d_out: usize, scale: f64, rng: &mut impl Rng, device: &Device) -> Linear {
    let bound = scale / (d_in as f64).sqrt();
    let weight = uniform(rng, d_in * d_out, bound);
    let bias = uniform(rng, d_out, bound);
    Linear {
        weight: Param::from_tensor(Tensor::from_data(
            TensorData::new(weight, [d_in, d_out]),
            device,
        )),
        bias: Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(bias, [d_out]),
            device,
        ))),
    }
}

/// Group normalisation over `channels` with ADM's group count: at most 32 groups of at least
/// 4 channels, lowered to the nearest divisor of `channels`. γ = 1, β = 0, ε = 1e-5.
pub(super) fn group_norm(channels: usize, device: &Device) -> GroupNorm {
    let mut groups = (channels / 4).clamp(1, 32);
    while !channels.is_multiple_of(groups) {
        groups -= 1;
    }
    GroupNormConfig::new(groups, channels).init(device)
}

/// The conditioning vector: `silu(map1(silu(map0(fourier(c_noise)))) + label(y))`
/// (EDM `DhariwalUNet`'s mapping network; the label layer has no bias, so an all-zero label
/// vector means "no class").
#[derive(Module, Debug)]
pub(super) struct Embedding {
    map0: Linear,
    map1: Linear,
    label: Option<Linear>,
    #[module(skip)]
    frequencies: usize,
}

impl Embedding {
    /// Noise embedding of `frequencies` Fourier pairs → `width`, plus a class embedding when
    /// `classes > 0` (`N(0, 1)` weights, as EDM's `kaiming_normal` with gain √classes).
    pub(super) fn new(
        frequencies: usize,
        classes: usize,
        width: usize,
        layers: &mut Seeded<'_, impl Rng>,
    ) -> Self {
        let map0 = layers.linear(embedding_width(frequencies), width);
        let map1 = layers.linear(width, width);
        let label = (classes > 0).then(|| Linear {
            weight: Param::from_tensor(Tensor::from_data(
                TensorData::new(normal(layers.rng, classes * width, 1.0), [classes, width]),
                layers.device,
            )),
            bias: None,
        });
        Self {
            map0,
            map1,
            label,
            frequencies,
        }
    }

    /// # Shapes
    /// `c_noise`: `[batch, 1]`, `labels`: `[batch, classes]`; result `[batch, width]`.
    pub(super) fn forward(&self, c_noise: Tensor<2>, labels: Option<Tensor<2>>) -> Tensor<2> {
        let e = silu(
            self.map0
                .forward(fourier_embedding(c_noise, self.frequencies)),
        );
        let mut e = self.map1.forward(e);
        if let (Some(layer), Some(y)) = (&self.label, labels) {
            e = e.add(layer.forward(y));
        }
        silu(e)
    }
}

/// The workbench U-Net's [`Layers`]: every weight and bias drawn from `rng` in the order asked
/// for, `U(−1/√fan_in, 1/√fan_in)`, or zeros without a draw; ADM's group normalisation. The
/// network's other layers draw from it too, so one seed gives one network.
pub(super) struct Seeded<'a, R> {
    pub(super) rng: &'a mut R,
    pub(super) device: &'a Device,
}

impl<R: Rng> Layers for Seeded<'_, R> {
    fn conv(&mut self, c_in: usize, c_out: usize, k: usize, zero: bool) -> Conv2d {
        let scale = if zero { 0.0 } else { 1.0 };
        conv(c_in, c_out, k, 1, scale, self.rng, self.device)
    }

    fn linear(&mut self, d_in: usize, d_out: usize) -> Linear {
        linear(d_in, d_out, 1.0, self.rng, self.device)
    }

    fn group_norm(&mut self, channels: usize) -> Result<GroupNorm> {
        Ok(group_norm(channels, self.device))
    }
}

/// Halves the resolution with a stride-2 3×3 convolution.
#[derive(Module, Debug)]
pub(super) struct Downsample {
    conv: Conv2d,
}

impl Downsample {
    pub(super) fn new(channels: usize, layers: &mut Seeded<'_, impl Rng>) -> Self {
        Self {
            conv: conv(channels, channels, 3, 2, 1.0, layers.rng, layers.device),
        }
    }

    /// # Shapes
    /// `[batch, c, h, w]` → `[batch, c, h/2, w/2]` (`h`, `w` even).
    pub(super) fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.conv.forward(x)
    }
}

/// Doubles the resolution: nearest-neighbour upsampling, then a 3×3 convolution.
#[derive(Module, Debug)]
pub(super) struct Upsample {
    conv: Conv2d,
}

impl Upsample {
    pub(super) fn new(channels: usize, layers: &mut impl Layers) -> Self {
        Self {
            conv: layers.conv(channels, channels, 3, false),
        }
    }

    /// # Shapes
    /// `[batch, c, h, w]` → `[batch, c, 2h, 2w]`.
    pub(super) fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.conv.forward(Resample::Up.apply(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unet_group_counts_divide_the_channels() {
        let device = Device::flex();
        for (channels, groups) in [(1, 1), (8, 2), (18, 3), (32, 8), (64, 16), (192, 32)] {
            assert_eq!(
                group_norm(channels, &device).num_groups,
                groups,
                "{channels}"
            );
        }
    }
}
