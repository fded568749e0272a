//! Fréchet distance between Gaussian fits of feature vectors (the FID formula, docs/algorithm.md §4).

use nalgebra::{DMatrix, DVector, SymmetricEigen};

use crate::error::MetricError;

/// A Gaussian fit (mean and unbiased covariance, in f64) of `count` feature vectors.
#[derive(Debug, Clone, PartialEq)]
pub struct Gaussian {
    /// Sample mean, length `dim`.
    pub mean: DVector<f64>,
    /// Unbiased sample covariance (divided by `count - 1`), `dim × dim`.
    pub cov: DMatrix<f64>,
    /// Number of samples the fit was computed from.
    pub count: usize,
}

impl Gaussian {
    /// Fits mean and unbiased covariance to row-major `[n, dim]` f32 features, accumulating in f64.
    ///
    /// Errors when `dim == 0`, `samples.len()` is not a multiple of `dim`, `n < 2`, or a value is
    /// not finite.
    pub fn fit(samples: &[f32], dim: usize) -> Result<Self, MetricError> {
        Self::fit_generic(samples, dim)
    }

    /// Same as [`Gaussian::fit`] for f64 features.
    pub fn fit_f64(samples: &[f64], dim: usize) -> Result<Self, MetricError> {
        Self::fit_generic(samples, dim)
    }

    /// Dimension of the feature space.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    fn fit_generic<T: Copy + Into<f64>>(samples: &[T], dim: usize) -> Result<Self, MetricError> {
        if dim == 0 {
            return Err(MetricError::ZeroDimension);
        }
        if !samples.len().is_multiple_of(dim) {
            return Err(MetricError::RaggedSamples {
                len: samples.len(),
                dim,
            });
        }
        let n = samples.len() / dim;
        if n < 2 {
            return Err(MetricError::TooFewSamples { n });
        }
        if let Some(index) = samples.iter().position(|&v| !v.into().is_finite()) {
            return Err(MetricError::NonFiniteSample { index });
        }
        let data = DMatrix::from_fn(n, dim, |i, j| samples[i * dim + j].into());
        let mean: DVector<f64> = data.row_mean().transpose();
        let centred = DMatrix::from_fn(n, dim, |i, j| data[(i, j)] - mean[j]);
        let cov = symmetrise(&(centred.tr_mul(&centred) / (n - 1) as f64));
        Ok(Self {
            mean,
            cov,
            count: n,
        })
    }

    fn check(&self) -> Result<(), MetricError> {
        let (rows, cols) = self.cov.shape();
        let dim = self.dim();
        let finite = self
            .mean
            .iter()
            .chain(self.cov.iter())
            .all(|v| v.is_finite());
        if rows != dim || cols != dim || !finite {
            return Err(MetricError::MalformedGaussian {
                mean: dim,
                rows,
                cols,
            });
        }
        if dim == 0 {
            return Err(MetricError::ZeroDimension);
        }
        Ok(())
    }
}

/// Fréchet distance `‖μ1 − μ2‖² + Tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^{1/2})` between two Gaussians
/// (docs/algorithm.md §4; this is FID when the Gaussians are fits of Inception-v3 pool3 features).
///
/// `Σ1 Σ2` is not symmetric, so its square root is not taken directly. Instead, with
/// `S = Σ1^{1/2}` (from the symmetric eigendecomposition of Σ1, eigenvalues clamped at 0),
/// `Σ1 Σ2 = S⁻¹ (S Σ2 S) S` is similar to the symmetric positive semi-definite
/// `M = S Σ2 S`, so `Tr (Σ1 Σ2)^{1/2} = Σ_i sqrt(λ_i(M))`. `M` is symmetrised as `(M + Mᵀ)/2` and its
/// eigenvalues clamped at 0 before the square root, so round-off never yields NaN or complex
/// values. All in f64. The result is clamped at 0 (tiny negative round-off becomes 0).
///
/// Errors when the dimensions differ, a Gaussian is malformed, or an eigendecomposition
/// does not converge.
pub fn frechet_distance(a: &Gaussian, b: &Gaussian) -> Result<f64, MetricError> {
    a.check()?;
    b.check()?;
    if a.dim() != b.dim() {
        return Err(MetricError::DimensionMismatch {
            left: a.dim(),
            right: b.dim(),
        });
    }
    let mean_term = (&a.mean - &b.mean).norm_squared();
    let s = psd_sqrt(&a.cov)?;
    let m = symmetrise(&(&s * &b.cov * &s));
    let tr_sqrt: f64 = eigen(&m)?
        .eigenvalues
        .iter()
        .map(|&l| l.max(0.0).sqrt())
        .sum();
    let fd = mean_term + a.cov.trace() + b.cov.trace() - 2.0 * tr_sqrt;
    Ok(fd.max(0.0))
}

