//! Tensor helpers every layer above the ground floor shares: read-back to the host, seeded
//! Gaussian noise, one-hot labels.

use burn::prelude::*;

use crate::error::{EngineError, Result};
use crate::rng::{Stream, normal, rng_for};

/// A tensor's values on the host, row-major (a device read-back: it waits for the device).
pub fn host<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    t.try_into_vec_as::<f32>()
        .map_err(|e| EngineError::Device(format!("{e:?}")))
}

/// Seeded `N(0, std²)` noise of shape `[n, dim]` from `rng_for(seed, 0, stream)`.
pub fn seeded_noise(
    seed: u64,
    stream: Stream,
    n: usize,
    dim: usize,
    std: f64,
    device: &Device,
) -> Tensor<2> {
    let mut rng = rng_for(seed, 0, stream);
    Tensor::from_data(
        TensorData::new(normal(&mut rng, n * dim, std), [n, dim]),
        device,
    )
}

/// One-hot rows `[labels.len(), classes]` of integer labels in `0..classes`.
pub fn one_hot(labels: &[usize], classes: usize, device: &Device) -> Tensor<2> {
    let mut values = vec![0.0f32; labels.len() * classes];
    for (row, &y) in labels.iter().enumerate() {
        values[row * classes + y] = 1.0;
    }
    Tensor::from_data(TensorData::new(values, [labels.len(), classes]), device)
}
