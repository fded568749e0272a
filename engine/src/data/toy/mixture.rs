//! An isotropic Gaussian mixture `Σ_k π_k N(μ_k, s_k² I)` and everything about it that is exact
//! at every noise level (docs/algorithm.md §6): convolved with `N(0, σ² I)` it is
//! `Σ_k π_k N(μ_k, (s_k² + σ²) I)`, so its posterior `p(k | x)`, score and denoiser are closed-form.

use burn::prelude::*;
use burn::tensor::activation::softmax;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal, weighted::WeightedIndex};

use crate::diffusion::denoiser::Denoiser;

/// A mixture in `dim` dimensions with normalised weights.
#[derive(Clone, Debug, PartialEq)]
pub struct GaussianMixture {
    dim: usize,
    weights: Vec<f64>,
    means: Vec<Vec<f64>>,
    stds: Vec<f64>,
}

impl GaussianMixture {
    /// Builds a mixture; weights are normalised. Errors name what is inconsistent.
    pub fn new(weights: Vec<f64>, means: Vec<Vec<f64>>, stds: Vec<f64>) -> Result<Self, String> {
        let k = weights.len();
        if k == 0 || means.len() != k || stds.len() != k {
            return Err(format!(
                "need as many weights, means and stds (got {}, {}, {}), at least one",
                k,
                means.len(),
                stds.len()
            ));
        }
        let dim = means[0].len();
        if dim == 0 || means.iter().any(|m| m.len() != dim) {
            return Err("every mean needs the same, non-zero, number of coordinates".into());
        }
        if weights.iter().any(|&w| !(w.is_finite() && w > 0.0)) {
            return Err("every weight must be a positive number".into());
        }
        if stds.iter().any(|&s| !(s.is_finite() && s > 0.0)) {
            return Err("every std must be a positive number".into());
        }
        let total: f64 = weights.iter().sum();
        Ok(Self {
            dim,
            weights: weights.iter().map(|w| w / total).collect(),
            means,
            stds,
        })
    }

    /// Data dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of components K (the maximum of the exact Inception Score).
    pub fn modes(&self) -> usize {
        self.weights.len()
    }

    /// Normalised weights π_k.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Means μ_k.
    pub fn means(&self) -> &[Vec<f64>] {
        &self.means
    }

    /// Component stds s_k.
    pub fn stds(&self) -> &[f64] {
        &self.stds
    }

    /// Per-coordinate standard deviation of the data, averaged over coordinates: EDM's σ_d.
    pub fn sigma_data(&self) -> f64 {
        let mean: Vec<f64> = (0..self.dim)
            .map(|j| self.components().map(|(w, m, _)| w * m[j]).sum())
            .collect();
        let var: f64 = self
            .components()
            .map(|(w, m, s)| {
                let spread: f64 = m.iter().zip(&mean).map(|(a, b)| (a - b).powi(2)).sum();
                w * (s * s * self.dim as f64 + spread)
            })
            .sum::<f64>()
            / self.dim as f64;
        var.sqrt()
    }

    fn components(&self) -> impl Iterator<Item = (f64, &Vec<f64>, f64)> {
        self.weights
            .iter()
            .zip(&self.means)
            .zip(&self.stds)
            .map(|((&w, m), &s)| (w, m, s))
    }

