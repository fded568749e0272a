//! The score-gradient theorem (Thm 3.1) made visible (docs/algorithm.md §5.1).
//!
//! Teacher `q_0 = N(μ_q, s_q²)`, student `x_0 = a z + b`, so at noise level σ the student's
//! marginal is `N(b, a² + σ²)` and every score is exact. The true gradient of the SIM divergence
//! `E_{x_t ~ p_sg[θ],σ}[d(s_p − s_q)]` is `E[d'(y) ∂_θ s_p(x_t)]`; the engine's own generator loss
//! (`objective::generator_loss`), with exact denoisers in place of networks, must give the same
//! gradient by autodiff — to Monte-Carlo error.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::toy::GaussianMixture;
use crate::diffusion::denoiser::Denoiser;
use crate::distill::distance::Distance;
use crate::distill::objective::{GeneratorTerms, Objective, Weighting, generator_loss};
use crate::error::{ConfigError, EngineError, Result};
use crate::rng::{Stream, normal, rng_for};
use sim_formats::validation::{ValidationError, count, in_range};

/// Where the distance is applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Space {
    /// To the score difference `s_ψ − s_q`, as in Thm 3.1 (the spec's reference numbers).
    #[default]
    Score,
    /// To `D_ψ − D_q`, as the engine trains: the same theorem with `d̃(y) = d(σ² y)`.
    Denoiser,
}

/// One experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GradcheckSpec {
    /// Teacher mean μ_q.
    pub mu_q: f64,
    /// Teacher std s_q.
    pub s_q: f64,
    /// Student scale a.
    pub a: f64,
    /// Student shift b.
    pub b: f64,
    /// Noise level σ.
    pub sigma: f64,
    /// The distance.
    pub distance: Distance,
    /// Where the distance is applied.
    pub space: Space,
    /// Stop the gradient through `d'(y)` (the bug this tool exposes).
    pub detach_dprime: bool,
    /// Monte-Carlo samples.
    pub samples: usize,
    /// Seed.
    pub seed: u64,
}

impl Default for GradcheckSpec {
    /// The spec's reference setting (docs/algorithm.md §5.1).
    fn default() -> Self {
        Self {
            mu_q: 1.0,
            s_q: 0.7,
            a: 1.5,
            b: -0.4,
            sigma: 0.8,
            distance: Distance::PseudoHuber { c: 0.3 },
            space: Space::Score,
            detach_dprime: false,
            samples: 4_000_000,
            seed: 0,
        }
    }
}

/// Most Monte-Carlo samples of one check (25× the default; about a minute on one core).
pub const MAX_SAMPLES: usize = 100_000_000;

/// Largest `|μ_q|` and `|b|`, the means of teacher and student.
pub const MAX_MEAN: f64 = 1e4;

/// Smallest and largest `s_q`, `|a|` and σ. With the means within [`MAX_MEAN`], every sample,
/// score and exact denoiser of the check stays within f32 (scores below ~10¹¹, `1/σ²` at most
/// 10⁶); only a distance's `d'` can still overflow, which [`gradcheck`] reports.
pub const SCALE_RANGE: (f64, f64) = (1e-3, 1e3);

impl GradcheckSpec {
    /// Checks every field; keys are the field names (`s_q`, `samples`, the distance's `c`).
    pub fn validate(&self) -> Result<(), ValidationError> {
        let (lo, hi) = SCALE_RANGE;
        in_range("mu_q", self.mu_q, -MAX_MEAN, MAX_MEAN, "the teacher's mean")?;
        in_range("b", self.b, -MAX_MEAN, MAX_MEAN, "the student's shift")?;
        in_range("s_q", self.s_q, lo, hi, "the teacher's standard deviation")?;
        in_range("sigma", self.sigma, lo, hi, "a noise level such as 0.8")?;
        if !(self.a.is_finite() && (lo..=hi).contains(&self.a.abs())) {
            return Err(ValidationError::new(
                "a",
                format!(
                    "must be a number with |a| in [{lo:e}, {hi:e}] (the student's scale), got {}",
                    self.a
                ),
            ));
        }
        self.distance.validate()?;
        count("samples", self.samples as u64, 2, MAX_SAMPLES as u64)
    }
}

