//! The generic training kit every trainer of the engine shares (the distillation iteration, the
//! image-teacher trainer, the classifier trainer, the toy teacher fit): Adam keyed by parameter
//! path, the EMA of a network, and parameters by path with gradient sanitising.

pub mod adam;
pub mod ema;
pub mod params;
