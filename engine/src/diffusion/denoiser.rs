//! The one interface every denoiser offers: exact mixtures, networks, frozen teachers.

use burn::prelude::*;

/// `D(x; σ)`: an estimate of `x_0` from `x = x_0 + σ ε`.
///
/// # Shapes
/// `x`: `[batch, dim]`, `sigma`: `[batch, 1]`, result: `[batch, dim]`.
pub trait Denoiser {
    /// Denoises a batch; differentiable in `x` on an autodiff device.
    fn denoise(&self, x: Tensor<2>, sigma: Tensor<2>) -> Tensor<2>;
}

/// `D(x; σ, y)`: a denoiser that may be class-conditional. In class-conditional distillation
/// the same class `y` goes to the generator, the fake denoiser and the teacher (SIM paper §4).
///
/// # Shapes
/// `x`: `[batch, dim]`, `sigma`: `[batch, 1]`, `labels`: one-hot rows `[batch, classes]` or
/// `None` (unconditional); result: `[batch, dim]`.
pub trait LabelledDenoiser {
    /// Denoises a batch with its class vectors; differentiable in `x` on an autodiff device.
    fn denoise_labelled(
        &self,
        x: Tensor<2>,
        sigma: Tensor<2>,
        labels: Option<Tensor<2>>,
    ) -> Tensor<2>;
}

/// A [`LabelledDenoiser`] with its class vectors bound, as a plain [`Denoiser`] (for the
/// sampler and the losses, which know nothing of labels).
///
/// # Shapes
/// `labels`: `[batch, classes]`, the batch of every `denoise` call.
#[derive(Debug)]
pub struct WithLabels<'a, N> {
    /// The conditional denoiser.
    pub net: &'a N,
    /// Its class vectors.
    pub labels: Tensor<2>,
}

impl<N: LabelledDenoiser> Denoiser for WithLabels<'_, N> {
    fn denoise(&self, x: Tensor<2>, sigma: Tensor<2>) -> Tensor<2> {
        self.net
            .denoise_labelled(x, sigma, Some(self.labels.clone()))
    }
}
