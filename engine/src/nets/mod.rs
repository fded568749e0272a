//! Networks: the EDM-preconditioned MLP denoiser (toy data) and its shape `MlpConfig`, the
//! U-Net denoiser (images), EDM's DDPM++ U-Net of the published CIFAR-10 teachers
//! (`song_unet`), their noise embedding, and the CNN classifier behind FID / IS.

pub mod classifier;
pub mod embedding;
pub mod inception;
pub mod mlp;
pub mod song_unet;
pub mod unet;
