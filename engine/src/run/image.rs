//! The image world of a [`Run`](super::Run): the U-Net networks θ and ψ (copies of the
//! teacher), one-step and multi-step samples on shared noise and labels, and FID / IS from a
//! classifier ([`ImageJudge`]).

use std::path::{Path, PathBuf};

use burn::prelude::*;

use super::{Distillation, Distils, World, networks};
use crate::config::RunConfig;
use crate::data::images::ImageSet;
use crate::data::images::ImageSource;
use crate::distill::STUDENT_SAMPLES;
use crate::distill::net::ImageDenoiser;
use crate::error::{ConfigError, EngineError, Result};
use crate::metrics::feature_net::{FeatureNet, load_feature_net};
use crate::metrics::{ImageMetrics, Metrics, ReferenceStats, finite_samples, image_metrics};
use crate::nets::inception::INCEPTION_CONVERTER;
use crate::protocol::{SampleView, ScoreField};
use crate::rng::{Stream, normal, rng_for};
use crate::store::tensor_file::TensorFile;
use crate::teacher::NON_FINITE_SAMPLES;
use crate::teacher::image::sample::chunked;
use crate::teacher::image::{ImageTeacher, heun_images, sample_images};
use crate::tensor::one_hot;
use sim_formats::limits;

/// Images per row of the view grid (and rows of an unconditional one).
const VIEW_COLUMNS: usize = 10;

/// Samples of a diagnosed generator batch shown as images (teacher, ψ, `d'(y)`).
const PROBE_ROWS: usize = 8;

/// The networks of an image run, its teacher, and what their samples are judged against.
#[derive(Debug)]
pub(super) struct ImageWorld<N> {
    /// θ, ψ, the EMA and their Adams, copies of the frozen teacher (dropout off): the
    /// workbench's U-Net or EDM's DDPM++.
    distillation: Distillation<N, N>,
    judge: ImageJudge,
    shape: [usize; 3],
    classes: usize,
}

/// Scores generated images with a feature network against the data set's reference statistics.
#[derive(Debug)]
pub struct ImageJudge {
    net: Box<dyn FeatureNet>,
    reference: ReferenceStats,
    /// Pixels cropped from each side of a generated image before the classifier sees it (the
    /// teacher's padding, e.g. 2 for Fashion-MNIST 28×28 padded to 32×32).
    crop: usize,
}

impl ImageJudge {
    /// The classifier in `classifier` (`eval.classifier`; `None` = the one shipped for
    /// `source`) and reference statistics of `set`, the images the teacher models as it was
    /// trained on them (padded to its `shape`; cached in `cache_dir`).
    pub fn new(
        classifier: Option<&Path>,
        source: &ImageSource,
        mut set: ImageSet,
        shape: [usize; 3],
        cache_dir: Option<&Path>,
        device: &Device,
    ) -> Result<Self> {
        let path = match classifier {
            Some(path) => path.to_owned(),
            None => default_classifier(source)?,
        };
        let net = load_feature_net(&path, device)?;
        let [channels, size, _] = shape;
        // A fixed-size network sees the images centre-cropped to its size; the Inception
        // resizes any.
        let crop = match net.input_shape() {
            Some([c, h, w]) if c == channels && h == w && h <= size && (size - h) % 2 == 0 => {
                (size - h) / 2
            }
            None if channels == 3 => 0,
            taken => {
                let takes = taken.map_or("RGB images of any size".into(), |[c, h, w]| {
                    format!("{c}×{h}×{w} images")
                });
                return Err(EngineError::File {
                    path,
                    message: format!(
                        "eval.classifier takes {takes}, the teacher makes \
                         {channels}×{size}×{size}; train a classifier for this data with \
                         `sim-workbench train-classifier`"
                    ),
                });
            }
        };
        if [set.channels, set.height, set.width] != shape {
            return Err(EngineError::Invalid(format!(
                "[data] ({}) has {}×{}×{} images, the teacher makes {channels}×{size}×{size}; \
                 set [data] to the images the teacher models",
                source.label(),
                set.channels,
                set.height,
                set.width
            )));
        }
        set.pixels = centre_crop(&set.pixels, [set.channels, size, size], crop);
        set.height -= 2 * crop;
        set.width -= 2 * crop;
        let reference = match cache_dir {
            Some(dir) => ReferenceStats::cached(net.as_ref(), &set, dir)?,
            None => ReferenceStats::compute(net.as_ref(), &set)?,
        };
        Ok(Self {
            net,
            reference,
            crop,
        })
    }

