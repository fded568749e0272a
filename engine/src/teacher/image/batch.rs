//! One training batch of the EDM denoising loss on images, drawn from
//! `rng_for(seed, step, Stream::ImageTeacher)` alone, and the loss on it.

use burn::prelude::*;
use rand::Rng;

use super::settings::ImageTeacherSettings;
use crate::data::images::ImageSet;
use crate::diffusion::loss::denoising_loss;
use crate::diffusion::sigma::SigmaDistribution;
use crate::nets::unet::UNetDenoiser;
use crate::rng::{Stream, normal, rng_for};

/// The draws of one step: clean images `x_0`, noise levels `σ ~ p_EDM`, standard normal noise
/// `ε` and (conditional training only) class labels. Host vectors, so a test can compute with
/// exactly what the network saw.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingBatch {
    /// Images in the batch.
    pub size: usize,
    /// Values per image, `C·H·W`.
    pub dim: usize,
    /// `x_0`, `[size, dim]` row-major (NCHW per row).
    pub x0: Vec<f32>,
    /// `σ`, one per image: `ln σ ~ N(−1.2, 1.2²)` (EDM's p_EDM, B.5–B.6), clamped to
    /// `[σ_min, σ_max]`.
    pub sigma: Vec<f32>,
    /// `ε ~ N(0, I)`, `[size, dim]`.
    pub noise: Vec<f32>,
    /// Class of each image, or empty for unconditional training.
    pub labels: Vec<u8>,
    /// Number of classes of the one-hot label vectors (0 when unconditional).
    pub classes: usize,
}

impl TrainingBatch {
    /// Draws the batch of `step`: `batch` images uniformly with replacement, a horizontal flip
    /// of each with probability ½ when `hflip`, then σ, then ε — always in this order, so the
    /// batch depends on (`seed`, `step`) alone. `classes` > 0 keeps the labels.
    pub fn draw(
        set: &ImageSet,
        settings: &ImageTeacherSettings,
        classes: usize,
        step: u64,
    ) -> Self {
        let mut rng = rng_for(settings.seed, step, Stream::ImageTeacher);
        let (size, dim, n) = (settings.batch, set.dim(), set.len());
        let indices: Vec<usize> = (0..size).map(|_| rng.random_range(0..n)).collect();
        let mut x0 = Vec::with_capacity(size * dim);
        for &i in &indices {
            let image = set.image(i);
            if settings.hflip && rng.random_bool(0.5) {
                for row in image.chunks_exact(set.width) {
                    x0.extend(row.iter().rev());
                }
            } else {
                x0.extend_from_slice(image);
            }
        }
        let sigma = SigmaDistribution::Edm.sample(&mut rng, size);
        let noise = normal(&mut rng, size * dim, 1.0);
        let labels = if classes > 0 {
            indices.iter().map(|&i| set.labels[i]).collect()
        } else {
            Vec::new()
        };
        Self {
            size,
            dim,
            x0,
            sigma,
            noise,
            labels,
            classes,
        }
    }

    /// The EDM loss of `net` on this batch: the batch mean of
    /// `λ(σ) ‖D(x_0 + σε; σ, y) − x_0‖²` summed over pixels, with
    /// `λ(σ) = (σ² + σ_d²) / (σ σ_d)²` (Karras et al. 2022, eq. 2 and Table 1; the paper's
    /// B.5–B.7, docs/algorithm.md §1). Differentiable in the parameters of `net` on an autodiff device.
    pub fn loss(&self, net: &UNetDenoiser, device: &Device) -> Tensor<1> {
        let rows = |values: &[f32], width: usize| {
            Tensor::<2>::from_data(TensorData::new(values.to_vec(), [self.size, width]), device)
        };
        let x0 = rows(&self.x0, self.dim);
        let sigma = rows(&self.sigma, 1);
        let x_t = x0
            .clone()
            .add(rows(&self.noise, self.dim).mul(sigma.clone()));
        let labels = (self.classes > 0).then(|| rows(&self.one_hot(), self.classes));
        let denoised = net.denoise_labelled(x_t, sigma.clone(), labels);
        denoising_loss(denoised, x0, sigma, net.sigma_data())
    }

    /// The labels as one-hot rows, `[size, classes]` row-major.
    fn one_hot(&self) -> Vec<f32> {
        let mut out = vec![0.0; self.size * self.classes];
        for (row, &label) in self.labels.iter().enumerate() {
            out[row * self.classes + usize::from(label)] = 1.0;
        }
        out
    }
}
