//! Generator objectives (docs/algorithm.md §3): SIM with any distance (3.7), SiD, Diff-Instruct; and the
//! weighting `w(σ)`. All share one signature, like EDM's interchangeable losses.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::distance::Distance;

/// What the generator minimises.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Objective {
    /// Score Implicit Matching with the run's distance (3.7, B.13).
    Sim,
    /// Score identity Distillation (Zhou et al. 2024; docs/algorithm.md §3's table).
    Sid {
        /// SiD's α (1.2 in the SiD paper; α = 1 makes SiD = ½ SIM-L2).
        alpha: f64,
    },
    /// Diff-Instruct (Luo et al. 2023): the KL gradient with weight σ² (docs/algorithm.md §3's
    /// table). Mode-seeking baseline.
    DiffInstruct,
}

impl Objective {
    /// A short label for plots and logs.
    pub fn label(&self, distance: &Distance) -> String {
        match self {
            Self::Sim => format!("SIM {}", distance.label()),
            Self::Sid { alpha } => format!("SiD (α={alpha})"),
            Self::DiffInstruct => "Diff-Instruct".into(),
        }
    }

    /// The generator loss written out, for the UI's formula panel.
    pub fn formula(&self, distance: &Distance) -> String {
        let y = "y = D_ψ(x_t;σ) − D_q(x_t;σ)";
        match self {
            Self::Sim => {
                let dp = match distance {
                    Distance::PseudoHuber { c } => format!("y / sqrt(‖y‖² + {c}²)"),
                    Distance::L2 => "2y".into(),
                    Distance::L1 => "sign(y)".into(),
                    Distance::Huber { delta } => format!("clamp(y, −{delta}, {delta})"),
                    Distance::AlphaPower { alpha } => format!("{alpha} y^{}", alpha - 1),
                    Distance::ExpPower { alpha, beta } => format!(
                        "{alpha}·{beta} exp({beta} ‖y‖_{alpha}^{alpha}) y^{}",
                        alpha - 1
                    ),
                };
                format!("L = −w(σ) ⟨d'(y), D_ψ(x_t;σ) − x_0⟩,  d'(y) = {dp},  {y}")
            }
            Self::Sid { alpha } => {
                format!("L = w(σ) ⟨D_q − D_ψ, (D_q − x_0) − {alpha}·(D_q − D_ψ)⟩   (all at x_t, σ)")
            }
            Self::DiffInstruct => "L = w(σ) ⟨sg(D_ψ − D_q), x_0⟩   (sg = stop-gradient)".into(),
        }
    }
}

/// The weighting `w(σ)` of the generator loss.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weighting {
    /// `w = 1`: the paper's choice for SIM.
    #[default]
    #[serde(rename = "nowgt")]
    NoWeight,
    /// SiD's `w = 1 / mean_k |x_0 − D_q(x_t; σ)|_k` (stop-gradient, per sample, ≥ 1e-5 clamp on
    /// the denominator).
    #[serde(rename = "sidwgt")]
    Sid,
}

/// The tensors a generator objective is computed from.
///
/// # Shapes
/// All `[batch, dim]`. `x0 = g_θ(z)`; `fake` = `D_ψ(x_t; σ)` and `teacher` = `D_q(x_t; σ)` with
/// `x_t = x0 + σ ε`, so gradients reach θ through `x0` and through `x_t` in both denoisers.
pub struct GeneratorTerms {
    /// Generator output.
    pub x0: Tensor<2>,
    /// Fake denoiser at `x_t`.
    pub fake: Tensor<2>,
    /// Teacher at `x_t`.
    pub teacher: Tensor<2>,
}

/// The weighting `w(σ)` per sample, `[batch, 1]` and without gradient; `None` for `w = 1`.
pub fn sample_weight(
    weighting: Weighting,
    x0: &Tensor<2>,
    teacher: &Tensor<2>,
) -> Option<Tensor<2>> {
    match weighting {
        Weighting::NoWeight => None,
        Weighting::Sid => Some(
            x0.clone()
                .sub(teacher.clone())
                .abs()
                .mean_dim(1)
                .clamp_min(1e-5)
                .recip()
                .detach(),
        ),
    }
}