    /// The judge of a workbench-trained teacher: the data set and padding it was trained on.
    pub fn for_teacher(
        classifier: Option<&Path>,
        teacher: &ImageTeacher,
        cache_dir: Option<&Path>,
        device: &Device,
    ) -> Result<Self> {
        let training = &teacher.info.training;
        let set = training.load_data()?;
        let shape = teacher.net.image_shape();
        Self::new(classifier, &training.data, set, shape, cache_dir, device)
    }

    /// FID and IS of `images` (`[n, C·S·S]` row-major, the teacher's shape) as they would be
    /// saved: cropped to the classifier's size and clamped to `[-1, 1]`, as the reference
    /// codebases score PNGs (few-step Heun samples overshoot far outside the pixel range).
    /// Images that hold NaN or ±inf are refused first, as `whose` samples, with `cause`
    /// ([`finite_samples`]).
    pub fn score(
        &self,
        images: &[f32],
        shape: [usize; 3],
        whose: &str,
        cause: &str,
    ) -> Result<ImageMetrics> {
        finite_samples(images, shape.iter().product(), whose, cause)?;
        let [c, h, w] = shape;
        let cropped = [c, h - 2 * self.crop, w - 2 * self.crop];
        image_metrics(
            self.net.as_ref(),
            &as_saved(images, shape, self.crop),
            cropped,
            &self.reference,
        )
    }
}

/// The shipped classifier for a data set, relative to the working directory.
fn default_classifier(source: &ImageSource) -> Result<PathBuf> {
    source
        .shipped_classifier()
        .map(PathBuf::from)
        .ok_or_else(|| {
            EngineError::Invalid(format!(
                "eval.classifier: no classifier ships for {}; set eval.classifier to the FID \
                 Inception-v3 (convert it once with `{INCEPTION_CONVERTER}`) or to a \
                 classifier from `sim-workbench train-classifier`",
                source.label()
            ))
        })
}

/// `images` cropped by `crop` pixels on every side and clamped to `[-1, 1]` (NaN stays NaN, so
/// a diverged sample still fails the metrics).
fn as_saved(images: &[f32], shape: [usize; 3], crop: usize) -> Vec<f32> {
    let mut pixels = centre_crop(images, shape, crop);
    for v in &mut pixels {
        *v = v.clamp(-1.0, 1.0);
    }
    pixels
}

/// Removes `crop` pixels from every side of each `[C, S, S]` image of `images`.
fn centre_crop(images: &[f32], [c, h, w]: [usize; 3], crop: usize) -> Vec<f32> {
    if crop == 0 {
        return images.to_vec();
    }
    let dim = c * h * w;
    images
        .chunks_exact(dim)
        .flat_map(|image| {
            image
                .chunks_exact(w)
                .enumerate()
                .filter(move |(row, _)| (crop..h - crop).contains(&(row % h)))
                .flat_map(move |(_, line)| &line[crop..w - crop])
        })
        .copied()
        .collect()
}

