//! The 2-D toy world (docs/algorithm.md §6): Gaussian mixtures with an exact teacher, and sample-only
//! shapes for which a network teacher is trained.

mod mixture;
mod shapes;

pub use mixture::GaussianMixture;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::diffusion::edm::{SIGMA_DATA_RANGE, check_sigma_data};
use crate::rng::{Stream, rng_for};
use sim_formats::limits;
use sim_formats::validation::{ValidationError, count};

/// Largest length of a toy set (radius, spacing, std, noise, |mean|): the data stay far
/// inside f32 at every noise level.
pub const MAX_LENGTH: f64 = 1e3;

/// Largest relative weight of a mixture component: the weights' sum stays finite.
pub const MAX_WEIGHT: f64 = 1e6;

/// `value` of the field `key` must be a positive number at most [`MAX_LENGTH`]; the message
/// gives `hint`.
fn length(key: &str, value: f64, hint: &str) -> Result<(), ValidationError> {
    match value.is_finite() && value > 0.0 && value <= MAX_LENGTH {
        true => Ok(()),
        false => Err(ValidationError::new(
            key,
            format!("must be a positive number at most {MAX_LENGTH:e} ({hint}), got {value}"),
        )),
    }
}

/// One weighted component of a user-defined mixture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// Relative weight (normalised over all components).
    pub weight: f64,
    /// Mean `[x, y]`.
    pub mean: [f64; 2],
    /// Isotropic standard deviation.
    pub std: f64,
}

/// A 2-D toy data set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ToyData {
    /// `modes` equal Gaussians evenly spaced on a circle.
    Ring {
        /// Number of modes K.
        modes: usize,
        /// Circle radius.
        radius: f64,
        /// Std of each mode.
        std: f64,
    },
    /// A `side × side` grid of equal Gaussians, centred on the origin.
    Grid {
        /// Modes per side.
        side: usize,
        /// Distance between neighbouring modes.
        spacing: f64,
        /// Std of each mode.
        std: f64,
    },
    /// Any list of weighted components.
    Mixture {
        /// The components.
        components: Vec<Component>,
    },
    /// Two interleaved half circles (sample-only: needs a network teacher).
    TwoMoons {
        /// Std of the Gaussian jitter.
        noise: f64,
    },
    /// A 2-D swiss roll (sample-only).
    SwissRoll {
        /// Std of the Gaussian jitter.
        noise: f64,
    },
    /// A 4 × 4 checkerboard of uniform squares (sample-only).
    Checkerboard,
}

impl Default for ToyData {
    /// Eight modes on the unit circle, std 0.08: σ_d ≈ 0.71, close to the 0.5 of images, so the
    /// paper's σ distributions mean what they meant there.
    fn default() -> Self {
        Self::Ring {
            modes: 8,
            radius: 1.0,
            std: 0.08,
        }
    }
}

impl ToyData {
    /// The exact mixture, for the mixture kinds.
    pub fn mixture(&self) -> Option<GaussianMixture> {
        let build = |w, m, s| GaussianMixture::new(w, m, s).ok();
        match self {
            Self::Ring { modes, radius, std } => {
                let means = (0..*modes)
                    .map(|k| {
                        let a = std::f64::consts::TAU * k as f64 / *modes as f64;
                        vec![radius * a.cos(), radius * a.sin()]
                    })
                    .collect();
                build(vec![1.0; *modes], means, vec![*std; *modes])
            }
            Self::Grid { side, spacing, std } => {
                let offset = (*side as f64 - 1.0) / 2.0;
                let means = (0..side * side)
                    .map(|i| {
                        let (r, c) = ((i / side) as f64, (i % side) as f64);
                        vec![(c - offset) * spacing, (r - offset) * spacing]
                    })
                    .collect();
                build(vec![1.0; side * side], means, vec![*std; side * side])
            }
            Self::Mixture { components } => build(
                components.iter().map(|c| c.weight).collect(),
                components.iter().map(|c| c.mean.to_vec()).collect(),
                components.iter().map(|c| c.std).collect(),
            ),
            Self::TwoMoons { .. } | Self::SwissRoll { .. } | Self::Checkerboard => None,
        }
    }

