//! What one evaluation of a run measured: exact toy metrics, or image metrics — the one type
//! the protocol's `Evaluated` / `Finished` events and `metrics.jsonl` carry for both worlds.

use serde::{Deserialize, Serialize};

use super::{ImageMetrics, MetricError, ToyMetrics};

/// Refuses generated `samples` (rows of `dim` values) that hold NaN or ±inf before anything
/// scores them: such a sample is the fault of the network that made it (`whose` samples they
/// are; `cause` says what overflowed and what to do), not of the feature network.
pub fn finite_samples(
    samples: &[f32],
    dim: usize,
    whose: &str,
    cause: &str,
) -> Result<(), MetricError> {
    let Some(index) = samples.iter().position(|v| !v.is_finite()) else {
        return Ok(());
    };
    let dim = dim.max(1);
    Err(MetricError::NonFiniteGenerated {
        whose: whose.to_owned(),
        sample: index / dim,
        offset: index % dim,
        value: samples[index],
        cause: cause.to_owned(),
    })
}

/// Metrics of an evaluation. Serialised without a tag: a toy line of `metrics.jsonl` reads
/// exactly as before (`is`, `mode_coverage`, `in_mode`, `fd`), an image line has `fid`, `is`,
/// `feature_net`, `samples` ([`ImageMetrics`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Metrics {
    /// A 2-D toy run (exact IS and mode coverage with a mixture teacher).
    Toy(ToyMetrics),
    /// An image run: FID and IS from a named classifier ("FID (digits-CNN)").
    Image(ImageMetrics),
}

impl Metrics {
    /// The toy metrics, if this is a toy evaluation.
    pub fn toy(&self) -> Option<&ToyMetrics> {
        match self {
            Self::Toy(m) => Some(m),
            Self::Image(_) => None,
        }
    }

    /// The image metrics, if this is an image evaluation.
    pub fn image(&self) -> Option<&ImageMetrics> {
        match self {
            Self::Toy(_) => None,
            Self::Image(m) => Some(m),
        }
    }

    /// One line for progress bars and logs: "IS 7.91 · modes 100% · FD (raw 2-D) 0.0123" or
    /// "FID (digits-CNN) 3.210 · IS (digits-CNN) 8.700".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        match self {
            Self::Toy(m) => {
                if let Some(is) = m.is {
                    parts.push(format!("IS {is:.3}"));
                }
                if let Some(c) = m.mode_coverage {
                    parts.push(format!("modes {:.0}%", c * 100.0));
                }
                parts.push(format!("FD (raw 2-D) {:.4}", m.fd));
            }
            Self::Image(m) => {
                parts.push(format!("{} {:.3}", m.fid_label(), m.fid));
                parts.push(format!("{} {:.3}", m.is_label(), m.is));
            }
        }
        parts.join(" · ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_back_as_the_world_they_came_from() {
        let toy = Metrics::Toy(ToyMetrics {
            is: Some(7.5),
            mode_coverage: Some(1.0),
            in_mode: Some(0.9),
            fd: 0.01,
        });
        let image = Metrics::Image(ImageMetrics {
            fid: 3.5,
            is: 8.25,
            feature_net: "digits-CNN".into(),
            samples: 100,
        });
        for m in [toy, image] {
            let line = serde_json::to_value(&m).expect("json");
            assert!(
                line.get("Toy").is_none() && line.get("Image").is_none(),
                "{line}"
            );
            assert_eq!(serde_json::from_value::<Metrics>(line).expect("back"), m);
        }
    }

    #[test]
    fn non_finite_samples_name_whose_they_are_not_the_feature_network() {
        assert_eq!(finite_samples(&[0.5; 6], 3, "x", "y"), Ok(()));
        let samples = [0.0, 1.0, 2.0, 3.0, f32::INFINITY, 5.0];
        let err = finite_samples(&samples, 3, "the teacher's samples", "its weights overflow")
            .expect_err("inf");
        assert_eq!(
            err.to_string(),
            "the teacher's samples are not finite: sample 1 holds inf at value 1, so they \
             cannot be scored; its weights overflow"
        );
    }
}
