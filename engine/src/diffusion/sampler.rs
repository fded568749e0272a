//! The teacher's multi-step sampler: EDM Algorithm 1 (deterministic Heun), and plain Euler.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::denoiser::Denoiser;
use super::edm::{RHO, SIGMA_MAX, SIGMA_MIN};

/// Integrator of the probability-flow ODE.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Integrator {
    /// Euler step plus Heun's correction except on the last step: `2N − 1` evaluations.
    #[default]
    Heun,
    /// Euler steps only: `N` evaluations.
    Euler,
}

impl Integrator {
    /// Network evaluations (NFE) of `steps` steps.
    pub fn nfe(self, steps: usize) -> usize {
        match self {
            Self::Heun => (2 * steps).saturating_sub(1),
            Self::Euler => steps,
        }
    }
}

/// Most steps of one sampling (EDM uses 18 to 511; more only multiplies the time).
pub const MAX_STEPS: usize = 10_000;

/// The EDM time steps `σ_0 > … > σ_{N−1}`, then `σ_N = 0` (EDM Algorithm 1, eq. 5).
pub fn sigma_steps(steps: usize) -> Vec<f64> {
    let (hi, lo) = (SIGMA_MAX.powf(1.0 / RHO), SIGMA_MIN.powf(1.0 / RHO));
    let mut sigmas: Vec<f64> = (0..steps)
        .map(|i| {
            let frac = if steps > 1 {
                i as f64 / (steps - 1) as f64
            } else {
                0.0
            };
            (hi + frac * (lo - hi)).powf(RHO)
        })
        .collect();
    sigmas.push(0.0);
    sigmas
}

/// Integrates from `x = σ_max · noise` down to σ = 0 with `steps` steps.
///
/// # Shapes
/// `noise` (standard normal): `[batch, dim]`; result: `[batch, dim]`.
pub fn sample(
    denoiser: &impl Denoiser,
    integrator: Integrator,
    steps: usize,
    noise: Tensor<2>,
) -> Tensor<2> {
    let sigmas = sigma_steps(steps);
    let [batch, _] = noise.dims();
    let device = noise.device();
    let level = |s: f64| Tensor::<2>::full([batch, 1], s, &device);
    let mut x = noise.mul_scalar(sigmas[0]);
    for pair in sigmas.windows(2) {
        let (s, s_next) = (pair[0], pair[1]);
        // dx/dσ = (x − D(x; σ)) / σ
        let slope = x
            .clone()
            .sub(denoiser.denoise(x.clone(), level(s)))
            .div_scalar(s);
        let x_euler = x.clone().add(slope.clone().mul_scalar(s_next - s));
        x = if integrator == Integrator::Heun && s_next > 0.0 {
            let slope_next = x_euler
                .clone()
                .sub(denoiser.denoise(x_euler, level(s_next)))
                .div_scalar(s_next);
            x.add(slope.add(slope_next).mul_scalar(0.5 * (s_next - s)))
        } else {
            x_euler
        };
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_endpoints_and_nfe() {
        let s = sigma_steps(18);
        assert_eq!(s.len(), 19);
        assert!((s[0] - 80.0).abs() < 1e-9 && (s[17] - 0.002).abs() < 1e-12 && s[18] == 0.0);
        assert!(s.windows(2).all(|w| w[0] > w[1]));
        assert_eq!(Integrator::Heun.nfe(18), 35);
        assert_eq!(Integrator::Euler.nfe(18), 18);
    }
}