    /// Data dimension (2 for every toy set).
    pub fn dim(&self) -> usize {
        2
    }

    /// `n` samples, row-major `[n, 2]`.
    pub fn sample(&self, rng: &mut impl Rng, n: usize) -> Vec<f32> {
        if let Some(mixture) = self.mixture() {
            return mixture.sample(rng, n).0;
        }
        match self {
            Self::TwoMoons { noise } => shapes::two_moons(rng, n, *noise),
            Self::SwissRoll { noise } => shapes::swiss_roll(rng, n, *noise),
            _ => shapes::checkerboard(rng, n),
        }
    }

    /// EDM's σ_d: exact for mixtures, else estimated from 100,000 seeded samples.
    pub fn sigma_data(&self) -> f64 {
        if let Some(mixture) = self.mixture() {
            return mixture.sigma_data();
        }
        let n = 100_000;
        let xs = self.sample(&mut rng_for(0, 0, Stream::Other(0x5d)), n);
        let var: f64 = (0..2)
            .map(|j| {
                let col = xs.iter().skip(j).step_by(2).map(|&v| f64::from(v));
                let mean = col.clone().sum::<f64>() / n as f64;
                col.map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64
            })
            .sum();
        (var / 2.0).sqrt()
    }

    /// Checks parameters: counts within [`limits::MAX_CLASSES`] modes, lengths positive and
    /// at most [`MAX_LENGTH`], and a mixture's σ_d within
    /// [`SIGMA_DATA_RANGE`](crate::diffusion::edm::SIGMA_DATA_RANGE); the message names the
    /// field.
    pub fn validate(&self) -> Result<(), ValidationError> {
        match self {
            Self::Ring { modes, radius, std } => {
                count("modes", *modes as u64, 1, limits::MAX_CLASSES as u64)?;
                length("radius", *radius, "e.g. 1.0")?;
                length("std", *std, "e.g. 0.05")?;
            }
            Self::Grid { side, spacing, std } => {
                let max_side = limits::MAX_CLASSES.isqrt();
                count("side", *side as u64, 1, max_side as u64)?;
                length("spacing", *spacing, "e.g. 0.5")?;
                length("std", *std, "e.g. 0.05")?;
            }
            Self::Mixture { components } => {
                count(
                    "components",
                    components.len() as u64,
                    1,
                    limits::MAX_CLASSES as u64,
                )?;
                for (k, c) in components.iter().enumerate() {
                    let within = |e: ValidationError| e.within(&format!("components[{k}]"));
                    if !(c.weight.is_finite() && c.weight > 0.0 && c.weight <= MAX_WEIGHT) {
                        return Err(within(ValidationError::new(
                            "weight",
                            format!(
                                "must be a positive number at most {MAX_WEIGHT:e} (a relative \
                                 weight such as 1.0), got {}",
                                c.weight
                            ),
                        )));
                    }
                    length("std", c.std, "e.g. 0.05").map_err(within)?;
                    for (axis, &m) in c.mean.iter().enumerate() {
                        if !(m.is_finite() && m.abs() <= MAX_LENGTH) {
                            return Err(within(ValidationError::new(
                                format!("mean[{axis}]"),
                                format!(
                                    "must be a number in [-{MAX_LENGTH:e}, {MAX_LENGTH:e}], \
                                     got {m}"
                                ),
                            )));
                        }
                    }
                }
            }
            Self::TwoMoons { noise } | Self::SwissRoll { noise } => {
                if !(noise.is_finite() && (0.0..=MAX_LENGTH).contains(noise)) {
                    return Err(ValidationError::new(
                        "noise",
                        format!("must be in [0, {MAX_LENGTH:e}], got {noise}"),
                    ));
                }
            }
            Self::Checkerboard => {}
        }
        let Some(mixture) = self.mixture() else {
            return Ok(());
        };
        let key = match self {
            Self::Ring { .. } => "radius",
            Self::Grid { .. } => "spacing",
            _ => "components",
        };
        let sigma_data = mixture.sigma_data();
        check_sigma_data(key, sigma_data).map_err(|_| {
            let (lo, hi) = SIGMA_DATA_RANGE;
            ValidationError::new(
                key,
                format!(
                    "gives the data σ_d = {sigma_data}, outside [{lo:e}, {hi:e}]; scale the set \
                     so that its spread lies in that range"
                ),
            )
        })
    }

