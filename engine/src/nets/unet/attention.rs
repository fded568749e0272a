//! Self-attention over the `h·w` pixels of a feature map (the attention of EDM's U-Net block,
//! Karras et al. 2022, after ADM).

use burn::nn::GroupNorm;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::softmax;
use rand::Rng;

use super::block::{conv, group_norm};

/// Channels per attention head (ADM's `channels_per_head`).
const CHANNELS_PER_HEAD: usize = 64;

/// `x + proj(attention(qkv(norm(x))))` with `channels / 64` heads (one head below 128
/// channels, or when 64 does not divide the channel count). `proj` starts at zero, so a fresh
/// block is the identity.
#[derive(Module, Debug)]
pub(super) struct SelfAttention {
    norm: GroupNorm,
    qkv: Conv2d,
    proj: Conv2d,
    #[module(skip)]
    heads: usize,
}

impl SelfAttention {
    /// Attention over feature maps with `channels` channels.
    pub(super) fn new(channels: usize, rng: &mut impl Rng, device: &Device) -> Self {
        let heads = if channels.is_multiple_of(CHANNELS_PER_HEAD) {
            (channels / CHANNELS_PER_HEAD).max(1)
        } else {
            1
        };
        Self {
            norm: group_norm(channels, device),
            qkv: conv(channels, 3 * channels, 1, 1, 1.0, rng, device),
            proj: conv(channels, channels, 1, 1, 0.0, rng, device),
            heads,
        }
    }

    /// # Shapes
    /// `x`: `[batch, c, h, w]`; result: the same.
    pub(super) fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, c, h, w] = x.dims();
        let (n, d, tokens) = (b * self.heads, c / self.heads, h * w);
        // Channel index of the 3c-wide qkv map: head · 3d + channel · 3 + (q | k | v) (EDM).
        let qkv = self
            .qkv
            .forward(self.norm.forward(x.clone()))
            .reshape([n, d, 3, tokens]);
        let part = |i: usize| qkv.clone().narrow(2, i, 1).reshape([n, d, tokens]);
        let (q, k, v) = (part(0), part(1), part(2));
        // weights[n, i, j] = softmax_j(q_i · k_j / √d)
        let weights = softmax(q.swap_dims(1, 2).matmul(k).div_scalar((d as f64).sqrt()), 2);
        // out[n, :, i] = Σ_j weights[n, i, j] v[n, :, j]
        let out = v.matmul(weights.swap_dims(1, 2)).reshape([b, c, h, w]);
        x.add(self.proj.forward(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, normal, rng_for};

    #[test]
    fn unet_attention_heads_and_identity_at_init() {
        let device = Device::flex();
        let mut rng = rng_for(0, 0, Stream::Other(0));
        for (channels, heads) in [(32, 1), (64, 1), (96, 1), (128, 2), (256, 4)] {
            assert_eq!(SelfAttention::new(channels, &mut rng, &device).heads, heads);
        }
        let attn = SelfAttention::new(128, &mut rng, &device);
        let x = Tensor::<4>::from_data(
            TensorData::new(normal(&mut rng, 2 * 128 * 16, 1.0), [2, 128, 4, 4]),
            &device,
        );
        let y = attn.forward(x.clone());
        assert_eq!(y.dims(), [2, 128, 4, 4]);
        let (x, y) = (
            x.try_into_vec_as::<f32>().expect("f32"),
            y.try_into_vec_as::<f32>().expect("f32"),
        );
        assert_eq!(
            x, y,
            "zero-initialised projection: attention starts as the identity"
        );
    }
}