    /// `n` samples (row-major `[n, dim]`) and the component each came from.
    pub fn sample(&self, rng: &mut impl Rng, n: usize) -> (Vec<f32>, Vec<usize>) {
        let pick = WeightedIndex::new(&self.weights).expect("weights validated in new");
        let mut xs = Vec::with_capacity(n * self.dim);
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let k = pick.sample(rng);
            labels.push(k);
            for &m in &self.means[k] {
                let e: f64 = rng.sample(StandardNormal);
                xs.push((m + self.stds[k] * e) as f32);
            }
        }
        (xs, labels)
    }

    /// Exact posterior `p(k | x_σ)` in f64, row-major `[n, K]`.
    pub fn posterior(&self, xs: &[f32], sigma: f64) -> Vec<f64> {
        let k = self.modes();
        let mut out = Vec::with_capacity(xs.len() / self.dim * k);
        let mut logits = vec![0.0; k];
        for x in xs.chunks_exact(self.dim) {
            for (l, (w, m, s)) in logits.iter_mut().zip(self.components()) {
                let v = s * s + sigma * sigma;
                let d2: f64 = x
                    .iter()
                    .zip(m)
                    .map(|(&a, b)| (f64::from(a) - b).powi(2))
                    .sum();
                *l = w.ln() - 0.5 * self.dim as f64 * v.ln() - d2 / (2.0 * v);
            }
            let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = logits.iter().map(|l| (l - max).exp()).sum();
            out.extend(logits.iter().map(|l| (l - max).exp() / z));
        }
        out
    }

    /// Exact denoiser in f64: `D(x; σ) = Σ_k p(k|x) [μ_k + s_k²/(s_k²+σ²) (x − μ_k)]`.
    pub fn denoise_host(&self, xs: &[f32], sigma: f64) -> Vec<f64> {
        let post = self.posterior(xs, sigma);
        let mut out = Vec::with_capacity(xs.len());
        for (x, p) in xs
            .chunks_exact(self.dim)
            .zip(post.chunks_exact(self.modes()))
        {
            for j in 0..self.dim {
                let xj = f64::from(x[j]);
                out.push(
                    self.components()
                        .zip(p)
                        .map(|((_, m, s), &pk)| {
                            pk * (m[j] + s * s / (s * s + sigma * sigma) * (xj - m[j]))
                        })
                        .sum(),
                );
            }
        }
        out
    }

    /// Exact score `∇ log p_σ(x) = (D(x; σ) − x) / σ²` in f64 (B.3).
    pub fn score_host(&self, xs: &[f32], sigma: f64) -> Vec<f64> {
        self.denoise_host(xs, sigma)
            .iter()
            .zip(xs)
            .map(|(d, &x)| (d - f64::from(x)) / (sigma * sigma))
            .collect()
    }

    /// Parameters as device tensors: means `[1, K, dim]`, variances `[1, K, 1]`, ln π `[1, K, 1]`.
    fn tensors(&self, device: &Device) -> (Tensor<3>, Tensor<3>, Tensor<3>) {
        let k = self.modes();
        let means: Vec<f32> = self.means.iter().flatten().map(|&m| m as f32).collect();
        let vars: Vec<f32> = self.stds.iter().map(|&s| (s * s) as f32).collect();
        let logw: Vec<f32> = self.weights.iter().map(|&w| w.ln() as f32).collect();
        let t =
            |v: Vec<f32>, d: usize| Tensor::<3>::from_data(TensorData::new(v, [1, k, d]), device);
        (t(means, self.dim), t(vars, 1), t(logw, 1))
    }
}

impl Denoiser for GaussianMixture {
    /// The exact denoiser as tensor operations, differentiable in `x` (docs/algorithm.md §6).
    fn denoise(&self, x: Tensor<2>, sigma: Tensor<2>) -> Tensor<2> {
        let [batch, dim] = x.dims();
        let (means, vars, logw) = self.tensors(&x.device());
        let diff = x.unsqueeze_dim::<3>(1).sub(means.clone()); // [batch, K, dim]
        let var = vars.clone().add(sigma.square().unsqueeze_dim::<3>(2)); // [batch, K, 1]
        let dist2 = diff.clone().square().sum_dim(2); // [batch, K, 1]
        let logits = logw
            .sub(var.clone().log().mul_scalar(0.5 * dim as f64))
            .sub(dist2.div(var.clone().mul_scalar(2.0)));
        let post = softmax(logits, 1); // [batch, K, 1]
        let component = means.add(diff.mul(vars.div(var))); // [batch, K, dim]
        post.mul(component).sum_dim(1).reshape([batch, dim])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, rng_for};

    fn two_modes() -> GaussianMixture {
        GaussianMixture::new(
            vec![1.0, 3.0],
            vec![vec![-1.0, 0.5], vec![1.0, 0.0]],
            vec![0.2, 0.4],
        )
        .expect("valid")
    }

