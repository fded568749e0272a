//! Sample-quality metrics (docs/algorithm.md §4).
//!
//! * [`frechet_distance`] between two [`Gaussian`] fits of feature vectors: the FID formula,
//!   with the matrix square root computed stably in f64.
//! * [`inception_score`] from a classifier's per-sample class probabilities, and
//!   [`class_histogram`] of the predicted classes (for mode coverage).
//! * [`toy_metrics`]: exact IS and mode coverage of 2-D samples under a Gaussian mixture.
//! * [`classifier`], [`train_classifier`]: a small CNN trained on an image domain, whose
//!   penultimate features and softmax stand in for Inception-v3's (no registry ships its weights; docs/algorithm.md §4).
//! * [`image_metrics`]: FID (Heusel et al. 2017) and IS (Salimans et al. 2016) of generated
//!   images with such a classifier, against cached [`ReferenceStats`].
//!
//! Per docs/algorithm.md §4 a Fréchet distance must be reported together with the network that produced
//! the features, e.g. "FID (digits-CNN)"; [`ImageMetrics::fid_label`] does so.

pub mod classifier;
mod eval;
pub mod feature_net;
mod frechet;
mod image;
mod inception_score;
mod toy;
pub mod train_classifier;

pub use crate::error::MetricError;
pub use eval::{Metrics, finite_samples};
pub use frechet::{Gaussian, frechet_distance};
pub use image::{ImageMetrics, ReferenceStats, image_metrics};
pub use inception_score::{class_histogram, inception_score};
pub use toy::{ToyMetrics, toy_metrics};
