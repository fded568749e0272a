//! The middle self-attention of the workbench U-Net over the `h·w` pixels of a feature map:
//! the attention of EDM's `UNetBlock` (Karras et al. 2022, after ADM) as a module of its own,
//! between the middle's two residual blocks.

use burn::nn::GroupNorm;
use burn::nn::conv::Conv2d;
use burn::prelude::*;

use crate::error::Result;
use crate::nets::unet_block::{Layers, attention};

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
    pub(super) fn new(channels: usize, layers: &mut impl Layers) -> Result<Self> {
        let heads = if channels.is_multiple_of(CHANNELS_PER_HEAD) {
            (channels / CHANNELS_PER_HEAD).max(1)
        } else {
            1
        };
        Ok(Self {
            norm: layers.group_norm(channels)?,
            qkv: layers.conv(channels, 3 * channels, 1, false),
            proj: layers.conv(channels, channels, 1, true),
            heads,
        })
    }

    /// # Shapes
    /// `x`: `[batch, c, h, w]`; result: the same.
    pub(super) fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let qkv = self.qkv.forward(self.norm.forward(x.clone()));
        x.add(self.proj.forward(attention(qkv, self.heads)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nets::unet::layers::Seeded;
    use crate::rng::{Stream, normal, rng_for};

    #[test]
    fn unet_attention_heads_and_identity_at_init() {
        let device = Device::flex();
        let mut rng = rng_for(0, 0, Stream::Other(0));
        let mut attention = |channels| {
            let layers = &mut Seeded {
                rng: &mut rng,
                device: &device,
            };
            SelfAttention::new(channels, layers).expect("builds")
        };
        for (channels, heads) in [(32, 1), (64, 1), (96, 1), (128, 2), (256, 4)] {
            assert_eq!(attention(channels).heads, heads);
        }
        let attn = attention(128);
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
