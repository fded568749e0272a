//! [`DistillConfig`]: the settings of a distillation (the `[distill]` table of a preset), and
//! their checks, which a preset and every live tweak pass alike.

use serde::{Deserialize, Serialize};

use super::distance::Distance;
use super::objective::{Objective, Weighting};
use crate::diffusion::sigma::SigmaDistribution;
use sim_formats::limits;
use sim_formats::validation::{ValidationError, positive};

/// The distillation settings; all of these can change while a run is live (see `Tweak`),
/// except `batch`, `t_star`, `ema_half_life_kimg` and `micro_batches`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DistillConfig {
    /// Generator objective: SIM with a distance, SiD, or Diff-Instruct.
    pub objective: Objective,
    /// Distance `d` of SIM (3.7); ignored by SiD and Diff-Instruct.
    pub distance: Distance,
    /// Weighting `w(σ)` of the generator loss.
    pub weighting: Weighting,
    /// σ distribution of the generator phase (`p_G`).
    pub generator_sigma: SigmaDistribution,
    /// σ distribution of the fake-denoiser phase (B.5–B.6).
    pub fake_sigma: SigmaDistribution,
    /// Generator noise level `t*` (B.4): `g_θ(z) = D_θ(z; t*)`, `z ~ N(0, t*² I)`.
    pub t_star: f64,
    /// Samples per phase.
    pub batch: usize,
    /// Learning rate of the generator θ.
    pub lr_generator: f64,
    /// Learning rate of the fake denoiser ψ.
    pub lr_fake: f64,
    /// Adam β₂ (β₁ = 0, Table 5).
    pub adam_beta2: f64,
    /// Fake-denoiser updates per generator update (`k_ψ`).
    pub k_fake: u32,
    /// Half-life of the generator's EMA in thousands of generated samples.
    pub ema_half_life_kimg: f64,
    /// Each phase's batch run in this many parts, one after the other, their gradients summed:
    /// the same update as the whole batch (to rounding), the split a data-parallel run gives
    /// its devices (docs/algorithm.md §2). 1 = the whole batch at once.
    pub micro_batches: usize,
}

impl Default for DistillConfig {
    fn default() -> Self {
        Self {
            objective: Objective::Sim,
            distance: Distance::default(),
            weighting: Weighting::NoWeight,
            generator_sigma: SigmaDistribution::Sim,
            fake_sigma: SigmaDistribution::Edm,
            t_star: 2.5,
            batch: 1024,
            lr_generator: 1e-4,
            lr_fake: 1e-4,
            adam_beta2: 0.999,
            k_fake: 1,
            ema_half_life_kimg: 20.0,
            micro_batches: 1,
        }
    }
}

impl DistillConfig {
    /// Checks ranges; the key is relative to `[distill]` (`lr_fake`, `distance.c`).
    pub fn validate(&self) -> Result<(), ValidationError> {
        positive(
            "lr_generator",
            self.lr_generator,
            "a learning rate such as 1e-4",
        )?;
        positive("lr_fake", self.lr_fake, "a learning rate such as 1e-4")?;
        positive("t_star", self.t_star, "a noise level such as 2.5")?;
        positive("ema_half_life_kimg", self.ema_half_life_kimg, "e.g. 20")?;
        if !(0.0..1.0).contains(&self.adam_beta2) {
            return Err(ValidationError::new(
                "adam_beta2",
                format!("must be in [0, 1), got {}", self.adam_beta2),
            ));
        }
        limits::batch("batch", self.batch)?;
        if self.k_fake == 0 {
            return Err(ValidationError::new(
                "k_fake",
                "must be at least 1 (k_ψ fake steps)",
            ));
        }
        if !(1..=self.batch).contains(&self.micro_batches) {
            return Err(ValidationError::new(
                "micro_batches",
                format!(
                    "must be between 1 and the batch ({}), got {}",
                    self.batch, self.micro_batches
                ),
            ));
        }
        self.distance.validate().map_err(|e| e.within("distance"))?;
        self.generator_sigma
            .validate()
            .map_err(|e| e.within("generator_sigma"))?;
        self.fake_sigma
            .validate()
            .map_err(|e| e.within("fake_sigma"))?;
        if let Objective::Sid { alpha } = self.objective
            && !alpha.is_finite()
        {
            return Err(ValidationError::new(
                "objective.alpha",
                "must be a finite number",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys are relative to `[distill]`, nested ones included.
    #[test]
    fn errors_name_the_field_below_distill() {
        let bad_lr = DistillConfig {
            lr_fake: -1.0,
            ..DistillConfig::default()
        };
        assert_eq!(bad_lr.validate().expect_err("negative lr").key, "lr_fake");
        let bad_c = DistillConfig {
            distance: Distance::PseudoHuber { c: 0.0 },
            ..DistillConfig::default()
        };
        let err = bad_c.validate().expect_err("c = 0");
        assert_eq!(err.within("distill").key, "distill.distance.c");
        assert!(DistillConfig::default().validate().is_ok());
    }
}
