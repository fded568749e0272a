//! What the networks' conditioning embeddings share: the Fourier embedding of the noise
//! condition `c_noise = ln(σ) / 4`, and the check of class labels against a network's classes.

use burn::prelude::*;

/// `[c_noise, sin(f_j c_noise), cos(f_j c_noise)]` with `f_j` geometric from 1 to 32.
///
/// # Shapes
/// `c_noise`: `[batch, 1]`; result: `[batch, 1 + 2 · frequencies]`.
pub fn fourier_embedding(c_noise: Tensor<2>, frequencies: usize) -> Tensor<2> {
    let device = c_noise.device();
    let freqs: Vec<f32> = (0..frequencies)
        .map(|j| {
            let frac = if frequencies > 1 {
                j as f64 / (frequencies - 1) as f64
            } else {
                0.0
            };
            32f64.powf(frac) as f32
        })
        .collect();
    let f = Tensor::<2>::from_data(TensorData::new(freqs, [1, frequencies]), &device);
    let phase = c_noise.clone().mul(f); // [batch, F]
    Tensor::cat(vec![c_noise, phase.clone().sin(), phase.cos()], 1)
}

/// Width of [`fourier_embedding`]'s output.
pub fn embedding_width(frequencies: usize) -> usize {
    1 + 2 * frequencies
}

/// Checks class vectors against the class count of the network they condition (both U-Nets'
/// `denoise_labelled`): `labels` (`[batch, width]`: one-hot rows, mixes of them, or all-zero
/// rows for "no class") must have one column per class of a class-conditional network.
///
/// # Panics
/// If `labels` is given but the network has no classes or a different number of them; the
/// message names `network`.
pub fn check_labels(network: &str, labels: Option<&Tensor<2>>, classes: usize) {
    if let Some(y) = labels {
        let width = y.dims()[1];
        assert!(
            classes > 0 && width == classes,
            "{network} denoiser: labels have {width} columns, the network has {classes} classes"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_and_values() {
        let device = Device::flex();
        let c = Tensor::<2>::from_floats([[0.5], [-1.0]], &device);
        let e = fourier_embedding(c, 3);
        assert_eq!(e.dims(), [2, embedding_width(3)]);
        let v = e.try_into_vec_as::<f32>().expect("f32");
        // Row 0: c, sin(1·c), sin(√32·c), sin(32·c), cos(…).
        assert!((v[0] - 0.5).abs() < 1e-6);
        assert!((v[1] - 0.5f32.sin()).abs() < 1e-6);
        assert!((v[4] - 0.5f32.cos()).abs() < 1e-6);
    }
}
