//! [`DistillNet`]: what the one training step needs of the networks θ and ψ, so that the same
//! iteration distils a 2-D MLP and an image U-Net.

use burn::module::Module;
use burn::prelude::*;

use crate::diffusion::denoiser::{Denoiser, LabelledDenoiser};
use crate::nets::mlp::MlpDenoiser;
use crate::nets::song_unet::SongUNet;
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

/// A denoiser of square images that an image run distils: the teacher, and θ and ψ, which
/// start as copies of it (the workbench's own U-Net, or EDM's DDPM++ of a converted teacher).
pub trait ImageDenoiser: DistillNet + Denoiser + Clone + std::fmt::Debug + Send + 'static {
    /// `[C, H, W]` of its images (`dim = C·H·W`).
    fn image_shape(&self) -> [usize; 3];
    /// Channels of its first resolution level (what an iteration's activations scale with).
    fn base_channels(&self) -> usize;
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

impl ImageDenoiser for UNetDenoiser {
    fn image_shape(&self) -> [usize; 3] {
        let c = self.config();
        [c.image_channels, c.image_size, c.image_size]
    }
    fn base_channels(&self) -> usize {
        self.config().channels
    }
}

impl LabelledDenoiser for SongUNet {
    fn denoise_labelled(
        &self,
        x: Tensor<2>,
        sigma: Tensor<2>,
        labels: Option<Tensor<2>>,
    ) -> Tensor<2> {
        SongUNet::denoise_labelled(self, x, sigma, labels)
    }
}

impl DistillNet for SongUNet {
    fn dim(&self) -> usize {
        SongUNet::dim(self)
    }
    /// σ_d of the distillation's losses: EDM's own, or 0.5 under VP preconditioning.
    fn sigma_data(&self) -> f64 {
        self.config().precond.sigma_data()
    }
    fn classes(&self) -> usize {
        self.config().label_dim
    }
}

impl ImageDenoiser for SongUNet {
    fn image_shape(&self) -> [usize; 3] {
        let c = self.config();
        [c.img_channels, c.img_resolution, c.img_resolution]
    }
    fn base_channels(&self) -> usize {
        self.config().model_channels
    }
}
