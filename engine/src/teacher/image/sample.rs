//! Images from an image denoiser: EDM's deterministic Heun sampler (Karras et al. 2022,
//! Algorithm 1) on flat rows, and sample grids as PNG.

use std::path::Path;

use burn::prelude::*;

use crate::diffusion::denoiser::WithLabels;
use crate::diffusion::sampler::{Integrator, sample};
use crate::distill::net::ImageDenoiser;
use crate::error::{ConfigError, EngineError, Result};
use crate::rng::{Stream, normal, rng_for};
use crate::store::image_grid::write_image_grid;
use crate::tensor::{host, one_hot};
use sim_formats::limits;

/// Images sampled per network call batch (bounds memory for large `n`).
const CHUNK: usize = 256;

/// `n` images from `net` with `steps` Heun steps of EDM Algorithm 1 (`2·steps − 1` network
/// evaluations, from `x ~ N(0, σ_max² I)` at σ_max = 80 down to σ = 0), starting noise from
/// `rng_for(seed, 0, Stream::Eval)`. See [`heun_images`] for `labels` and the result.
pub fn sample_images<N: ImageDenoiser>(
    net: &N,
    n: usize,
    steps: usize,
    labels: Option<&[usize]>,
    seed: u64,
) -> Result<Vec<f32>> {
    limits::allocation(
        "samples",
        "the sampled images",
        n as u128 * net.dim() as u128,
        4,
    )
    .map_err(ConfigError::from)?;
    let u = normal(&mut rng_for(seed, 0, Stream::Eval), n * net.dim(), 1.0);
    heun_images(net, &u, labels, steps)
}

/// EDM Algorithm 1 (Heun, `steps` steps) from `σ_max·u` for each row of the unit noise `u`
/// (`[n, C·H·W]` row-major).
///
/// `labels` gives the class of each image and is required exactly when the network is
/// class-conditional. The result is `[n, C·H·W]` row-major (NCHW per row), in the data's
/// `[-1, 1]` scale (not clamped). The network is used without autodiff, whatever its device.
pub fn heun_images<N: ImageDenoiser>(
    net: &N,
    u: &[f32],
    labels: Option<&[usize]>,
    steps: usize,
) -> Result<Vec<f32>> {
    let (classes, dim) = (net.classes(), net.dim());
    let n = u.len() / dim;
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
    chunked(u, dim, &device, |start, z| match labels {
        Some(l) => {
            let y = one_hot(&l[start..start + z.dims()[0]], classes, &device);
            let bound = WithLabels {
                net: &net,
                labels: y,
            };
            sample(&bound, Integrator::Heun, steps, z)
        }
        None => sample(&net, Integrator::Heun, steps, z),
    })
}

/// Applies `f(first_row, rows)` to `[CHUNK, dim]` slices of `values` and concatenates the
/// results on the host (bounds memory for large evaluations).
pub(crate) fn chunked(
    values: &[f32],
    dim: usize,
    device: &Device,
    mut f: impl FnMut(usize, Tensor<2>) -> Tensor<2>,
) -> Result<Vec<f32>> {
    let n = values.len() / dim;
    let mut out = Vec::with_capacity(values.len());
    for start in (0..n).step_by(CHUNK) {
        let rows = CHUNK.min(n - start);
        let x = Tensor::<2>::from_data(
            TensorData::new(
                values[start * dim..(start + rows) * dim].to_vec(),
                [rows, dim],
            ),
            device,
        );
        out.extend(host(f(start, x))?);
    }
    Ok(out)
}

/// Samples a `rows × columns` grid and writes it as PNG (see
/// [`write_image_grid`]), `scale`× nearest-neighbour. A class-conditional network gets one row
/// per class (`rows` = its number of classes, row `k` = class `k`); an unconditional one
/// `rows = columns`. Returns the sampled pixels, `[rows · columns, C·H·W]`.
pub fn write_sample_grid<N: ImageDenoiser>(
    net: &N,
    path: &Path,
    columns: usize,
    steps: usize,
    seed: u64,
    scale: u32,
) -> Result<Vec<f32>> {
    let classes = net.classes();
    let (rows, labels) = if classes > 0 {
        let labels: Vec<usize> = (0..classes)
            .flat_map(|k| std::iter::repeat_n(k, columns))
            .collect();
        (classes, Some(labels))
    } else {
        (columns, None)
    };
    let pixels = sample_images(net, rows * columns, steps, labels.as_deref(), seed)?;
    write_image_grid(path, &pixels, net.image_shape(), columns, scale)?;
    Ok(pixels)
}
