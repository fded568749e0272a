//! [`DistillNet`]: what the one training step needs of the networks θ and ψ, so that the same
//! iteration distils a 2-D MLP and an image U-Net.

use burn::module::Module;
use burn::prelude::*;

use crate::diffusion::denoiser::{Denoiser, LabelledDenoiser};
use crate::nets::mlp::MlpDenoiser;
use crate::nets::unet::UNetDenoiser;

/// A trainable EDM denoiser that can be the generator `g_θ(z, y) = D_θ(z; t*, y)` (B.4) and
/// the fake denoiser `D_ψ(x; σ, y)`.
pub trait DistillNet: Module + LabelledDenoiser {
    /// Values per sample: the width of the flat rows (2 for toys, `C·H·W` for images).
    fn dim(&self) -> usize;
    /// EDM's σ_d the network is preconditioned for.
    fn sigma_data(&self) -> f64;
    /// Number of classes of its one-hot labels; 0 = unconditional (no labels are drawn).
    fn classes(&self) -> usize;
}

impl LabelledDenoiser for MlpDenoiser {
    /// The MLP is unconditional: `labels` is always `None` for it (`classes() == 0`).
    fn denoise_labelled(&self, x: Tensor<2>, sigma: Tensor<2>, _: Option<Tensor<2>>) -> Tensor<2> {
        self.denoise(x, sigma)
    }
}

impl DistillNet for MlpDenoiser {
    fn dim(&self) -> usize {
        MlpDenoiser::dim(self)
    }
    fn sigma_data(&self) -> f64 {
        MlpDenoiser::sigma_data(self)
    }
    fn classes(&self) -> usize {
        0
    }
}

impl LabelledDenoiser for UNetDenoiser {
    fn denoise_labelled(
        &self,
        x: Tensor<2>,
        sigma: Tensor<2>,
        labels: Option<Tensor<2>>,
    ) -> Tensor<2> {
        UNetDenoiser::denoise_labelled(self, x, sigma, labels)
    }
}

impl DistillNet for UNetDenoiser {
    fn dim(&self) -> usize {
        UNetDenoiser::dim(self)
    }
    fn sigma_data(&self) -> f64 {
        UNetDenoiser::sigma_data(self)
    }
    fn classes(&self) -> usize {
        self.config().classes
    }
}
