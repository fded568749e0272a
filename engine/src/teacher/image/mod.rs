//! Image teachers: an EDM-preconditioned U-Net denoiser (`nets::unet`) trained on an
//! [`ImageSet`](crate::data::images::ImageSet) with the EDM denoising loss (Karras et al. 2022:
//! Table 1 preconditioning, σ ~ p_EDM, weight λ(σ); docs/algorithm.md §1), then frozen and sampled
//! with EDM's Heun sampler (Algorithm 1).
//!
//! - [`settings`]: what a training run is (TOML, `--set` overrides);
//! - [`batch`]: one step's draws and the loss on them;
//! - [`trainer`]: the run's state, its steps and its checkpoints (bit-exact resume);
//! - [`file`]: the shipped teacher file (EMA weights + provenance) and its loader;
//! - [`sample`]: images and sample grids from a teacher.

pub mod batch;
pub mod file;
pub mod sample;
pub mod settings;
pub mod trainer;

pub use batch::TrainingBatch;
pub use file::{ImageTeacher, ImageTeacherInfo, load_image_teacher, save_image_teacher};
pub use sample::{heun_images, sample_images, write_sample_grid};
pub use settings::ImageTeacherSettings;
pub use trainer::{ImageTrainer, StepReport};

#[cfg(test)]
mod tests;