    #[test]
    fn single_gaussian_denoiser_is_closed_form() {
        // docs/algorithm.md §5.4: the exact denoiser of N(μ, s²) is μ + s²/(s²+σ²)(x − μ).
        let g = GaussianMixture::new(vec![1.0], vec![vec![0.3]], vec![0.7]).expect("valid");
        let device = Device::flex();
        let x = Tensor::<2>::from_floats([[1.5], [-2.0]], &device);
        let sigma = Tensor::<2>::from_floats([[0.8], [2.0]], &device);
        let got = g.denoise(x, sigma).try_into_vec_as::<f32>().expect("f32");
        let expect = |x: f64, s: f64| 0.3 + 0.49 / (0.49 + s * s) * (x - 0.3);
        assert!((f64::from(got[0]) - expect(1.5, 0.8)).abs() < 1e-5);
        assert!((f64::from(got[1]) - expect(-2.0, 2.0)).abs() < 1e-5);
    }

    #[test]
    fn tensor_denoiser_matches_host_f64() {
        let g = two_modes();
        let device = Device::flex();
        let mut rng = rng_for(0, 0, Stream::Other(7));
        let (xs, _) = g.sample(&mut rng, 64);
        for sigma in [0.01, 0.3, 2.0, 40.0] {
            let t = Tensor::<2>::from_data(TensorData::new(xs.clone(), [64, 2]), &device);
            let s = Tensor::<2>::full([64, 1], sigma, &device);
            let got = g.denoise(t, s).try_into_vec_as::<f32>().expect("f32");
            let want = g.denoise_host(&xs, sigma);
            for (a, b) in got.iter().zip(&want) {
                assert!((f64::from(*a) - b).abs() < 1e-4, "σ={sigma}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn score_matches_finite_difference_of_log_density() {
        let g = two_modes();
        let sigma = 0.5;
        let log_p = |x: [f64; 2]| -> f64 {
            g.components()
                .map(|(w, m, s)| {
                    let v = s * s + sigma * sigma;
                    let d2 = (x[0] - m[0]).powi(2) + (x[1] - m[1]).powi(2);
                    w * (-d2 / (2.0 * v)).exp() / (2.0 * std::f64::consts::PI * v)
                })
                .sum::<f64>()
                .ln()
        };
        let x = [0.2f64, -0.3];
        let score = g.score_host(&[x[0] as f32, x[1] as f32], sigma);
        let h = 1e-5;
        let fd0 = (log_p([x[0] + h, x[1]]) - log_p([x[0] - h, x[1]])) / (2.0 * h);
        let fd1 = (log_p([x[0], x[1] + h]) - log_p([x[0], x[1] - h])) / (2.0 * h);
        // f32 input rounding of x limits agreement to ~1e-6 relative.
        assert!((score[0] - fd0).abs() < 1e-4, "{} vs {fd0}", score[0]);
        assert!((score[1] - fd1).abs() < 1e-4, "{} vs {fd1}", score[1]);
    }

    #[test]
    fn sigma_data_matches_samples() {
        let g = two_modes();
        let mut rng = rng_for(0, 0, Stream::Other(8));
        let n = 200_000;
        let (xs, _) = g.sample(&mut rng, n);
        let mut var = 0.0;
        for j in 0..2 {
            let col: Vec<f64> = xs
                .iter()
                .skip(j)
                .step_by(2)
                .map(|&v| f64::from(v))
                .collect();
            let m = col.iter().sum::<f64>() / n as f64;
            var += col.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n as f64;
        }
        let sd = (var / 2.0).sqrt();
        assert!(
            (sd - g.sigma_data()).abs() < 0.01,
            "{sd} vs {}",
            g.sigma_data()
        );
    }

    #[test]
    fn rejects_bad_components() {
        assert!(GaussianMixture::new(vec![], vec![], vec![]).is_err());
        assert!(GaussianMixture::new(vec![1.0], vec![vec![0.0]], vec![-1.0]).is_err());
        assert!(
            GaussianMixture::new(
                vec![1.0, 1.0],
                vec![vec![0.0], vec![0.0, 1.0]],
                vec![1.0, 1.0]
            )
            .is_err()
        );
    }
}
