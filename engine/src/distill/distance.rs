//! Distance functions `d` of SIM (3.7) and their gradients `d'` (Table 4), per sample.
//! Adding a distance is one enum arm here, its `d` and `d'`, and a test.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use sim_formats::validation::{ValidationError, positive};

/// A distance on the (denoiser-space) score difference `y`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Distance {
    /// `d(y) = sqrt(‖y‖² + c²) − c` (3.8), the paper's choice.
    PseudoHuber {
        /// Scale c: below it `d` is quadratic, above it linear.
        c: f64,
    },
    /// `d(y) = ‖y‖²`; SIM-L2 = 2 × SiD at α = 1.
    L2,
    /// `d(y) = Σ_k |y_k|`. Its SIM surrogate is biased under autodiff (docs/algorithm.md §5.1).
    L1,
    /// Huber per coordinate: `y²/2` for `|y| ≤ δ`, else `δ(|y| − δ/2)`.
    Huber {
        /// Threshold δ.
        delta: f64,
    },
    /// `d(y) = Σ_k y_k^α`, α even ≥ 2 (Table 4).
    AlphaPower {
        /// Even exponent α.
        alpha: u32,
    },
    /// `d(y) = exp(β ‖y‖_α^α) − 1`, α even ≥ 2 (Table 4).
    ExpPower {
        /// Even exponent α.
        alpha: u32,
        /// Rate β > 0.
        beta: f64,
    },
}

impl Default for Distance {
    /// Pseudo-Huber with c = 0.03: see `presets/default.toml` for the c-sweep behind it.
    fn default() -> Self {
        Self::PseudoHuber { c: 0.03 }
    }
}

impl Distance {
    /// `d(y)` per sample.
    ///
    /// # Shapes
    /// `y`: `[batch, dim]`; result `[batch, 1]`.
    pub fn d(&self, y: Tensor<2>) -> Tensor<2> {
        match *self {
            Self::PseudoHuber { c } => y.square().sum_dim(1).add_scalar(c * c).sqrt().sub_scalar(c),
            Self::L2 => y.square().sum_dim(1),
            Self::L1 => y.abs().sum_dim(1),
            Self::Huber { delta } => {
                let a = y.abs();
                let quad = a.clone().square().mul_scalar(0.5);
                let lin = a.clone().sub_scalar(0.5 * delta).mul_scalar(delta);
                quad.mask_where(a.greater_elem(delta), lin).sum_dim(1)
            }
            Self::AlphaPower { alpha } => y.powi_scalar(alpha as i32).sum_dim(1),
            Self::ExpPower { alpha, beta } => y
                .powi_scalar(alpha as i32)
                .sum_dim(1)
                .mul_scalar(beta)
                .exp()
                .sub_scalar(1.0),
        }
    }

    /// `d'(y)`, the gradient of `d` in closed form (Table 4).
    ///
    /// # Shapes
    /// `y`: `[batch, dim]`; result `[batch, dim]`.
    pub fn d_prime(&self, y: Tensor<2>) -> Tensor<2> {
        match *self {
            Self::PseudoHuber { c } => {
                let norm = y.clone().square().sum_dim(1).add_scalar(c * c).sqrt();
                y.div(norm)
            }
            Self::L2 => y.mul_scalar(2.0),
            Self::L1 => y.sign(),
            Self::Huber { delta } => y.clamp(-delta, delta),
            Self::AlphaPower { alpha } => y.powi_scalar(alpha as i32 - 1).mul_scalar(alpha),
            Self::ExpPower { alpha, beta } => {
                let scale = y
                    .clone()
                    .powi_scalar(alpha as i32)
                    .sum_dim(1)
                    .mul_scalar(beta)
                    .exp()
                    .mul_scalar(f64::from(alpha) * beta);
                y.powi_scalar(alpha as i32 - 1).mul(scale)
            }
        }
    }

    /// The weight `|d'(y)| / |y|` the distance gives an update, as a function of `|y|`, where it
    /// depends on `|y|` alone (docs/algorithm.md §7): pseudo-Huber `1/√(|y|² + c²)`, L2 2.
    pub fn weight_at(&self, norm_y: f64) -> Option<f64> {
        match *self {
            Self::PseudoHuber { c } => Some(1.0 / (norm_y * norm_y + c * c).sqrt()),
            Self::L2 => Some(2.0),
            _ => None,
        }
    }

