//! The EDM denoising loss, used to train teachers, the fake denoiser ψ, and the initial fit.

use burn::prelude::*;

use super::edm::loss_weight;

/// Batch mean of `λ(σ) ‖D(x_t; σ) − target‖²` (B.5–B.7), summed over data dimensions.
/// `target` is `x_0` for the usual loss, or an exact denoiser's output for a lower-variance
/// regression onto a known teacher.
///
/// # Shapes
/// `denoised`, `target`: `[batch, dim]`; `sigma`: `[batch, 1]`; result: `[1]`.
pub fn denoising_loss(
    denoised: Tensor<2>,
    target: Tensor<2>,
    sigma: Tensor<2>,
    sigma_data: f64,
) -> Tensor<1> {
    let per_sample = denoised.sub(target).square().sum_dim(1);
    per_sample.mul(loss_weight(sigma, sigma_data)).mean()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_hand_computation() {
        let device = Device::flex();
        let d = Tensor::<2>::from_floats([[1.0, 2.0], [0.0, 0.0]], &device);
        let x0 = Tensor::<2>::from_floats([[0.0, 0.0], [1.0, 1.0]], &device);
        let sigma = Tensor::<2>::from_floats([[0.5], [1.0]], &device);
        let sd = 0.5;
        let lam = |s: f64| (s * s + sd * sd) / (s * sd).powi(2);
        let expect = (lam(0.5) * 5.0 + lam(1.0) * 2.0) / 2.0;
        let got: f32 = denoising_loss(d, x0, sigma, sd).into_scalar();
        assert!(
            (f64::from(got) - expect).abs() < 1e-4 * expect,
            "{got} vs {expect}"
        );
    }
}