/// Gradients `[∂/∂a, ∂/∂b]` and their Monte-Carlo standard errors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GradcheckResult {
    /// `E[d'(y) ∂_θ s_p(x_t)]`.
    pub true_grad: [f64; 2],
    /// Gradient of the engine's SIM loss by autodiff.
    pub surrogate_grad: [f64; 2],
    /// Standard error of the paired difference `surrogate − true` (same draws), floored at
    /// 1e-4 relative (f32 round-off).
    pub std_err: [f64; 2],
    /// Standard errors of the true and surrogate estimates alone.
    pub std_err_true: [f64; 2],
    /// See `std_err_true`.
    pub std_err_surrogate: [f64; 2],
    /// `|surrogate − true| / |true|`.
    pub rel_err: [f64; 2],
    /// `(surrogate − true) / std_err`.
    pub z_score: [f64; 2],
    /// Both |z| < 4: the gradients agree to Monte-Carlo error.
    pub agrees: bool,
}

/// Running sums of per-sample values (mean and standard error).
#[derive(Default, Clone, Copy)]
struct Moments {
    n: f64,
    sum: f64,
    sum_sq: f64,
}

impl Moments {
    fn add(&mut self, xs: &[f32]) {
        for &x in xs {
            let x = f64::from(x);
            self.n += 1.0;
            self.sum += x;
            self.sum_sq += x * x;
        }
    }
    fn mean(&self) -> f64 {
        self.sum / self.n
    }
    fn std_err(&self) -> f64 {
        let var = (self.sum_sq / self.n - self.mean().powi(2)) * self.n / (self.n - 1.0);
        (var.max(0.0) / self.n).sqrt()
    }
}

/// Runs the check on `device` (autodiff-enabled), in chunks of at most 500,000 samples.
///
/// Errors are [`ConfigError::Field`]s of origin `gradcheck` that name the field to change: a
/// field out of range ([`GradcheckSpec::validate`]), or settings at which a number of the
/// result would not be finite (the distance's `d'` overflows f32), never a NaN in the result.
pub fn gradcheck(spec: &GradcheckSpec, device: &Device) -> Result<GradcheckResult> {
    spec.validate().map_err(field_error)?;
    let teacher = GaussianMixture::new(vec![1.0], vec![vec![spec.mu_q]], vec![spec.s_q])
        .map_err(EngineError::Invalid)?;
    // ψ is the exact denoiser of the student's own distribution, with θ stop-gradient.
    let fake = GaussianMixture::new(vec![1.0], vec![vec![spec.b]], vec![spec.a.abs()])
        .map_err(EngineError::Invalid)?;
    let mut stats = [[Moments::default(); 2]; 3]; // [true, surrogate, difference][a, b]
    let chunk = 500_000;
    let mut done = 0;
    let mut index = 0;
    while done < spec.samples {
        let n = chunk.min(spec.samples - done);
        let mut rng = rng_for(spec.seed, index, Stream::Other(0x6c));
        let z = Tensor::<2>::from_data(TensorData::new(normal(&mut rng, n, 1.0), [n, 1]), device);
        let eps = Tensor::<2>::from_data(TensorData::new(normal(&mut rng, n, 1.0), [n, 1]), device);
        let (true_a, true_b) = true_gradient(spec, z.clone(), eps.clone());
        let (sur_a, sur_b) = surrogate_gradient(spec, &teacher, &fake, z, eps)?;
        for (k, (t, s)) in [(true_a, sur_a), (true_b, sur_b)].into_iter().enumerate() {
            let diff: Vec<f32> = s.iter().zip(&t).map(|(s, t)| s - t).collect();
            stats[0][k].add(&t);
            stats[1][k].add(&s);
            stats[2][k].add(&diff);
        }
        done += n;
        index += 1;
    }
    let pick = |row: usize, f: fn(&Moments) -> f64| [f(&stats[row][0]), f(&stats[row][1])];
    let true_grad = pick(0, Moments::mean);
    let surrogate_grad = pick(1, Moments::mean);
    // The paired difference can be far below Monte-Carlo error when both estimates share every
    // term (∂/∂b with d' detached); floor it at f32 round-off, 1e-4 relative.
    let std_err = {
        let se = pick(2, Moments::std_err);
        [0, 1].map(|k| se[k].max(1e-4 * true_grad[k].abs().max(surrogate_grad[k].abs())))
    };
    let rel_err = [0, 1].map(|k| relative_error(surrogate_grad[k], true_grad[k]));
    let z_score = [0, 1].map(|k| (surrogate_grad[k] - true_grad[k]) / std_err[k].max(1e-300));
    let result = GradcheckResult {
        true_grad,
        surrogate_grad,
        std_err,
        std_err_true: pick(0, Moments::std_err),
        std_err_surrogate: pick(1, Moments::std_err),
        rel_err,
        agrees: z_score.iter().all(|z| z.abs() < 4.0),
        z_score,
    };
    match result.first_non_finite() {
        None => Ok(result),
        Some((what, value)) => Err(field_error(overflow(spec, &what, value))),
    }
}