impl<N: ImageDenoiser> ImageWorld<N> {
    /// θ, ψ and the EMA as copies of the frozen `teacher` (every network starts as the
    /// teacher; trainable, the teacher frozen), or a checkpoint's when `from` is given; its
    /// samples scored by `judge`.
    pub(super) fn new(
        teacher: N,
        judge: ImageJudge,
        config: &RunConfig,
        from: Option<&TensorFile>,
        device: &Device,
    ) -> Result<Self> {
        let shape = teacher.image_shape();
        // What one iteration keeps for backpropagation, estimated as 32 feature maps of the
        // first level per sample, must fit.
        let map = teacher.base_channels() * shape[1] * shape[2];
        limits::allocation(
            "distill.batch",
            "the activations of one iteration (≈ 32 first-level feature maps a sample)",
            (config.distill.batch as u128) * (map as u128) * 32,
            4,
        )
        .map_err(ConfigError::from)?;
        let nets = networks(teacher.clone().set_require_grad(true), config, from, device)?;
        Ok(Self {
            shape,
            classes: teacher.classes(),
            distillation: Distillation {
                nets,
                teacher,
                probe_rows: PROBE_ROWS,
            },
            judge,
        })
    }

    /// Values per image.
    fn dim(&self) -> usize {
        self.shape.iter().product()
    }

    /// Labels of the view grid: row `k` is class `k`; `None` when unconditional.
    fn view_labels(&self) -> Option<Vec<usize>> {
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

    /// The student's view grid: one-step samples on the view noise and labels.
    fn student_view(&self, config: &RunConfig, device: &Device) -> Result<Vec<f32>> {
        let labels = self.view_labels();
        let stream = Stream::Other(VIEW_STREAM);
        self.student(config, stream, self.view_count(), labels.as_deref(), device)
    }

    /// One-step samples `g(t*·u, y)` of the EMA generator on `n` rows of the unit noise of
    /// `stream`, with `labels`.
    fn student(
        &self,
        config: &RunConfig,
        stream: Stream,
        n: usize,
        labels: Option<&[usize]>,
        device: &Device,
    ) -> Result<Vec<f32>> {
        let u = self.unit_noise(config.seed, stream, n);
        let t_star = config.distill.t_star;
        let ema = &self.distillation.nets.ema;
        one_step(ema, &u, labels, t_star, self.dim(), device)
    }
}

impl<N: ImageDenoiser> World for ImageWorld<N> {
    fn distillation(&self) -> &dyn Distils {
        &self.distillation
    }

    fn distillation_mut(&mut self) -> &mut dyn Distils {
        &mut self.distillation
    }

    /// One-step samples `g(t*·u, y)` of the EMA generator on the evaluation noise, scored.
    fn score(&self, config: &RunConfig, device: &Device) -> Result<Metrics> {
        let n = config.eval.samples;
        let labels = eval_labels(self.classes, n);
        let images = self.student(config, Stream::Eval, n, labels.as_deref(), device)?;
        let (whose, cause) = STUDENT_SAMPLES;
        let scored = self.judge.score(&images, self.shape, whose, cause)?;
        Ok(Metrics::Image(scored))
    }

    fn evaluate(&self, config: &RunConfig, device: &Device) -> Result<(Metrics, SampleView)> {
        let view = SampleView {
            dim: self.dim(),
            student: self.student_view(config, device)?,
            image_shape: Some(self.shape),
            labels: self.view_labels(),
            columns: VIEW_COLUMNS,
            ..SampleView::default()
        };
        Ok((self.score(config, device)?, view))
    }

    /// Heun with `steps` steps on the view's noise and labels.
    fn teacher_view(&self, config: &RunConfig, steps: usize, _: &Device) -> Result<Vec<f32>> {
        let u = self.unit_noise(config.seed, Stream::Other(VIEW_STREAM), self.view_count());
        let labels = self.view_labels();
        heun_images(&self.distillation.teacher, &u, labels.as_deref(), steps)
    }

    /// Heun with `eval.teacher_steps` steps from `σ_max·u` on the student's evaluation noise
    /// and labels.
    fn score_teacher(&self, config: &RunConfig) -> Result<Option<Metrics>> {
        let metrics = score_teacher(
            &self.distillation.teacher,
            &self.judge,
            config.eval.samples,
            config.eval.teacher_steps,
            config.seed,
        )
        .map_err(|e| config.teacher.blame_samples(e))?;
        Ok(Some(Metrics::Image(metrics)))
    }

