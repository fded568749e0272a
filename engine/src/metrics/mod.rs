//! Sample-quality metrics (SIM_SPEC §4).
//!
//! * [`frechet_distance`] between two [`Gaussian`] fits of feature vectors: the FID formula,
//!   with the matrix square root computed stably in f64.
//! * [`inception_score`] from a classifier's per-sample class probabilities, and
//!   [`class_histogram`] of the predicted classes (for mode coverage).
//!
//! Per SIM_SPEC §4 a Fréchet distance must be reported together with the network that produced
//! the features, e.g. "FID (digits-CNN features)"; these functions only see the features.

mod eval;
mod frechet;
mod inception;
mod toy;

pub use eval::{ImageMetrics, Metrics};
pub use frechet::{Gaussian, MetricError, frechet_distance};
pub use inception::{class_histogram, inception_score};
pub use toy::{ToyMetrics, toy_metrics};