/// `|s − t| / |t|`: 0 when the two agree exactly (both 0 included), 1 when only the true
/// gradient is 0 (the error is then all of `s`).
fn relative_error(s: f64, t: f64) -> f64 {
    match (s == t, t == 0.0) {
        (true, _) => 0.0,
        (false, true) => 1.0,
        (false, false) => (s - t).abs() / t.abs(),
    }
}

impl GradcheckResult {
    /// The first number of the result that is not finite, named, with its value.
    fn first_non_finite(&self) -> Option<(String, f64)> {
        let rows = [
            ("true gradient", &self.true_grad),
            ("SIM surrogate gradient", &self.surrogate_grad),
            ("standard error of the difference", &self.std_err),
            ("standard error of the true gradient", &self.std_err_true),
            ("standard error of the surrogate", &self.std_err_surrogate),
            ("relative error", &self.rel_err),
            ("z-score", &self.z_score),
        ];
        rows.into_iter().find_map(|(name, values)| {
            let k = values.iter().position(|v| !v.is_finite())?;
            Some((format!("{name} ∂/∂{}", ["a", "b"][k]), values[k]))
        })
    }
}

/// Why the check of `spec` produced `value` for `what`, blaming the distance's parameter
/// where it has one that makes `d'` overflow, else σ (the smaller σ, the larger the scores).
fn overflow(spec: &GradcheckSpec, what: &str, value: f64) -> ValidationError {
    let (key, fix) = match spec.distance {
        Distance::ExpPower { .. } => ("beta", "use a smaller beta or alpha"),
        Distance::AlphaPower { .. } => ("alpha", "use a smaller alpha"),
        Distance::PseudoHuber { .. } => ("c", "use a c nearer 0.3"),
        Distance::L2 | Distance::L1 | Distance::Huber { .. } => ("sigma", "use a larger sigma"),
    };
    ValidationError::new(
        key,
        format!(
            "the {what} is {value}: at these settings the score differences y make the \
             distance or its gradient d'(y) overflow f32; {fix}, or bring the student (a, b) \
             nearer the teacher (mu_q, s_q)"
        ),
    )
}

/// A field of the check at fault, as an engine error of origin `gradcheck`.
fn field_error(e: ValidationError) -> EngineError {
    EngineError::Config(ConfigError::Field {
        origin: "gradcheck".into(),
        key: e.key,
        message: e.message,
    })
}

/// Per-sample `d̃'(y_s) ∂_θ s_p(x_t)` for θ = (a, b), with `x_t = a z + b + σ ε`.
fn true_gradient(spec: &GradcheckSpec, z: Tensor<2>, eps: Tensor<2>) -> (Vec<f32>, Vec<f32>) {
    let (a, b, s2) = (spec.a, spec.b, spec.sigma * spec.sigma);
    let var_p = a * a + s2;
    let var_q = spec.s_q * spec.s_q + s2;
    let x_t = z
        .mul_scalar(a)
        .add_scalar(b)
        .add(eps.mul_scalar(spec.sigma));
    let s_p = x_t.clone().sub_scalar(b).div_scalar(-var_p);
    let s_q = x_t.clone().sub_scalar(spec.mu_q).div_scalar(-var_q);
    let y = s_p.sub(s_q);
    let dp = match spec.space {
        Space::Score => spec.distance.d_prime(y),
        Space::Denoiser => spec.distance.d_prime(y.mul_scalar(s2)).mul_scalar(s2),
    };
    let ds_da = x_t.sub_scalar(b).mul_scalar(2.0 * a / (var_p * var_p));
    let ga = dp.clone().mul(ds_da);
    let gb = dp.div_scalar(var_p);
    (to_vec(ga), to_vec(gb))
}

