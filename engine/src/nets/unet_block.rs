//! EDM's `UNetBlock` (Karras et al. 2022, `training/networks.py`): the one residual block of
//! both U-Nets, the workbench's own (`unet`, the ADM settings of EDM's `DhariwalUNet`) and
//! DDPM++ (`song_unet`, those of its `SongUNet`), which differ only in a [`BlockConfig`] and in
//! how they make their layers ([`Layers`]); with the block's resampling and its multi-head
//! self-attention, which the workbench U-Net's middle attention shares.

use burn::nn::conv::Conv2d;
use burn::nn::{Dropout, DropoutConfig, GroupNorm, Linear};
use burn::prelude::*;
use burn::tensor::activation::{silu, softmax};

use crate::error::Result;

/// How a U-Net makes its layers: its initialisation (drawn from a seed, or zeros for a file to
/// fill) and its rule for group normalisation. The block asks for its layers in a fixed order
/// (`norm0`, `conv0`, `affine`, `norm1`, `conv1`, `skip`, `norm2`, `qkv`, `proj`), so a seeded
/// initialisation draws them alike every time.
pub(super) trait Layers {
    /// A `k × k` convolution `c_in → c_out` with "same" padding, stride 1 and a bias; `zero`:
    /// starting at zero (EDM's `init_zero`: the block's last convolution and the attention's
    /// projection).
    fn conv(&mut self, c_in: usize, c_out: usize, k: usize, zero: bool) -> Conv2d;

    /// A linear layer `d_in → d_out` with a bias.
    fn linear(&mut self, d_in: usize, d_out: usize) -> Linear;

    /// A group normalisation over `channels`; an error when the network's rule has no group
    /// count for them.
    fn group_norm(&mut self, channels: usize) -> Result<GroupNorm>;
}

/// The resampling a block does before its first convolution and on its skip path (EDM's
/// `Conv2d` with `up` / `down` and the filter `[1, 1]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Resample {
    /// Same resolution.
    Keep,
    /// Half: the filter `[1,1]ᵀ[1,1] / 4` at stride 2, a 2 × 2 mean.
    Down,
    /// Double: the transposed filter × 4 at stride 2, each pixel repeated 2 × 2 (nearest
    /// neighbour).
    Up,
}

