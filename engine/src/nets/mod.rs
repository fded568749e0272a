//! Networks: the EDM-preconditioned MLP denoiser (toy data) and its shape `MlpConfig`, the
//! U-Net denoiser (images), their noise embedding, and the CNN classifier behind FID / IS.

pub mod classifier;
pub mod embedding;
pub mod mlp;
pub mod unet;
