//! Building blocks of the U-Net: seeded layer constructors, the noise/class embedding, the
//! residual block and the resamplers (the ADM layout of EDM's `DhariwalUNet`, Karras et al.
//! 2022, scaled down).

use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::nn::{Dropout, DropoutConfig, GroupNorm, GroupNormConfig, Linear, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::silu;
use rand::Rng;

use crate::nets::embedding::{embedding_width, fourier_embedding};
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
pub(super) fn conv(
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
pub(super) fn linear(
    d_in: usize,
    d_out: usize,
    scale: f64,
    rng: &mut impl Rng,
    device: &Device,
) -> Linear {
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
        rng: &mut impl Rng,
        device: &Device,
    ) -> Self {
        let map0 = linear(embedding_width(frequencies), width, 1.0, rng, device);
        let map1 = linear(width, width, 1.0, rng, device);
        let label = (classes > 0).then(|| Linear {
            weight: Param::from_tensor(Tensor::from_data(
                TensorData::new(normal(rng, classes * width, 1.0), [classes, width]),
                device,
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

/// ADM residual block: `x + conv1(dropout(silu(norm1(h)·(1 + scale) + shift)))` with
/// `h = conv0(silu(norm0(x)))` and `(scale, shift)` an affine map of the embedding; a 1×1
/// convolution on the skip path when the channel count changes. `conv1` starts at zero, so a
/// fresh block is the identity (or its skip convolution).
#[derive(Module, Debug)]
pub(super) struct ResBlock {
    norm0: GroupNorm,
    conv0: Conv2d,
    affine: Linear,
    norm1: GroupNorm,
    dropout: Dropout,
    conv1: Conv2d,
    skip: Option<Conv2d>,
}

impl ResBlock {
    /// A block `c_in → c_out` conditioned on an embedding of width `emb`.
    pub(super) fn new(
        c_in: usize,
        c_out: usize,
        emb: usize,
        dropout: f64,
        rng: &mut impl Rng,
        device: &Device,
    ) -> Self {
        Self {
            norm0: group_norm(c_in, device),
            conv0: conv(c_in, c_out, 3, 1, 1.0, rng, device),
            affine: linear(emb, 2 * c_out, 1.0, rng, device),
            norm1: group_norm(c_out, device),
            dropout: DropoutConfig::new(dropout).init(),
            conv1: conv(c_out, c_out, 3, 1, 0.0, rng, device),
            skip: (c_in != c_out).then(|| conv(c_in, c_out, 1, 1, 1.0, rng, device)),
        }
    }

    /// # Shapes
    /// `x`: `[batch, c_in, h, w]`, `emb`: `[batch, emb]`; result `[batch, c_out, h, w]`.
    pub(super) fn forward(&self, x: Tensor<4>, emb: Tensor<2>) -> Tensor<4> {
        let h = self.conv0.forward(silu(self.norm0.forward(x.clone())));
        let [batch, c_out, _, _] = h.dims();
        let params = self.affine.forward(emb).reshape([batch, 2 * c_out, 1, 1]);
        let scale = params.clone().narrow(1, 0, c_out);
        let shift = params.narrow(1, c_out, c_out);
        let h = silu(self.norm1.forward(h).mul(scale.add_scalar(1.0)).add(shift));
        let h = self.conv1.forward(self.dropout.forward(h));
        let skip = match &self.skip {
            Some(conv) => conv.forward(x),
            None => x,
        };
        h.add(skip)
    }
}

/// Halves the resolution with a stride-2 3×3 convolution.
#[derive(Module, Debug)]
pub(super) struct Downsample {
    conv: Conv2d,
}

impl Downsample {
    pub(super) fn new(channels: usize, rng: &mut impl Rng, device: &Device) -> Self {
        Self {
            conv: conv(channels, channels, 3, 2, 1.0, rng, device),
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
    pub(super) fn new(channels: usize, rng: &mut impl Rng, device: &Device) -> Self {
        Self {
            conv: conv(channels, channels, 3, 1, 1.0, rng, device),
        }
    }

    /// # Shapes
    /// `[batch, c, h, w]` → `[batch, c, 2h, 2w]`.
    pub(super) fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.conv.forward(nearest_2x(x))
    }
}

/// Nearest-neighbour upsampling by 2: `[batch, c, h, w]` → `[batch, c, 2h, 2w]`.
fn nearest_2x(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h, 1, w, 1])
        .expand([b, c, h, 2, w, 2])
        .reshape([b, c, 2 * h, 2 * w])
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

    #[test]
    fn unet_upsample_repeats_each_pixel() {
        let device = Device::flex();
        let x = Tensor::<1>::from_floats([1.0, 2.0, 3.0, 4.0], &device).reshape([1, 1, 2, 2]);
        let v = nearest_2x(x).try_into_vec_as::<f32>().expect("f32");
        #[rustfmt::skip]
        let expected = [
            1.0, 1.0, 2.0, 2.0,
            1.0, 1.0, 2.0, 2.0,
            3.0, 3.0, 4.0, 4.0,
            3.0, 3.0, 4.0, 4.0,
        ];
        assert_eq!(v, expected);
    }
}
