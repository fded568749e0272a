//! EDM preconditioning (Table 1 of Karras et al. 2022) and the noise-level constants.
//!
//! `D(x; σ) = c_skip x + c_out F(c_in x; c_noise)` (docs/algorithm.md §1). Score: `s = (D − x) / σ²` (B.3).

use burn::prelude::*;

use sim_formats::validation::ValidationError;

/// Smallest noise level used anywhere (EDM's σ_min).
pub const SIGMA_MIN: f64 = 0.002;
/// Largest noise level used anywhere (EDM's σ_max).
pub const SIGMA_MAX: f64 = 80.0;
/// Time-step exponent ρ of the EDM schedule.
pub const RHO: f64 = 7.0;

/// The σ_d a denoiser may be built for: [`Precond`] squares it beside σ² for σ in
/// `[SIGMA_MIN, SIGMA_MAX]`, and the loss weight divides by it, which stays far inside f32
/// over this range (0.5 for images in [-1, 1]; a 2-D toy set's is its spread).
pub const SIGMA_DATA_RANGE: (f64, f64) = (1e-4, 1e4);

/// `sigma_data` (of the field `key`) must be a number in [`SIGMA_DATA_RANGE`].
pub fn check_sigma_data(key: &str, sigma_data: f64) -> Result<(), ValidationError> {
    let (lo, hi) = SIGMA_DATA_RANGE;
    match sigma_data.is_finite() && (lo..=hi).contains(&sigma_data) {
        true => Ok(()),
        false => Err(ValidationError::new(
            key,
            format!(
                "is {sigma_data}; σ_d must be a number in [{lo:e}, {hi:e}] (0.5 for images in \
                 [-1, 1])"
            ),
        )),
    }
}

/// The four preconditioning coefficients at a batch of noise levels.
///
/// # Shapes
/// Every field has the shape of the `sigma` it was made from, `[batch, 1]`.
pub struct Precond {
    /// `σ_d² / (σ² + σ_d²)`.
    pub c_skip: Tensor<2>,
    /// `σ σ_d / sqrt(σ² + σ_d²)`.
    pub c_out: Tensor<2>,
    /// `1 / sqrt(σ² + σ_d²)`.
    pub c_in: Tensor<2>,
    /// `ln(σ) / 4`.
    pub c_noise: Tensor<2>,
}

impl Precond {
    /// Coefficients for noise levels `sigma` (`[batch, 1]`) and data std `sigma_data`.
    pub fn new(sigma: Tensor<2>, sigma_data: f64) -> Self {
        let sd2 = sigma_data * sigma_data;
        let total = sigma.clone().square().add_scalar(sd2);
        let root = total.clone().sqrt();
        Self {
            c_skip: total.clone().recip().mul_scalar(sd2),
            c_out: sigma.clone().mul_scalar(sigma_data).div(root.clone()),
            c_in: root.recip(),
            c_noise: sigma.log().div_scalar(4.0),
        }
    }
}

impl Precond {
    /// `D = c_skip x + c_out F(c_in x; c_noise)` for a raw network `raw(c_in x, c_noise)` on
    /// flat rows (Table 1).
    ///
    /// # Shapes
    /// `x`: `[batch, dim]`; `raw` takes `[batch, dim]` and `[batch, 1]` and gives `[batch, dim]`.
    pub fn denoise(
        self,
        x: Tensor<2>,
        raw: impl FnOnce(Tensor<2>, Tensor<2>) -> Tensor<2>,
    ) -> Tensor<2> {
        let f = raw(x.clone().mul(self.c_in), self.c_noise);
        x.mul(self.c_skip).add(f.mul(self.c_out))
    }

    /// The variance-preserving coefficients of EDM's `VPPrecond` (Table 1, "VP"): `c_skip = 1`,
    /// `c_out = −σ`, `c_in = 1 / sqrt(σ² + 1)`, `c_noise = (M − 1) σ⁻¹(σ)` with the VP
    /// schedule's inverse `σ⁻¹(σ) = (sqrt(β_min² + 2 β_d ln(1 + σ²)) − β_min) / β_d`.
    pub fn vp(sigma: Tensor<2>, beta_d: f64, beta_min: f64, m: f64) -> Self {
        let s2 = sigma.clone().square();
        let t = s2
            .clone()
            .add_scalar(1.0)
            .log()
            .mul_scalar(2.0 * beta_d)
            .add_scalar(beta_min * beta_min)
            .sqrt()
            .sub_scalar(beta_min)
            .div_scalar(beta_d);
        Self {
            c_skip: sigma.ones_like(),
            c_out: sigma.clone().neg(),
            c_in: s2.add_scalar(1.0).sqrt().recip(),
            c_noise: t.mul_scalar(m - 1.0),
        }
    }
}

