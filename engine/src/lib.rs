//! SIM Workbench engine: distil a diffusion teacher into a one-step generator with Score
//! Implicit Matching (Luo et al., NeurIPS 2024), and the SiD / Diff-Instruct baselines.
//!
//! Layers (see `ARCHITECTURE.md`): `diffusion` (EDM), `data`, `nets`, `distill` (distances,
//! objectives, the iteration), `image_teacher` (EDM U-Net teachers for images), `metrics`,
//! `store` (files), `run` (a run), `session` (the engine thread) and `protocol` (its commands
//! and events).

pub mod config;
pub mod data;
pub mod device;
pub mod diffusion;
pub mod distill;
pub mod error;
pub mod gradcheck;
pub mod image_run;
pub mod image_teacher;
pub mod metrics;
pub mod nets;
pub mod protocol;
pub mod rng;
pub mod run;
pub mod session;
pub mod store;
pub mod teacher;
