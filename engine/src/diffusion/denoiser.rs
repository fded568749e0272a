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