    fn modes(&self) -> Option<usize> {
        None
    }

    fn score_field(&self, _: f64, _: usize, _: f64, _: &Device) -> Result<ScoreField> {
        Err(EngineError::Invalid(
            "the score field is drawn for 2-D runs only; this run distils images".into(),
        ))
    }

    fn load(&mut self, file: &TensorFile, config: &RunConfig, device: &Device) -> Result<()> {
        let init = self.distillation.teacher.clone().set_require_grad(true);
        self.distillation.nets = networks(init, config, Some(file), device)?;
        Ok(())
    }
}

/// Labels of evaluation sample `i`: classes in turn (`i mod classes`), so every class is
/// equally represented; `None` when unconditional.
fn eval_labels(classes: usize, n: usize) -> Option<Vec<usize>> {
    (classes > 0).then(|| (0..n).map(|i| i % classes).collect())
}

/// FID and IS of `teacher` with `steps` Heun steps on `samples` images: the unit noise of a
/// run's evaluation (`rng_for(seed, 0, Stream::Eval)`) and its labels (classes in turn), so the
/// numbers compare with a student's of the same seed.
pub fn score_teacher<N: ImageDenoiser>(
    teacher: &N,
    judge: &ImageJudge,
    samples: usize,
    steps: usize,
    seed: u64,
) -> Result<ImageMetrics> {
    let labels = eval_labels(teacher.classes(), samples);
    let images = sample_images(teacher, samples, steps, labels.as_deref(), seed)?;
    judge.score(
        &images,
        teacher.image_shape(),
        &format!("the teacher's samples ({steps} Heun steps)"),
        NON_FINITE_SAMPLES,
    )
}

/// Stream label of the view's unit noise.
const VIEW_STREAM: u64 = 0x71e;

/// `g(z, y) = D(z; t*, y)` with `z = t*·u` (B.4), in chunks, without autodiff.
///
/// # Shapes
/// `u`: `[n, dim]` row-major; result `[n, dim]`.
fn one_step<N: ImageDenoiser>(
    generator: &N,
    u: &[f32],
    labels: Option<&[usize]>,
    t_star: f64,
    dim: usize,
    device: &Device,
) -> Result<Vec<f32>> {
    let classes = generator.classes();
    chunked(u, dim, device, |start, z| {
        let rows = z.dims()[0];
        let y = labels.map(|l| one_hot(&l[start..start + rows], classes, device));
        let level = Tensor::<2>::full([rows, 1], t_star, device);
        generator.denoise_labelled(z.mul_scalar(t_star), level, y)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cropping undoes `ImageSet::pad_to`: two 2-channel 2×2 images padded to 4×4 (as a
    /// 28×28 → 32×32 teacher is) come back exactly.
    #[test]
    fn centre_crop_undoes_padding() {
        let set = crate::data::images::ImageSet {
            name: "t".into(),
            channels: 2,
            height: 2,
            width: 2,
            pixels: (0..16).map(|v| v as f32 / 16.0).collect(),
            labels: Vec::new(),
            classes: 0,
        };
        let padded = set.pad_to(4).expect("pad");
        assert_eq!(centre_crop(&padded.pixels, [2, 4, 4], 1), set.pixels);
        assert_eq!(centre_crop(&set.pixels, [2, 2, 2], 0), set.pixels);
    }

    /// Scored images are cropped, then clamped to the pixel range; NaN survives.
    #[test]
    fn as_saved_crops_and_clamps() {
        let image = [9.0, 9.0, 9.0, 9.0, 0.25, -3.0, 9.0, 2.0, f32::NAN];
        let saved = as_saved(&image, [1, 3, 3], 1);
        assert_eq!(saved.len(), 1);
        assert_eq!(saved[0], 0.25);
        let all = as_saved(&image, [1, 3, 3], 0);
        assert_eq!(&all[..8], &[1.0, 1.0, 1.0, 1.0, 0.25, -1.0, 1.0, 1.0]);
        assert!(all[8].is_nan());
    }
}