/// `(m + mᵀ) / 2`.
fn symmetrise(m: &DMatrix<f64>) -> DMatrix<f64> {
    (m + m.transpose()) * 0.5
}

/// Symmetric eigendecomposition with an iteration cap (never loops forever, never panics).
fn eigen(m: &DMatrix<f64>) -> Result<SymmetricEigen<f64, nalgebra::Dyn>, MetricError> {
    let dim = m.nrows();
    SymmetricEigen::try_new(m.clone(), f64::EPSILON, 100 * dim + 100)
        .ok_or(MetricError::EigenNoConvergence { dim })
}

/// Square root of a symmetric positive semi-definite matrix; negative eigenvalues clamp to 0.
fn psd_sqrt(m: &DMatrix<f64>) -> Result<DMatrix<f64>, MetricError> {
    let mut e = eigen(&symmetrise(m))?;
    e.eigenvalues.apply(|l| *l = l.max(0.0).sqrt());
    Ok(symmetrise(&e.recompose()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic standard normals: 64-bit LCG + Box–Muller.
    struct Normal(u64);

    impl Normal {
        fn uniform(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // 53 high bits -> (0, 1].
            ((self.0 >> 11) as f64 + 1.0) / (1u64 << 53) as f64
        }
        fn sample(&mut self) -> f64 {
            let (u1, u2) = (self.uniform(), self.uniform());
            (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        }
    }

    /// `n` samples of N(mean, L Lᵀ) in 2-D, row-major f32.
    fn cloud(rng: &mut Normal, n: usize, mean: [f64; 2], l: [[f64; 2]; 2]) -> Vec<f32> {
        let mut out = Vec::with_capacity(2 * n);
        for _ in 0..n {
            let (z0, z1) = (rng.sample(), rng.sample());
            out.push((mean[0] + l[0][0] * z0 + l[0][1] * z1) as f32);
            out.push((mean[1] + l[1][0] * z0 + l[1][1] * z1) as f32);
        }
        out
    }

    fn gaussian(mean: &[f64], cov: DMatrix<f64>) -> Gaussian {
        Gaussian {
            mean: DVector::from_column_slice(mean),
            cov,
            count: 0,
        }
    }

    /// 2×2 closed form: `Tr sqrt(A) = sqrt(Tr A + 2 sqrt(det A))` for A with positive eigenvalues.
    fn fd_2x2(m1: [f64; 2], c1: &DMatrix<f64>, m2: [f64; 2], c2: &DMatrix<f64>) -> f64 {
        let a = c1 * c2;
        let tr_sqrt = (a.trace() + 2.0 * a.determinant().sqrt()).sqrt();
        (m1[0] - m2[0]).powi(2) + (m1[1] - m2[1]).powi(2) + c1.trace() + c2.trace() - 2.0 * tr_sqrt
    }

    #[test]
    fn fit_is_unbiased() {
        let g = Gaussian::fit(&[1.0, 2.0, 3.0, 6.0], 2).expect("fit");
        assert_eq!(g.count, 2);
        assert_eq!(g.mean, DVector::from_column_slice(&[2.0, 4.0]));
        // Divided by n - 1 = 1.
        assert_eq!(g.cov, DMatrix::from_row_slice(2, 2, &[2.0, 4.0, 4.0, 8.0]));
        assert_eq!(g, Gaussian::fit_f64(&[1.0, 2.0, 3.0, 6.0], 2).expect("fit"));
    }

    #[test]
    fn self_distance_is_zero() {
        let mut rng = Normal(7);
        let l = [[1.5, 0.0], [0.8, 0.4]];
        let g = Gaussian::fit(&cloud(&mut rng, 500, [3.0, -1.0], l), 2).expect("fit");
        let fd = frechet_distance(&g, &g).expect("fd");
        assert!(fd < 1e-9, "FD(g, g) = {fd}");
    }

    #[test]
    fn diagonal_closed_form() {
        let (m1, s1) = ([0.0, 1.0, -2.0], [1.0, 2.0, 0.5]);
        let (m2, s2) = ([0.5, -1.0, -2.0], [3.0, 2.0, 0.1]);
        let diag =
            |s: [f64; 3]| DMatrix::from_diagonal(&DVector::from_iterator(3, s.map(|v| v * v)));
        let a = gaussian(&m1, diag(s1));
        let b = gaussian(&m2, diag(s2));
        let expected: f64 = (0..3)
            .map(|i| (m1[i] - m2[i]).powi(2) + (s1[i] - s2[i]).powi(2))
            .sum();
        let fd = frechet_distance(&a, &b).expect("fd");
        assert!((fd - expected).abs() < 1e-9, "{fd} vs {expected}");
        let swapped = frechet_distance(&b, &a).expect("fd");
        assert!((swapped - expected).abs() < 1e-9, "{swapped} vs {expected}");
    }

    #[test]
    fn non_diagonal_closed_form() {
        let c1 = DMatrix::from_row_slice(2, 2, &[2.0, 0.5, 0.5, 1.0]);
        let c2 = DMatrix::from_row_slice(2, 2, &[1.0, -0.3, -0.3, 3.0]);
        let (m1, m2) = ([1.0, 2.0], [-0.5, 0.0]);
        let expected = fd_2x2(m1, &c1, m2, &c2);
        let fd =
            frechet_distance(&gaussian(&m1, c1.clone()), &gaussian(&m2, c2.clone())).expect("fd");
        assert!((fd - expected).abs() < 1e-9, "{fd} vs {expected}");
        // A diagonal-only shortcut would differ noticeably here.
        let naive = fd_2x2(
            m1,
            &DMatrix::from_diagonal(&c1.diagonal()),
            m2,
            &DMatrix::from_diagonal(&c2.diagonal()),
        );
        assert!((naive - expected).abs() > 1e-2);
    }

    #[test]
    fn sampled_clouds_match_true_distance() {
        let mut rng = Normal(42);
        let (m1, l1) = ([0.0, 0.0], [[1.0, 0.0], [0.6, 0.8]]);
        let (m2, l2) = ([1.5, -0.5], [[2.0, 0.0], [-0.5, 0.5]]);
        let n = 50_000;
        let a = Gaussian::fit(&cloud(&mut rng, n, m1, l1), 2).expect("fit");
        let b = Gaussian::fit(&cloud(&mut rng, n, m2, l2), 2).expect("fit");
        let cov = |l: [[f64; 2]; 2]| {
            let l = DMatrix::from_row_slice(2, 2, &[l[0][0], l[0][1], l[1][0], l[1][1]]);
            &l * l.transpose()
        };
        let expected = fd_2x2(m1, &cov(l1), m2, &cov(l2));
        let fd = frechet_distance(&a, &b).expect("fd");
        assert!((fd - expected).abs() < 0.03, "{fd} vs {expected}");
    }

    #[test]
    fn bad_shapes_are_errors() {
        assert_eq!(Gaussian::fit(&[1.0; 6], 0), Err(MetricError::ZeroDimension));
        assert_eq!(
            Gaussian::fit(&[1.0; 7], 2),
            Err(MetricError::RaggedSamples { len: 7, dim: 2 })
        );
        assert_eq!(
            Gaussian::fit(&[1.0; 3], 3),
            Err(MetricError::TooFewSamples { n: 1 })
        );
        assert_eq!(
            Gaussian::fit(&[], 3),
            Err(MetricError::TooFewSamples { n: 0 })
        );
        assert_eq!(
            Gaussian::fit(&[1.0, f32::NAN, 2.0, 3.0], 2),
            Err(MetricError::NonFiniteSample { index: 1 })
        );
        let g2 = Gaussian::fit(&[1.0, 2.0, 3.0, 5.0], 2).expect("fit");
        let g3 = Gaussian::fit(&[1.0, 2.0, 3.0, 3.0, 5.0, 4.0], 3).expect("fit");
        assert_eq!(
            frechet_distance(&g2, &g3),
            Err(MetricError::DimensionMismatch { left: 2, right: 3 })
        );
        let bad = gaussian(&[0.0, 0.0], DMatrix::identity(3, 3));
        assert!(matches!(
            frechet_distance(&bad, &g2),
            Err(MetricError::MalformedGaussian { .. })
        ));
    }
}
