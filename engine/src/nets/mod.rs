//! Networks: the EDM-preconditioned MLP denoiser (toy data), the U-Net denoiser (images) and
//! their noise embedding.

pub mod embedding;
pub mod mlp;
pub mod unet;