/// Per-sample gradients of the engine's generator loss, by autodiff through per-sample copies
/// of a and b.
fn surrogate_gradient(
    spec: &GradcheckSpec,
    teacher: &GaussianMixture,
    fake: &GaussianMixture,
    z: Tensor<2>,
    eps: Tensor<2>,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let [n, _] = z.dims();
    let device = z.device();
    let a = Tensor::<2>::full([n, 1], spec.a, &device).require_grad();
    let b = Tensor::<2>::full([n, 1], spec.b, &device).require_grad();
    let x0 = a.clone().mul(z).add(b.clone());
    let sigma = Tensor::<2>::full([n, 1], spec.sigma, &device);
    let x_t = x0.clone().add(eps.mul_scalar(spec.sigma));
    let scale = match spec.space {
        Space::Score => 1.0 / (spec.sigma * spec.sigma),
        Space::Denoiser => 1.0,
    };
    let terms = GeneratorTerms {
        fake: fake.denoise(x_t.clone(), sigma.clone()).mul_scalar(scale),
        teacher: teacher.denoise(x_t, sigma).mul_scalar(scale),
        x0: x0.mul_scalar(scale),
    };
    let loss = generator_loss(
        &Objective::Sim,
        &spec.distance,
        Weighting::NoWeight,
        terms,
        spec.detach_dprime,
    );
    let grads = loss.sum().backward();
    let grad = |t: &Tensor<2>| {
        t.grad(&grads)
            .map(to_vec)
            .ok_or_else(|| EngineError::Invalid("no gradient reached the student".into()))
    };
    Ok((grad(&a)?, grad(&b)?))
}

fn to_vec(t: Tensor<2>) -> Vec<f32> {
    t.try_into_vec_as::<f32>().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_beyond_the_ranges_are_refused_naming_the_field() {
        let refused = |edit: fn(&mut GradcheckSpec)| {
            let mut spec = GradcheckSpec::default();
            edit(&mut spec);
            spec.validate().expect_err("out of range")
        };
        let e = refused(|s| s.sigma = 1e-30);
        assert_eq!(e.key, "sigma");
        assert!(
            e.message
                .starts_with("must be a number in [1e-3, 1e3] (a noise level such as 0.8), got"),
            "{e}"
        );
        assert_eq!(refused(|s| s.s_q = 1e30).key, "s_q");
        assert_eq!(refused(|s| s.mu_q = -1e300).key, "mu_q");
        assert_eq!(refused(|s| s.b = f64::NAN).key, "b");
        let e = refused(|s| s.a = -1e6);
        assert_eq!(
            e.message,
            "must be a number with |a| in [1e-3, 1e3] (the student's scale), got -1000000"
        );
        let mut edge = GradcheckSpec::default();
        (edge.mu_q, edge.a, edge.sigma) = (-1e4, -1e3, 1e-3);
        assert_eq!(edge.validate(), Ok(()));
    }

    #[test]
    fn relative_error_is_finite_when_the_true_gradient_is_zero() {
        assert_eq!(relative_error(0.0, 0.0), 0.0);
        assert_eq!(relative_error(0.25, 0.0), 1.0);
        assert_eq!(relative_error(1.5, 2.0), 0.25);
    }

    /// Where the distance's `d'` overflows f32 the check is an error naming the field to
    /// change, not a table of NaN; a student equal to its teacher (all gradients 0) is fine.
    #[test]
    fn a_result_that_would_not_be_finite_is_an_error_naming_the_field() {
        let device = Device::flex().autodiff();
        let spec = GradcheckSpec {
            distance: Distance::ExpPower {
                alpha: 2,
                beta: 1e3,
            },
            samples: 1000,
            ..GradcheckSpec::default()
        };
        let message = gradcheck(&spec, &device)
            .expect_err("exp(1000 y²) overflows")
            .to_string();
        assert!(
            message.starts_with("gradcheck: field `beta`: the true gradient ∂/∂a is "),
            "{message}"
        );
        assert!(message.contains("use a smaller beta or alpha"), "{message}");
        let same = GradcheckSpec {
            mu_q: -0.4,
            s_q: 1.5,
            samples: 1000,
            ..GradcheckSpec::default()
        };
        let r = gradcheck(&same, &device).expect("finite");
        assert_eq!(r.true_grad, [0.0, 0.0]);
        assert!(r.rel_err.iter().all(|e| e.is_finite()), "{r:?}");
    }
}
