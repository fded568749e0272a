//! The image side of a [`Run`](crate::run::Run): the U-Net networks θ and ψ (copies of the
//! teacher), one-step and multi-step samples on shared noise and labels, FID / IS evaluation,
//! and teacher | student sample grids.

use std::path::Path;

use burn::module::Module;
use burn::prelude::*;

use crate::config::RunConfig;
use crate::data::images::ImageSource;
use crate::diffusion::sampler::{Integrator, sample};
use crate::distill::iteration::{Networks, one_hot};
use crate::error::{EngineError, Result};
use crate::image_teacher::ImageTeacher;
use crate::metrics::{Gaussian, ImageMetrics, frechet_distance};
use crate::nets::unet::UNetDenoiser;
use crate::rng::{Stream, normal, rng_for};
use crate::store::image_grid::write_image_grid;

/// Images per network call when sampling (bounds memory for large evaluations).
const CHUNK: usize = 256;
/// Images per row of the view grid (and rows of an unconditional one).
pub const VIEW_COLUMNS: usize = 10;
/// At most this many data images make the reference statistics.
const REFERENCE_IMAGES: usize = 10_000;

/// The networks of an image run and what their samples are judged against.
#[derive(Debug)]
pub struct ImageWorld {
    /// θ, ψ, the EMA and their Adams; U-Nets shaped like the teacher.
    pub nets: Networks<UNetDenoiser>,
    judge: ImageJudge,
    shape: [usize; 3],
    classes: usize,
}

/// Scores generated images against reference statistics of the data set.
#[derive(Debug)]
struct ImageJudge {
    feature_net: String,
    reference: Gaussian,
}

impl ImageJudge {
    /// Reference statistics of the data set the teacher was trained on (padded as it was).
    fn new(source: &ImageSource, pad_to: usize) -> Result<Self> {
        let set = source
            .load()
            .map_err(|e| EngineError::Invalid(format!("data: {e}")))?;
        let set = if pad_to > 0 {
            set.pad_to(pad_to)
                .map_err(|e| EngineError::Invalid(format!("data: {e}")))?
        } else {
            set
        };
        let n = set.len().min(REFERENCE_IMAGES);
        let pixels = &set.pixels[..n * set.dim()];
        let reference = Gaussian::fit(pixels, set.dim()).map_err(|e| {
            EngineError::Invalid(format!("reference statistics of {}: {e}", set.name))
        })?;
        Ok(Self {
            feature_net: "raw pixels".into(),
            reference,
        })
    }

    /// FID of `images` (`[n, dim]` row-major).
    fn score(&self, images: &[f32]) -> Result<ImageMetrics> {
        let dim = self.reference.dim();
        let fit = Gaussian::fit(images, dim)
            .map_err(|e| EngineError::Invalid(format!("generated images: {e}")))?;
        let fid = frechet_distance(&fit, &self.reference)
            .map_err(|e| EngineError::Invalid(format!("FID: {e}")))?;
        Ok(ImageMetrics {
            fid,
            is: None,
            feature_net: self.feature_net.clone(),
            samples: images.len() / dim,
        })
    }
}

impl ImageWorld {
    /// θ, ψ and the EMA as `nets` (copies of `teacher`'s U-Net, or a checkpoint's), judged
    /// against the data set the teacher was trained on.
    pub fn new(nets: Networks<UNetDenoiser>, teacher: &ImageTeacher) -> Result<Self> {
        let unet = &teacher.info.unet;
        let training = &teacher.info.training;
        Ok(Self {
            nets,
            judge: ImageJudge::new(&training.data, training.pad_to)?,
            shape: [unet.image_channels, unet.image_size, unet.image_size],
            classes: unet.classes,
        })
    }

    /// `[C, H, W]` of the images.
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// Values per image.
    fn dim(&self) -> usize {
        self.shape.iter().product()
    }

    /// Labels of evaluation sample `i`: classes in turn (`i mod classes`), so every class is
    /// equally represented; `None` when unconditional.
    fn eval_labels(&self, n: usize) -> Option<Vec<usize>> {
        (self.classes > 0).then(|| (0..n).map(|i| i % self.classes).collect())
    }

    /// Labels of the view grid: row `k` is class `k`; `None` when unconditional.
    pub fn view_labels(&self) -> Option<Vec<usize>> {
        (self.classes > 0).then(|| {
            (0..self.classes * VIEW_COLUMNS)
                .map(|i| i / VIEW_COLUMNS)
                .collect()
        })
    }

    /// Images in the view grid.
    fn view_count(&self) -> usize {
        VIEW_COLUMNS
            * if self.classes > 0 {
                self.classes
            } else {
                VIEW_COLUMNS
            }
    }

    /// Unit noise `u` of the evaluation (`Stream::Eval`) or of the view (`Stream::Other`).
    fn unit_noise(&self, seed: u64, stream: Stream, n: usize) -> Vec<f32> {
        normal(&mut rng_for(seed, 0, stream), n * self.dim(), 1.0)
    }

