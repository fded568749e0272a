//! Networks: the EDM-preconditioned MLP denoiser (toy data) and its shape `MlpConfig`, the
//! U-Net denoiser (images), EDM's DDPM++ U-Net of the published CIFAR-10 teachers
//! (`song_unet`), the residual block both U-Nets are made of (`unet_block`, EDM's
//! `UNetBlock`), their noise embedding and label check, and the CNN classifier behind FID / IS.

pub mod classifier;
pub mod embedding;
pub mod inception;
pub mod mlp;
pub mod song_unet;
pub mod unet;
mod unet_block;