/// Per-sample generator loss, `[batch, 1]`.
///
/// `detach_dprime` stops the gradient through `d'(y)`: a real bug, kept only so `gradcheck` can
/// show that it halves the gradient of the generator's scale (docs/algorithm.md §3).
pub fn generator_loss(
    objective: &Objective,
    distance: &Distance,
    weighting: Weighting,
    terms: GeneratorTerms,
    detach_dprime: bool,
) -> Tensor<2> {
    let GeneratorTerms { x0, fake, teacher } = terms;
    let weight = sample_weight(weighting, &x0, &teacher);
    let loss = match *objective {
        // (3.7) in denoiser space (B.13): L = −⟨d'(y), D_ψ − x_0⟩.
        Objective::Sim => {
            let mut dp = distance.d_prime(fake.clone().sub(teacher));
            if detach_dprime {
                dp = dp.detach();
            }
            dp.mul(fake.sub(x0)).sum_dim(1).neg()
        }
        // SiD: ⟨D_q − D_ψ, (D_q − x_0) − α (D_q − D_ψ)⟩.
        Objective::Sid { alpha } => {
            let gap = teacher.clone().sub(fake);
            gap.clone()
                .mul(teacher.sub(x0).sub(gap.mul_scalar(alpha)))
                .sum_dim(1)
        }
        // Diff-Instruct: ⟨sg(D_ψ − D_q), x_0⟩.
        Objective::DiffInstruct => fake.sub(teacher).detach().mul(x0).sum_dim(1),
    };
    match weight {
        Some(w) => loss.mul(w),
        None => loss,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(device: &Device) -> (Tensor<2>, GeneratorTerms) {
        // A tiny differentiable "generator": x0 = θ ⊙ z, and denoisers that depend on x0
        // non-linearly, so every gradient path is exercised.
        let theta = Tensor::<2>::from_floats([[0.7, -1.3, 0.4]], device).require_grad();
        let z = Tensor::<2>::from_floats([[0.5, 1.0, -2.0], [1.5, -0.2, 0.3]], device);
        let x0 = z.mul(theta.clone());
        let x_t = x0.clone().add_scalar(0.1);
        let fake = x_t.clone().tanh().mul_scalar(0.9);
        let teacher = x_t.clone().mul_scalar(0.5).sin();
        (theta, GeneratorTerms { x0, fake, teacher })
    }

    fn grad_of(device: &Device, objective: Objective, distance: Distance) -> Vec<f32> {
        let (theta, t) = terms(device);
        let loss = generator_loss(&objective, &distance, Weighting::NoWeight, t, false);
        let grads = loss.mean().backward();
        theta
            .grad(&grads)
            .expect("grad")
            .try_into_vec_as::<f32>()
            .expect("f32")
    }

    /// docs/algorithm.md §5.2: with α = 1 the SiD gradient is ½ × the SIM-L2 gradient, batch for batch.
    #[test]
    fn sid_at_alpha_one_is_half_sim_l2() {
        let device = Device::flex().autodiff();
        let sid = grad_of(&device, Objective::Sid { alpha: 1.0 }, Distance::L2);
        let sim = grad_of(&device, Objective::Sim, Distance::L2);
        for (a, b) in sid.iter().zip(&sim) {
            assert!((a - 0.5 * b).abs() < 1e-6, "{a} vs {b}/2");
        }
        // And at SiD's default α = 1.2 the two differ.
        let sid12 = grad_of(&device, Objective::Sid { alpha: 1.2 }, Distance::L2);
        assert!(
            sid12
                .iter()
                .zip(&sim)
                .any(|(a, b)| (a - 0.5 * b).abs() > 1e-3)
        );
    }

    #[test]
    fn sid_weight_is_inverse_mean_abs_error() {
        let device = Device::flex();
        let x0 = Tensor::<2>::from_floats([[1.0, 1.0]], &device);
        let teacher = Tensor::<2>::from_floats([[0.0, 3.0]], &device);
        let fake = Tensor::<2>::from_floats([[0.5, 0.5]], &device);
        let t = GeneratorTerms { x0, fake, teacher };
        let plain = GeneratorTerms {
            x0: t.x0.clone(),
            fake: t.fake.clone(),
            teacher: t.teacher.clone(),
        };
        let o = Objective::DiffInstruct;
        let w: f32 = generator_loss(&o, &Distance::L2, Weighting::Sid, t, false).into_scalar();
        let u: f32 =
            generator_loss(&o, &Distance::L2, Weighting::NoWeight, plain, false).into_scalar();
        // mean |x0 − D_q| = (1 + 2) / 2 = 1.5.
        assert!((w - u / 1.5).abs() < 1e-6, "{w} vs {u}/1.5");
    }
}