impl Resample {
    /// # Shapes
    /// `[b, c, h, w]` → `[b, c, h/2, w/2]` (down), `[b, c, 2h, 2w]` (up) or unchanged.
    pub(super) fn apply(self, x: Tensor<4>) -> Tensor<4> {
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

/// One block's widths and the settings in which EDM's U-Nets configure `UNetBlock`
/// differently (its constructor's arguments of the same names).
#[derive(Clone, Copy, Debug)]
pub(super) struct BlockConfig {
    /// Channels in.
    pub(super) c_in: usize,
    /// Channels out.
    pub(super) c_out: usize,
    /// Width of the conditioning embedding.
    pub(super) emb: usize,
    /// Dropout before the second convolution.
    pub(super) dropout: f64,
    /// Resampling before the first convolution and on the skip path.
    pub(super) resample: Resample,
    /// Heads of the self-attention after the residual sum; 0 = none.
    pub(super) heads: usize,
    /// How the embedding conditions the block: `true`, a per-channel scale and shift of the
    /// normalised features, `norm1(h)·(1 + scale) + shift` (ADM); `false`, added before the
    /// normalisation, `norm1(h + affine(emb))` (DDPM++).
    pub(super) adaptive_scale: bool,
    /// Factor after each residual sum: 1 (ADM) or √½ (DDPM++).
    pub(super) skip_scale: f64,
}

/// EDM's `UNetBlock`:
///
/// `h = conv1(dropout(silu(cond(norm1, conv0(resample(silu(norm0(x)))), emb))))`,
/// `x' = (h + skip(resample(x))) · skip_scale`, and with attention
/// `x'' = (proj(attention(qkv(norm2(x')))) + x') · skip_scale`,
///
/// where `cond` is the adaptive scale and shift or the added embedding
/// ([`BlockConfig::adaptive_scale`]) and `skip` a 1×1 convolution when the channels or the
/// resolution change. `conv1` and `proj` start at zero, so a fresh block is the identity (or
/// its skip path).
///
/// The field names are EDM's: they are the parameter paths of the checkpoints, the shipped
/// teachers and the converted EDM files (docs/edm-teachers.md).
#[derive(Module, Debug)]
pub(super) struct UNetBlock {
    norm0: GroupNorm,
    conv0: Conv2d,
    affine: Linear,
    norm1: GroupNorm,
    dropout: Dropout,
    conv1: Conv2d,
    skip: Option<Conv2d>,
    norm2: Option<GroupNorm>,
    qkv: Option<Conv2d>,
    proj: Option<Conv2d>,
    #[module(skip)]
    resample: Resample,
    #[module(skip)]
    heads: usize,
    #[module(skip)]
    adaptive_scale: bool,
    #[module(skip)]
    skip_scale: f64,
}

impl UNetBlock {
    /// The block of `config`, its layers made by `layers` in the order [`Layers`] names.
    pub(super) fn new(config: &BlockConfig, layers: &mut impl Layers) -> Result<Self> {
        let (c_in, c_out) = (config.c_in, config.c_out);
        let affine_width = if config.adaptive_scale { 2 } else { 1 } * c_out;
        let norm0 = layers.group_norm(c_in)?;
        let conv0 = layers.conv(c_in, c_out, 3, false);
        let affine = layers.linear(config.emb, affine_width);
        let norm1 = layers.group_norm(c_out)?;
        let conv1 = layers.conv(c_out, c_out, 3, true);
        let changes = c_in != c_out || config.resample != Resample::Keep;
        let skip = changes.then(|| layers.conv(c_in, c_out, 1, false));
        let (norm2, qkv, proj) = if config.heads > 0 {
            (
                Some(layers.group_norm(c_out)?),
                Some(layers.conv(c_out, 3 * c_out, 1, false)),
                Some(layers.conv(c_out, c_out, 1, true)),
            )
        } else {
            (None, None, None)
        };
        Ok(Self {
            norm0,
            conv0,
            affine,
            norm1,
            dropout: DropoutConfig::new(config.dropout).init(),
            conv1,
            skip,
            norm2,
            qkv,
            proj,
            resample: config.resample,
            heads: config.heads,
            adaptive_scale: config.adaptive_scale,
            skip_scale: config.skip_scale,
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
        let params = self.affine.forward(emb);
        let h = if self.adaptive_scale {
            let params = params.reshape([batch, 2 * c_out, 1, 1]);
            let scale = params.clone().narrow(1, 0, c_out);
            let shift = params.narrow(1, c_out, c_out);
            silu(self.norm1.forward(h).mul(scale.add_scalar(1.0)).add(shift))
        } else {
            let params = params.reshape([batch, c_out, 1, 1]);
            silu(self.norm1.forward(h.add(params)))
        };
        let h = self.conv1.forward(self.dropout.forward(h));
        let orig = self.resample.apply(x);
        let skip = match &self.skip {
            Some(conv) => conv.forward(orig),
            None => orig,
        };
        let x = self.scaled(h.add(skip));
        match (&self.norm2, &self.qkv, &self.proj) {
            (Some(norm2), Some(qkv), Some(proj)) => {
                let a = attention(qkv.forward(norm2.forward(x.clone())), self.heads);
                self.scaled(proj.forward(a).add(x))
            }
            _ => x,
        }
    }

    /// A residual sum times `skip_scale` (left alone at 1).
    fn scaled(&self, x: Tensor<4>) -> Tensor<4> {
        if self.skip_scale == 1.0 {
            x
        } else {
            x.mul_scalar(self.skip_scale)
        }
    }
}

/// Self-attention over the pixels of EDM's `qkv` map with `heads` heads (EDM's `UNetBlock` and
/// `AttentionOp`): channel `head·3d + i·3 + j` of the `3C`-wide map is part `j` (q, k, v) of
/// channel `i` of head `head`, `d = C / heads`; per head
/// `w = softmax_k(qᵀ(k / √d))`, `a[i, q] = Σ_k w[q, k] v[i, k]`.
///
/// # Shapes
/// `qkv`: `[b, 3C, h, w]`; result `[b, C, h, w]`.
pub(super) fn attention(qkv: Tensor<4>, heads: usize) -> Tensor<4> {
    let [b, c3, h, w] = qkv.dims();
    let (c, tokens) = (c3 / 3, h * w);
    let (n, d) = (b * heads, c / heads);
    let qkv = qkv.reshape([n, d, 3, tokens]);
    let part = |i: usize| qkv.clone().narrow(2, i, 1).reshape([n, d, tokens]);
    let (q, k, v) = (part(0), part(1), part(2));
    // weights[n, i, j] = softmax_j(q_i · k_j / √d), k scaled first as EDM's AttentionOp does.
    let weights = softmax(q.swap_dims(1, 2).matmul(k.div_scalar((d as f64).sqrt())), 2);
    // out[n, :, i] = Σ_j weights[n, i, j] v[n, :, j]
    v.matmul(weights.swap_dims(1, 2)).reshape([b, c, h, w])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(t: Tensor<4>) -> Vec<f32> {
        t.try_into_vec_as::<f32>().expect("f32")
    }

    #[test]
    fn unet_block_resampling_means_and_repeats() {
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
        let up = host(Resample::Up.apply(x.narrow(2, 0, 2).narrow(3, 0, 2)));
        #[rustfmt::skip]
        let expected = [
            1.0, 1.0, 2.0, 2.0,
            1.0, 1.0, 2.0, 2.0,
            5.0, 5.0, 6.0, 6.0,
            5.0, 5.0, 6.0, 6.0,
        ];
        assert_eq!(up, expected);
    }

    /// Two heads attend separately: the result of a two-head map is that of each head's
    /// channels alone.
    #[test]
    fn unet_block_attention_heads_are_independent() {
        let device = Device::flex();
        let mut rng = crate::rng::rng_for(0, 0, crate::rng::Stream::Other(0));
        let (b, d, h, w) = (2, 3, 2, 2);
        let values = crate::rng::normal(&mut rng, b * 2 * 3 * d * h * w, 1.0);
        let qkv = Tensor::<4>::from_data(TensorData::new(values, [b, 2 * 3 * d, h, w]), &device);
        let both = host(attention(qkv.clone(), 2));
        for head in 0..2 {
            let alone = host(attention(qkv.clone().narrow(1, head * 3 * d, 3 * d), 1));
            for image in 0..b {
                let size = d * h * w;
                let at = image * 2 * size + head * size;
                assert_eq!(
                    &both[at..at + size],
                    &alone[image * size..(image + 1) * size]
                );
            }
        }
    }
}
