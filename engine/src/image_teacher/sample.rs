//! Images from an image denoiser: EDM's deterministic Heun sampler (Karras et al. 2022,
//! Algorithm 1) on flat rows, and sample grids as PNG.

use std::path::Path;

use burn::module::Module;
use burn::prelude::*;

use crate::diffusion::sampler::{Integrator, sample};
use crate::error::{EngineError, Result};
use crate::nets::unet::UNetDenoiser;
use crate::rng::{Stream, normal, rng_for};
use crate::store::image_grid::write_image_grid;

/// Images sampled per network call batch (bounds memory for large `n`).
const CHUNK: usize = 256;

/// `n` images from `net` with `steps` Heun steps of EDM Algorithm 1 (`2·steps − 1` network
/// evaluations, from `x ~ N(0, σ_max² I)` at σ_max = 80 down to σ = 0), starting noise from
/// `rng_for(seed, 0, Stream::Eval)`.
///
/// `labels` gives the class of each image and is required exactly when the network is
/// class-conditional. The result is `[n, C·H·W]` row-major (NCHW per row), in the data's
/// `[-1, 1]` scale (not clamped). The network is used without autodiff, whatever its device.
pub fn sample_images(
    net: &UNetDenoiser,
    n: usize,
    steps: usize,
    labels: Option<&[usize]>,
    seed: u64,
) -> Result<Vec<f32>> {
    let classes = net.config().classes;
    match (classes, labels) {
        (0, Some(_)) => {
            return Err(EngineError::Invalid(
                "this teacher is unconditional: sample it without labels".into(),
            ));
        }
        (c, None) if c > 0 => {
            return Err(EngineError::Invalid(format!(
                "this teacher is class-conditional ({c} classes): give one label per image"
            )));
        }
        (_, Some(l)) if l.len() != n => {
            return Err(EngineError::Invalid(format!(
                "{} labels for {n} images: give one label per image",
                l.len()
            )));
        }
        (c, Some(l)) if l.iter().any(|&y| y >= c) => {
            return Err(EngineError::Invalid(format!(
                "labels must be in 0..{c}, got {:?}",
                l.iter().max()
            )));
        }
        _ => {}
    }
    if steps == 0 {
        return Err(EngineError::Invalid(
            "sampling needs at least 1 step".into(),
        ));
    }
    let net = net.valid();
    let device = net
        .devices()
        .into_iter()
        .next()
        .map(Device::inner)
        .ok_or_else(|| EngineError::Invalid("the network has no parameters".into()))?;
    let dim = net.dim();
    let mut rng = rng_for(seed, 0, Stream::Eval);
    let noise = normal(&mut rng, n * dim, 1.0);
    let mut out = Vec::with_capacity(n * dim);
    for start in (0..n).step_by(CHUNK) {
        let rows = CHUNK.min(n - start);
        let z = Tensor::<2>::from_data(
            TensorData::new(
                noise[start * dim..(start + rows) * dim].to_vec(),
                [rows, dim],
            ),
            &device,
        );
        let x = match labels {
            Some(l) => {
                let mut one_hot = vec![0.0f32; rows * classes];
                for (row, &y) in l[start..start + rows].iter().enumerate() {
                    one_hot[row * classes + y] = 1.0;
                }
                let y = Tensor::<2>::from_data(TensorData::new(one_hot, [rows, classes]), &device);
                sample(&net.with_labels(y), Integrator::Heun, steps, z)
            }
            None => sample(&net, Integrator::Heun, steps, z),
        };
        out.extend(
            x.try_into_vec_as::<f32>()
                .map_err(|e| EngineError::Device(format!("{e:?}")))?,
        );
    }
    Ok(out)
}

/// Samples a `rows × columns` grid and writes it as PNG (see
/// [`write_image_grid`]), `scale`× nearest-neighbour. A class-conditional network gets one row
/// per class (`rows` = its number of classes, row `k` = class `k`); an unconditional one
/// `rows = columns`. Returns the sampled pixels, `[rows · columns, C·H·W]`.
pub fn write_sample_grid(
    net: &UNetDenoiser,
    path: &Path,
    columns: usize,
    steps: usize,
    seed: u64,
    scale: u32,
) -> Result<Vec<f32>> {
    let config = net.config();
    let (rows, labels) = if config.classes > 0 {
        let labels: Vec<usize> = (0..config.classes)
            .flat_map(|k| std::iter::repeat_n(k, columns))
            .collect();
        (config.classes, Some(labels))
    } else {
        (columns, None)
    };
    let pixels = sample_images(net, rows * columns, steps, labels.as_deref(), seed)?;
    let shape = [config.image_channels, config.image_size, config.image_size];
    write_image_grid(path, &pixels, shape, columns, scale)?;
    Ok(pixels)
}
