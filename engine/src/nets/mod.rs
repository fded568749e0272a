//! Networks: the EDM-preconditioned MLP denoiser and its noise embedding.

pub mod embedding;
pub mod mlp;