    /// Checks parameters; the message says what would be valid.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let even = |alpha: u32| {
            if alpha >= 2 && alpha.is_multiple_of(2) {
                Ok(())
            } else {
                Err(ValidationError::new(
                    "alpha",
                    format!("must be an even integer ≥ 2, got {alpha}"),
                ))
            }
        };
        match *self {
            Self::PseudoHuber { c } => positive("c", c, "e.g. 0.03"),
            Self::L2 | Self::L1 => Ok(()),
            Self::Huber { delta } => positive("delta", delta, "e.g. 0.1"),
            Self::AlphaPower { alpha } => even(alpha),
            Self::ExpPower { alpha, beta } => even(alpha).and(positive("beta", beta, "e.g. 0.5")),
        }
    }

    /// The name used in plots and logs, with parameters.
    pub fn label(&self) -> String {
        match self {
            Self::PseudoHuber { c } => format!("pseudo-Huber (c={c})"),
            Self::L2 => "L2".into(),
            Self::L1 => "L1".into(),
            Self::Huber { delta } => format!("Huber (δ={delta})"),
            Self::AlphaPower { alpha } => format!("α-power (α={alpha})"),
            Self::ExpPower { alpha, beta } => format!("exp-power (α={alpha}, β={beta})"),
        }
    }

    /// A caveat the UI shows when this distance is selected.
    pub fn caveat(&self) -> Option<&'static str> {
        match self {
            Self::L1 => Some(
                "L1: d'(y) = sign(y) has zero derivative almost everywhere, so the SIM surrogate \
                 drops a Dirac term and its gradient is biased (see `sim-workbench gradcheck \
                 --distance l1`).",
            ),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_weight_at_a_norm_is_the_closed_form() {
        let w = Distance::PseudoHuber { c: 0.5 }
            .weight_at(1.2)
            .unwrap_or(0.0);
        assert!((w - 1.0 / 1.3).abs() < 1e-12);
        assert_eq!(Distance::L2.weight_at(7.0), Some(2.0));
        assert_eq!(Distance::L1.weight_at(1.0), None);
    }

    /// docs/algorithm.md §5.3: each closed-form d' equals autodiff of its d on random inputs.
    #[test]
    fn closed_form_gradient_matches_autodiff() {
        let device = Device::flex().autodiff();
        let values: Vec<f32> = (0..24)
            .map(|i| ((i as f32 * 0.7361).sin() * 0.9) + if i % 5 == 0 { 0.03 } else { 0.0 })
            .collect();
        let distances = [
            Distance::PseudoHuber { c: 0.3 },
            Distance::PseudoHuber { c: 0.01 },
            Distance::L2,
            Distance::L1,
            Distance::Huber { delta: 0.4 },
            Distance::AlphaPower { alpha: 2 },
            Distance::AlphaPower { alpha: 4 },
            Distance::ExpPower {
                alpha: 2,
                beta: 0.5,
            },
            Distance::ExpPower {
                alpha: 4,
                beta: 0.3,
            },
        ];
        for distance in distances {
            let y = Tensor::<2>::from_data(TensorData::new(values.clone(), [6, 4]), &device)
                .require_grad();
            let grads = distance.d(y.clone()).sum().backward();
            let auto = y
                .grad(&grads)
                .expect("grad")
                .try_into_vec_as::<f32>()
                .expect("f32");
            let closed = distance
                .d_prime(y.inner())
                .try_into_vec_as::<f32>()
                .expect("f32");
            for (a, c) in auto.iter().zip(&closed) {
                assert!(
                    (a - c).abs() < 1e-5 * (1.0 + c.abs()),
                    "{distance:?}: {a} vs {c}"
                );
            }
        }
    }

    #[test]
    fn distances_vanish_at_zero_and_are_positive() {
        let device = Device::flex();
        let zero = Tensor::<2>::zeros([1, 3], &device);
        let one = Tensor::<2>::ones([1, 3], &device);
        for distance in [
            Distance::PseudoHuber { c: 0.5 },
            Distance::L2,
            Distance::L1,
            Distance::Huber { delta: 0.5 },
            Distance::AlphaPower { alpha: 4 },
            Distance::ExpPower {
                alpha: 2,
                beta: 1.0,
            },
        ] {
            let at_zero: f32 = distance.d(zero.clone()).into_scalar();
            let at_one: f32 = distance.d(one.clone()).into_scalar();
            assert!(at_zero.abs() < 1e-7 && at_one > 0.0, "{distance:?}");
        }
    }

    #[test]
    fn validation_rejects_odd_alpha_and_negative_c() {
        assert!(Distance::AlphaPower { alpha: 3 }.validate().is_err());
        assert!(Distance::PseudoHuber { c: -1.0 }.validate().is_err());
        assert!(
            Distance::ExpPower {
                alpha: 2,
                beta: 0.0
            }
            .validate()
            .is_err()
        );
        assert!(Distance::default().validate().is_ok());
    }
}
