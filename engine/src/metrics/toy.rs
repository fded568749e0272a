//! Metrics of 2-D samples (docs/algorithm.md §4, §6). With a Gaussian-mixture teacher the posterior
//! `p(k | x)` is exact, so the Inception Score and mode coverage are exact quantities.

use serde::{Deserialize, Serialize};

use super::{Gaussian, MetricError, frechet_distance, inception_score};
use crate::data::toy::GaussianMixture;

/// One evaluation of a set of 2-D samples.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ToyMetrics {
    /// Exact Inception Score from the mixture posterior at σ = 0 (max K); mixtures only.
    pub is: Option<f64>,
    /// Fraction of modes that are covered: a mode is covered when the samples assigned to it
    /// (posterior argmax) *and* within 3 of its stds of its mean number at least 10 % of the
    /// count its weight predicts. Mixtures only.
    pub mode_coverage: Option<f64>,
    /// Fraction of samples within 3 stds of the mean of their most likely mode. Mixtures only.
    pub in_mode: Option<f64>,
    /// Fréchet distance of the raw 2-D samples to the reference (teacher) samples:
    /// "FD (raw 2-D)", not an FID.
    pub fd: f64,
}

/// Evaluates `samples` (`[n, 2]` row-major) against the teacher's `reference` fit.
pub fn toy_metrics(
    samples: &[f32],
    reference: &Gaussian,
    mixture: Option<&GaussianMixture>,
) -> Result<ToyMetrics, MetricError> {
    let dim = reference.dim();
    let fd = frechet_distance(&Gaussian::fit(samples, dim)?, reference)?;
    let Some(mixture) = mixture else {
        return Ok(ToyMetrics {
            fd,
            ..ToyMetrics::default()
        });
    };
    let k = mixture.modes();
    let n = samples.len() / dim;
    let post = mixture.posterior(samples, 0.0);
    let is = inception_score(&post, k)?;
    let mut near = vec![0usize; k];
    for (x, p) in samples.chunks_exact(dim).zip(post.chunks_exact(k)) {
        let best = (0..k)
            .max_by(|&a, &b| p[a].total_cmp(&p[b]))
            .unwrap_or_default();
        let m = &mixture.means()[best];
        let d2: f64 = x
            .iter()
            .zip(m)
            .map(|(&a, b)| (f64::from(a) - b).powi(2))
            .sum();
        if d2.sqrt() <= 3.0 * mixture.stds()[best] * (dim as f64).sqrt() {
            near[best] += 1;
        }
    }
    let covered = near
        .iter()
        .zip(mixture.weights())
        .filter(|&(&c, &w)| c as f64 >= 0.1 * w * n as f64)
        .count();
    Ok(ToyMetrics {
        is: Some(is),
        mode_coverage: Some(covered as f64 / k as f64),
        in_mode: Some(near.iter().sum::<usize>() as f64 / n as f64),
        fd,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::toy::ToyData;
    use crate::rng::{Stream, rng_for};

    #[test]
    fn data_scores_near_k_and_collapse_scores_low() {
        let ring = ToyData::default().mixture().expect("mixture");
        let (real, labels) = ring.sample(&mut rng_for(0, 0, Stream::Other(1)), 8000);
        let (other, _) = ring.sample(&mut rng_for(0, 0, Stream::Other(2)), 8000);
        let reference = Gaussian::fit(&other, 2).expect("fit");
        let m = toy_metrics(&real, &reference, Some(&ring)).expect("metrics");
        let is = m.is.expect("exact IS");
        // Modes 0.765 apart with std 0.08 barely overlap: IS within 1 % of K = 8.
        assert!(is > 7.9 && is <= 8.0, "{is}");
        assert_eq!(m.mode_coverage, Some(1.0));
        assert!(m.fd < 0.01, "{}", m.fd);

        // All samples from two modes: IS ≈ 2, coverage 2/8.
        let collapsed: Vec<f32> = real
            .chunks_exact(2)
            .zip(&labels)
            .filter(|&(_, &l)| l < 2)
            .flat_map(|(x, _)| x.to_vec())
            .collect();
        let c = toy_metrics(&collapsed, &reference, Some(&ring)).expect("metrics");
        assert!((c.is.expect("IS") - 2.0).abs() < 0.05);
        assert_eq!(c.mode_coverage, Some(0.25));
        assert!(c.fd > 0.3, "{}", c.fd);
    }
}