    /// A short label for the UI and logs.
    pub fn label(&self) -> String {
        match self {
            Self::Ring { modes, .. } => format!("ring of {modes}"),
            Self::Grid { side, .. } => format!("{side}×{side} grid"),
            Self::Mixture { components } => format!("mixture of {}", components.len()),
            Self::TwoMoons { .. } => "two moons".into(),
            Self::SwissRoll { .. } => "swiss roll".into(),
            Self::Checkerboard => "checkerboard".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_modes_lie_on_the_circle() {
        let m = ToyData::default().mixture().expect("ring is a mixture");
        assert_eq!(m.modes(), 8);
        for mean in m.means() {
            assert!(((mean[0].powi(2) + mean[1].powi(2)).sqrt() - 1.0).abs() < 1e-12);
        }
        // σ_d² = (r²/2 + s²) for a ring of equal modes.
        assert!((m.sigma_data() - (0.5f64 + 0.0064).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn grid_is_centred() {
        let data = ToyData::Grid {
            side: 3,
            spacing: 1.0,
            std: 0.1,
        };
        let m = data.mixture().expect("grid is a mixture");
        let cx: f64 = m.means().iter().map(|v| v[0]).sum::<f64>();
        assert_eq!(m.modes(), 9);
        assert!(cx.abs() < 1e-12);
    }

    #[test]
    fn sizes_and_scales_beyond_the_ranges_are_refused_naming_the_field() {
        let refused = |data: ToyData| data.validate().expect_err("out of range");
        let e = refused(ToyData::Grid {
            side: 1_000_000,
            spacing: 0.5,
            std: 0.05,
        });
        assert_eq!(
            (e.key.as_str(), e.message.as_str()),
            ("side", "must be in 1..=1000, got 1000000")
        );
        let e = refused(ToyData::Ring {
            modes: 8,
            radius: 1e300,
            std: 0.1,
        });
        assert_eq!(e.key, "radius");
        let component = |mean: [f64; 2], std: f64| Component {
            weight: 1.0,
            mean,
            std,
        };
        let e = refused(ToyData::Mixture {
            components: vec![component([0.0, f64::NAN], 0.1)],
        });
        assert_eq!(
            e.to_string(),
            "`components[0].mean[1]`: must be a number in [-1e3, 1e3], got NaN"
        );
        // One component at the origin: σ_d is its std, 10⁻⁶.
        let e = refused(ToyData::Mixture {
            components: vec![component([0.0, 0.0], 1e-6)],
        })
        .to_string();
        assert!(
            e.starts_with("`components`: gives the data σ_d = 0.00000"),
            "{e}"
        );
        assert!(
            e.ends_with(
                ", outside [1e-4, 1e4]; scale the set so that its spread lies in that range"
            ),
            "{e}"
        );
    }

    #[test]
    fn sample_only_sets_have_sane_scale() {
        for data in [
            ToyData::TwoMoons { noise: 0.05 },
            ToyData::SwissRoll { noise: 0.05 },
            ToyData::Checkerboard,
        ] {
            assert!(data.mixture().is_none());
            let sd = data.sigma_data();
            assert!((0.3..1.5).contains(&sd), "{}: σ_d = {sd}", data.label());
        }
    }
}
