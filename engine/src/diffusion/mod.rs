//! The EDM diffusion (Karras et al. 2022) that teacher, generator and fake denoiser share
//! (SIM_SPEC §1).

pub mod denoiser;
pub mod edm;
pub mod loss;
pub mod sampler;
pub mod sigma;