/// Loss weight `λ(σ) = (σ² + σ_d²) / (σ σ_d)²` (B.7), shape of `sigma`.
pub fn loss_weight(sigma: Tensor<2>, sigma_data: f64) -> Tensor<2> {
    let s2 = sigma.square();
    s2.clone()
        .add_scalar(sigma_data * sigma_data)
        .div(s2.mul_scalar(sigma_data * sigma_data))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(t: Tensor<2>) -> Vec<f32> {
        t.try_into_vec_as::<f32>().expect("f32 data")
    }

    #[test]
    fn skip_and_out_are_complementary() {
        // c_skip + c_out² / σ_d² = 1 for every σ (EDM Table 1).
        let device = Device::flex();
        let sigmas = [0.002f32, 0.1, 0.5, 2.5, 80.0];
        let sigma = Tensor::<1>::from_floats(sigmas, &device).reshape([5, 1]);
        for sigma_data in [0.5, 1.3] {
            let p = Precond::new(sigma.clone(), sigma_data);
            let lhs = p
                .c_skip
                .add(p.c_out.square().div_scalar(sigma_data * sigma_data));
            for v in host(lhs) {
                assert!((v - 1.0).abs() < 1e-5, "{v}");
            }
        }
    }

    #[test]
    fn sigma_data_outside_its_range_is_refused() {
        assert_eq!(check_sigma_data("sigma_data", 0.5), Ok(()));
        assert_eq!(check_sigma_data("sigma_data", 1e4), Ok(()));
        for bad in [-0.5, 0.0, 5e-5, 2e4, f64::NAN, f64::INFINITY] {
            let e = check_sigma_data("sigma_data", bad).expect_err("out of range");
            assert_eq!(
                e.message,
                format!(
                    "is {bad}; σ_d must be a number in [1e-4, 1e4] (0.5 for images in [-1, 1])"
                )
            );
        }
    }

    #[test]
    fn vp_coefficients_invert_the_vp_schedule() {
        // σ(t) = sqrt(exp(β_d t²/2 + β_min t) − 1) (EDM's VPPrecond.sigma): c_noise / (M − 1)
        // must give t back.
        let device = Device::flex();
        let (beta_d, beta_min, m) = (19.9, 0.1, 1000.0);
        let ts = [1e-3f64, 0.1, 0.5, 1.0];
        let sigmas: Vec<f32> = ts
            .iter()
            .map(|t| ((0.5 * beta_d * t * t + beta_min * t).exp() - 1.0).sqrt() as f32)
            .collect();
        let sigma = Tensor::<1>::from_floats(sigmas.as_slice(), &device).reshape([4, 1]);
        let p = Precond::vp(sigma, beta_d, beta_min, m);
        for ((c, t), s) in host(p.c_noise).into_iter().zip(ts).zip(&sigmas) {
            assert!(
                (f64::from(c) / (m - 1.0) - t).abs() < 1e-4 * t.max(0.01),
                "{c} {t} {s}"
            );
        }
        let c_in = host(p.c_in);
        let c_out = host(p.c_out);
        for ((ci, co), s) in c_in.iter().zip(&c_out).zip(&sigmas) {
            assert!((ci - 1.0 / (s * s + 1.0).sqrt()).abs() < 1e-6);
            assert_eq!(*co, -s);
        }
        assert!(host(p.c_skip).iter().all(|&v| v == 1.0));
    }

    #[test]
    fn coefficients_match_closed_form() {
        let device = Device::flex();
        let (s, sd) = (0.7f64, 0.5f64);
        let p = Precond::new(
            Tensor::<1>::from_floats([s as f32], &device).reshape([1, 1]),
            sd,
        );
        let close = |t: Tensor<2>, v: f64| assert!((host(t)[0] as f64 - v).abs() < 1e-6);
        close(p.c_skip, sd * sd / (s * s + sd * sd));
        close(p.c_out, s * sd / (s * s + sd * sd).sqrt());
        close(p.c_in, 1.0 / (s * s + sd * sd).sqrt());
        close(p.c_noise, s.ln() / 4.0);
        let w = loss_weight(
            Tensor::<1>::from_floats([s as f32], &device).reshape([1, 1]),
            sd,
        );
        close(w, (s * s + sd * sd) / (s * sd).powi(2));
    }
}
