//! The layers of EDM's `SongUNet` (DDPM++): zero-initialised layer constructors (a converted
//! teacher file fills them), EDM's group normalisation, the resampling of its `[1, 1]` filter,
//! and its `UNetBlock` with the DDPM++ settings (Karras et al. 2022, `training/networks.py`;
//! docs/edm-teachers.md).

use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::nn::{Dropout, DropoutConfig, GroupNorm, GroupNormConfig, Linear, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{silu, softmax};

use super::config::group_count;
use crate::error::{EngineError, Result};

/// DDPM++'s residual scaling `skip_scale = √½`, after the skip sum and after attention.
const SKIP_SCALE: f64 = std::f64::consts::FRAC_1_SQRT_2;

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

/// The resampling a block does before its first convolution and on its skip path (EDM's
/// `Conv2d` with `up` / `down` and filter `[1, 1]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Resample {
    /// Same resolution.
    Keep,
    /// Half: the filter `[1,1]ᵀ[1,1] / 4` at stride 2, a 2 × 2 mean.
    Down,
    /// Double: the transposed filter × 4 at stride 2, each pixel repeated 2 × 2.
    Up,
}

impl Resample {
    /// # Shapes
    /// `[b, c, h, w]` → `[b, c, h/2, w/2]` (down), `[b, c, 2h, 2w]` (up) or unchanged.
    fn apply(self, x: Tensor<4>) -> Tensor<4> {
        let [b, c, h, w] = x.dims();
        match self {
            Self::Keep => x,
            Self::Down => x
                .reshape([b, c, h / 2, 2, w / 2, 2])
                .sum_dim(5)
                .sum_dim(3)
                .reshape([b, c, h / 2, w / 2])
                .mul_scalar(0.25),
            Self::Up => x
                .reshape([b, c, h, 1, w, 1])
                .expand([b, c, h, 2, w, 2])
                .reshape([b, c, 2 * h, 2 * w]),
        }
    }
}

/// EDM's `UNetBlock` as DDPM++ configures it (`adaptive_scale = False`, `resample_proj =
/// True`, one attention head, `skip_scale = √½`, ε = 1e-6):
///
/// `h = conv1(dropout(silu(norm1(conv0(resample(silu(norm0(x)))) + affine(emb)))))`,
/// `x' = (h + skip(resample(x))) · √½`, and with attention
/// `x'' = (proj(attention(qkv(norm2(x')))) + x') · √½`.
///
/// The field names are EDM's, so a converted file's tensors keep their names
/// (docs/edm-teachers.md).
#[derive(Module, Debug)]
pub(super) struct UNetBlock {
    norm0: GroupNorm,
    conv0: Conv2d,
    affine: Linear,
    norm1: GroupNorm,
    dropout: Dropout,
    conv1: Conv2d,
    /// A 1×1 convolution after the resampling, when the channels or the resolution change.
    skip: Option<Conv2d>,
    norm2: Option<GroupNorm>,
    qkv: Option<Conv2d>,
    proj: Option<Conv2d>,
    #[module(skip)]
    resample: Resample,
}

impl UNetBlock {
    /// A block `c_in → c_out` conditioned on an embedding of width `emb`, with attention or
    /// not, at zero.
    pub(super) fn new(
        c_in: usize,
        c_out: usize,
        emb: usize,
        attention: bool,
        resample: Resample,
        dropout: f64,
        device: &Device,
    ) -> Result<Self> {
        let changes = c_in != c_out || resample != Resample::Keep;
        let (norm2, qkv, proj) = if attention {
            (
                Some(group_norm(c_out, device)?),
                Some(conv(c_out, 3 * c_out, 1, device)),
                Some(conv(c_out, c_out, 1, device)),
            )
        } else {
            (None, None, None)
        };
        Ok(Self {
            norm0: group_norm(c_in, device)?,
            conv0: conv(c_in, c_out, 3, device),
            affine: linear(emb, c_out, true, device),
            norm1: group_norm(c_out, device)?,
            dropout: DropoutConfig::new(dropout).init(),
            conv1: conv(c_out, c_out, 3, device),
            skip: changes.then(|| conv(c_in, c_out, 1, device)),
            norm2,
            qkv,
            proj,
            resample,
        })
    }

    /// # Shapes
    /// `x`: `[batch, c_in, h, w]`, `emb`: `[batch, emb]`; result `[batch, c_out, h', w']`
    /// (`h' = h/2` down, `2h` up).
    pub(super) fn forward(&self, x: Tensor<4>, emb: Tensor<2>) -> Tensor<4> {
        let h = self
            .conv0
            .forward(self.resample.apply(silu(self.norm0.forward(x.clone()))));
        let [batch, c_out, _, _] = h.dims();
        let params = self.affine.forward(emb).reshape([batch, c_out, 1, 1]);
        let h = silu(self.norm1.forward(h.add(params)));
        let h = self.conv1.forward(self.dropout.forward(h));
        let orig = self.resample.apply(x);
        let skip = match &self.skip {
            Some(conv) => conv.forward(orig),
            None => orig,
        };
        let x = h.add(skip).mul_scalar(SKIP_SCALE);
        match (&self.norm2, &self.qkv, &self.proj) {
            (Some(norm2), Some(qkv), Some(proj)) => {
                let a = attention(qkv.forward(norm2.forward(x.clone())));
                proj.forward(a).add(x).mul_scalar(SKIP_SCALE)
            }
            _ => x,
        }
    }
}

/// One-head self-attention over the pixels of EDM's `qkv` map, whose channel `3c + i` is
/// part `i` (q, k, v) of channel `c`: `w = softmax_k(qᵀk / √C)`, `a[c, q] = Σ_k w[q, k] v[c, k]`.
///
/// # Shapes
/// `qkv`: `[b, 3C, h, w]`; result `[b, C, h, w]`.
fn attention(qkv: Tensor<4>) -> Tensor<4> {
    let [b, c3, h, w] = qkv.dims();
    let (c, tokens) = (c3 / 3, h * w);
    let qkv = qkv.reshape([b, c, 3, tokens]);
    let part = |i: usize| qkv.clone().narrow(2, i, 1).reshape([b, c, tokens]);
    let (q, k, v) = (part(0), part(1), part(2));
    let weights = softmax(q.swap_dims(1, 2).matmul(k.div_scalar((c as f64).sqrt())), 2);
    v.matmul(weights.swap_dims(1, 2)).reshape([b, c, h, w])
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

    fn host(t: Tensor<4>) -> Vec<f32> {
        t.try_into_vec_as::<f32>().expect("f32")
    }

    #[test]
    fn song_unet_resampling_means_and_repeats() {
        let device = Device::flex();
        let x = Tensor::<1>::from_floats(
            [
                1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0,
                16.0,
            ],
            &device,
        )
        .reshape([1, 1, 4, 4]);
        // 2 × 2 means of [[1, 2], [5, 6]], [[3, 4], [7, 8]], …
        assert_eq!(
            host(Resample::Down.apply(x.clone())),
            [3.5, 5.5, 11.5, 13.5]
        );
        let up = host(Resample::Up.apply(x.narrow(2, 0, 1).narrow(3, 0, 2)));
        assert_eq!(up, [1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0]);
    }

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
