//! The EDM diffusion (Karras et al. 2022) that teacher, generator and fake denoiser share
//! (docs/algorithm.md §1).

pub mod denoiser;
pub mod edm;
pub mod loss;
pub mod sampler;
pub mod sigma;