    /// One-step samples `g(t*·u, y)` of the EMA generator on the evaluation noise, and their
    /// scores.
    pub fn evaluate(&self, config: &RunConfig, device: &Device) -> Result<ImageMetrics> {
        let n = config.eval.samples;
        let u = self.unit_noise(config.seed, Stream::Eval, n);
        let labels = self.eval_labels(n);
        let images = one_step(
            &self.nets.ema,
            &u,
            labels.as_deref(),
            config.distill.t_star,
            self.dim(),
            device,
        )?;
        self.judge.score(&images)
    }

    /// The teacher's scores: Heun with `eval.teacher_steps` steps from `σ_max·u` on the
    /// student's evaluation noise and labels.
    pub fn evaluate_teacher(
        &self,
        teacher: &ImageTeacher,
        config: &RunConfig,
    ) -> Result<ImageMetrics> {
        let n = config.eval.samples;
        let u = self.unit_noise(config.seed, Stream::Eval, n);
        let labels = self.eval_labels(n);
        let images = heun(
            &teacher.net,
            &u,
            labels.as_deref(),
            config.eval.teacher_steps,
            self.dim(),
        )?;
        self.judge.score(&images)
    }

    /// The student's view grid: one-step samples on the view noise and labels.
    pub fn student_view(&self, config: &RunConfig, device: &Device) -> Result<Vec<f32>> {
        let u = self.unit_noise(config.seed, Stream::Other(VIEW_STREAM), self.view_count());
        let labels = self.view_labels();
        one_step(
            &self.nets.ema,
            &u,
            labels.as_deref(),
            config.distill.t_star,
            self.dim(),
            device,
        )
    }

    /// The teacher's view grid: Heun with `steps` steps on the same noise and labels.
    pub fn teacher_view(
        &self,
        teacher: &ImageTeacher,
        seed: u64,
        steps: usize,
    ) -> Result<Vec<f32>> {
        let u = self.unit_noise(seed, Stream::Other(VIEW_STREAM), self.view_count());
        let labels = self.view_labels();
        heun(&teacher.net, &u, labels.as_deref(), steps, self.dim())
    }
}

/// Stream label of the view's unit noise.
const VIEW_STREAM: u64 = 0x71e;

/// `g(z, y) = D(z; t*, y)` with `z = t*·u` (B.4), in chunks, without autodiff.
///
/// # Shapes
/// `u`: `[n, dim]` row-major; result `[n, dim]`.
fn one_step(
    generator: &UNetDenoiser,
    u: &[f32],
    labels: Option<&[usize]>,
    t_star: f64,
    dim: usize,
    device: &Device,
) -> Result<Vec<f32>> {
    let classes = generator.config().classes;
    chunked(u, dim, device, |start, z| {
        let rows = z.dims()[0];
        let y = labels.map(|l| one_hot(&l[start..start + rows], classes, device));
        let level = Tensor::<2>::full([rows, 1], t_star, device);
        generator.denoise_labelled(z.mul_scalar(t_star), level, y)
    })
}

/// EDM Algorithm 1 (Heun, `steps` steps, `2·steps − 1` evaluations) from `σ_max·u`, in chunks,
/// on the network's device without autodiff.
fn heun(
    net: &UNetDenoiser,
    u: &[f32],
    labels: Option<&[usize]>,
    steps: usize,
    dim: usize,
) -> Result<Vec<f32>> {
    let net = net.valid();
    let device = net
        .devices()
        .into_iter()
        .next()
        .map(Device::inner)
        .ok_or_else(|| EngineError::Invalid("the teacher has no parameters".into()))?;
    let classes = net.config().classes;
    chunked(u, dim, &device, |start, x| {
        let rows = x.dims()[0];
        match labels {
            Some(l) => {
                let y = one_hot(&l[start..start + rows], classes, &device);
                sample(&net.with_labels(y), Integrator::Heun, steps, x)
            }
            None => sample(&net, Integrator::Heun, steps, x),
        }
    })
}

/// Applies `f(first_row, rows)` to `[CHUNK, dim]` slices of `values` and concatenates the
/// results on the host.
fn chunked(
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
        out.extend(
            f(start, x)
                .try_into_vec_as::<f32>()
                .map_err(|e| EngineError::Device(format!("{e:?}")))?,
        );
    }
    Ok(out)
}

/// Writes teacher | student grids side by side as one PNG: each row holds `columns` teacher
/// images, a blank (grey) tile, then the `columns` student images of the same noise and labels.
pub fn write_view_png(
    path: &Path,
    teacher: &[f32],
    student: &[f32],
    shape: [usize; 3],
    columns: usize,
) -> Result<()> {
    let dim: usize = shape.iter().product();
    let blank = vec![0.0f32; dim];
    let mut tiles = Vec::with_capacity(teacher.len() + student.len() + teacher.len() / columns);
    for (t_row, s_row) in teacher
        .chunks(columns * dim)
        .zip(student.chunks(columns * dim))
    {
        tiles.extend_from_slice(t_row);
        tiles.extend_from_slice(&blank);
        tiles.extend_from_slice(s_row);
    }
    write_image_grid(path, &tiles, shape, 2 * columns + 1, 4)
}
