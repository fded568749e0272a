//! Noise-level distributions of the two training phases (docs/algorithm.md §3, "Time distribution").
//! Every draw is clamped to `[SIGMA_MIN, SIGMA_MAX]`.

use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use sim_formats::validation::ValidationError;

use super::edm::{RHO, SIGMA_MAX, SIGMA_MIN};

/// A distribution of σ, chosen per phase.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SigmaDistribution {
    /// `p_SIM`: `ln σ ~ N(−3.5, 2.5²)` (B.9–B.10, the paper's CIFAR-10 generator phase).
    Sim,
    /// `p_EDM`: `ln σ ~ N(−1.2, 1.2²)` (B.5–B.6, EDM training).
    Edm,
    /// SiD's code: `σ = (σ_max^{1/ρ} + (1 − u)(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ`, `u ~ U[0, 0.8]`,
    /// so σ ∈ [0.002, 24.4]. The paper's (B.8) reads the index the other way round
    /// (σ ∈ [0.084, 80]); this follows the code, which produced the published numbers.
    Karras,
    /// `ln σ ~ N(p_mean, p_std²)` with any parameters.
    LogNormal {
        /// Mean of ln σ.
        p_mean: f64,
        /// Standard deviation of ln σ.
        p_std: f64,
    },
}

impl SigmaDistribution {
    /// `(P_mean, P_std)` of a log-normal distribution; `None` for `Karras`.
    pub fn log_normal_params(self) -> Option<(f64, f64)> {
        match self {
            Self::Sim => Some((-3.5, 2.5)),
            Self::Edm => Some((-1.2, 1.2)),
            Self::Karras => None,
            Self::LogNormal { p_mean, p_std } => Some((p_mean, p_std)),
        }
    }

    /// One draw.
    pub fn sample_one(self, rng: &mut impl Rng) -> f64 {
        let sigma = match self.log_normal_params() {
            Some((p_mean, p_std)) => (p_mean + p_std * rng.sample::<f64, _>(StandardNormal)).exp(),
            None => {
                let u = rng.random_range(0.0..0.8);
                let (lo, hi) = (SIGMA_MIN.powf(1.0 / RHO), SIGMA_MAX.powf(1.0 / RHO));
                (hi + (1.0 - u) * (lo - hi)).powf(RHO)
            }
        };
        sigma.clamp(SIGMA_MIN, SIGMA_MAX)
    }

    /// `n` draws.
    pub fn sample(self, rng: &mut impl Rng, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.sample_one(rng) as f32).collect()
    }

    /// Checks the parameters of `LogNormal`.
    pub fn validate(self) -> Result<(), ValidationError> {
        match self {
            Self::LogNormal { p_mean, .. } if !p_mean.is_finite() => {
                Err(ValidationError::new("p_mean", "must be a finite number"))
            }
            Self::LogNormal { p_std, .. } if !(p_std.is_finite() && p_std >= 0.0) => Err(
                ValidationError::new("p_std", format!("must be a finite number ≥ 0, got {p_std}")),
            ),
            _ => Ok(()),
        }
    }

    /// A short label for plots and logs.
    pub fn label(self) -> String {
        match self {
            Self::Sim => "p_SIM".into(),
            Self::Edm => "p_EDM".into(),
            Self::Karras => "karras".into(),
            Self::LogNormal { p_mean, p_std } => format!("lognormal({p_mean}, {p_std})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, rng_for};

    #[test]
    fn log_normal_moments() {
        let mut rng = rng_for(0, 0, Stream::Other(1));
        let n = 200_000;
        let logs: Vec<f64> = SigmaDistribution::Edm
            .sample(&mut rng, n)
            .iter()
            .map(|&s| f64::from(s).ln())
            .collect();
        let mean = logs.iter().sum::<f64>() / n as f64;
        let var = logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        // Standard errors: 1.2/sqrt(n) ≈ 0.0027 for the mean; 5σ tolerance.
        assert!((mean + 1.2).abs() < 0.014, "{mean}");
        assert!((var.sqrt() - 1.2).abs() < 0.01, "{}", var.sqrt());
    }

    #[test]
    fn karras_range_follows_sid_code() {
        let mut rng = rng_for(0, 0, Stream::Other(2));
        let draws = SigmaDistribution::Karras.sample(&mut rng, 50_000);
        let (lo, hi) = draws
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &s| (a.min(s), b.max(s)));
        assert!((0.002..0.0025).contains(&lo), "{lo}");
        assert!(hi <= 24.5 && hi > 23.0, "{hi}");
    }

    #[test]
    fn sim_is_clamped() {
        let mut rng = rng_for(0, 0, Stream::Other(3));
        let draws = SigmaDistribution::Sim.sample(&mut rng, 100_000);
        assert!(draws.iter().all(|&s| (0.002..=80.0).contains(&s)));
        assert!(
            draws.contains(&0.002),
            "ln σ ~ N(−3.5, 2.5²) must hit the clamp"
        );
    }
}
