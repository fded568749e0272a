//! Training of the metric [`Classifier`]: cross-entropy, Adam, mini-batches, random shifts, and
//! the train/test split it is scored on.
//!
//! Data sets with their own test split (Fashion-MNIST, IDX, CIFAR-10) use it. The others (the
//! 8×8 digits, image folders) are split by [`stratified_split`]: within each class, the images
//! are shuffled with a seeded generator and the first `round(n_c · test_fraction)` are held out,
//! so every class keeps its share and the split depends only on `(labels, test_fraction, seed)`.

use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use rand::Rng;
use rand::seq::SliceRandom;

use crate::data::images::{ImageSet, ImageSource, Split};
use crate::error::{EngineError, Result};
use crate::nets::classifier::{Classifier, ClassifierConfig};
use crate::optim::adam::Adam;
use crate::rng::{Stream, rng_for};
use sim_formats::limits;
use sim_formats::validation::{ValidationError, count, positive};

/// Fraction of the images held out for testing where a data set has no test split (80/20).
pub const DEFAULT_TEST_FRACTION: f64 = 0.2;

/// Random stream of [`stratified_split`].
const SPLIT_STREAM: Stream = Stream::Other(0xC1A5_5011);
/// Random stream of the per-epoch shuffle and shifts.
const EPOCH_STREAM: Stream = Stream::Other(0xC1A5_5E90);

/// Settings of one training.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassifierTraining {
    /// Passes over the training images.
    pub epochs: usize,
    /// Images per Adam step (the last step of an epoch may have fewer).
    pub batch: usize,
    /// Peak learning rate, decayed to 0 by a cosine over all steps.
    pub lr: f64,
    /// Seed of the initialisation, the shuffles and the shifts.
    pub seed: u64,
    /// Each training image is shifted by a random `(dy, dx) ∈ [−s, s]²` pixels (background
    /// `-1` fills the gap); 0 turns augmentation off.
    pub max_shift: usize,
}

impl Default for ClassifierTraining {
    /// 30 epochs of batch 64 at lr 2e-3, shifts of ±1 px: tuned on the 8×8 digits.
    fn default() -> Self {
        Self {
            epochs: 30,
            batch: 64,
            lr: 2e-3,
            seed: 0,
            max_shift: 1,
        }
    }
}

/// Most epochs of one training.
pub const MAX_EPOCHS: usize = 100_000;

impl ClassifierTraining {
    /// Checks ranges; keys are the field names.
    pub fn validate(&self) -> Result<(), ValidationError> {
        count("epochs", self.epochs as u64, 1, MAX_EPOCHS as u64)?;
        limits::batch("batch", self.batch)?;
        positive("lr", self.lr, "a learning rate such as 2e-3")?;
        limits::at_most("max_shift", self.max_shift, limits::MAX_IMAGE_SIDE)
    }
}

/// One Adam step's report.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainProgress {
    /// Steps done (1-based).
    pub step: u64,
    /// Steps in the whole training.
    pub steps: u64,
    /// Current epoch (0-based).
    pub epoch: usize,
    /// Mean cross-entropy of this step's batch.
    pub loss: f64,
}

/// A labelled training set and the test set it is scored on.
#[derive(Clone, Debug)]
pub struct Splits {
    /// Training images.
    pub train: ImageSet,
    /// Held-out test images.
    pub test: ImageSet,
    /// How the test images were chosen, for the classifier's metadata.
    pub description: String,
}

/// Loads `source`'s training and test images: its own test split where it has one, else a
/// [`stratified_split`] with `test_fraction` and `split_seed`. Errors when the data are
/// unlabelled or the split leaves a side empty.
pub fn load_splits(source: &ImageSource, test_fraction: f64, split_seed: u64) -> Result<Splits> {
    let with_split = |split: Split| match source {
        ImageSource::Idx { dir, .. } => Some(ImageSource::Idx {
            dir: dir.clone(),
            split,
        }),
        ImageSource::FashionMnist { .. } => Some(ImageSource::FashionMnist { split }),
        ImageSource::Cifar10 { dir, .. } => Some(ImageSource::Cifar10 {
            dir: dir.clone(),
            split,
        }),
        ImageSource::Digits | ImageSource::Folder { .. } => None,
    };
    let splits = match (with_split(Split::Train), with_split(Split::Test)) {
        (Some(train), Some(test)) => {
            let (train, test) = (train.load()?, test.load()?);
            let description = format!(
                "the data set's own split: {} train / {} test",
                train.len(),
                test.len()
            );
            Splits {
                train,
                test,
                description,
            }
        }
        _ => {
            let set = source.load()?;
            require_labels(&set)?;
            let (train, test) = stratified_split(&set, test_fraction, split_seed)?;
            Splits {
                description: format!(
                    "stratified {:.0}/{:.0} split (within each class, seeded shuffle with split \
                     seed {split_seed}, first round(n·{test_fraction}) held out): \
                     {} train / {} test",
                    100.0 * (1.0 - test_fraction),
                    100.0 * test_fraction,
                    train.len(),
                    test.len()
                ),
                train: set.subset(&train),
                test: set.subset(&test),
            }
        }
    };
    require_labels(&splits.train)?;
    require_labels(&splits.test)?;
    Ok(splits)
}

/// Deterministic stratified split: the (train, test) indices, each ascending. Within class `c`,
/// the images are shuffled by the generator for `(seed, c)` and the first `round(n_c ·
/// test_fraction)` go to the test side. Errors when `test_fraction` is not in `(0, 1)`, the set
/// is unlabelled, or a side would be empty.
pub fn stratified_split(
    set: &ImageSet,
    test_fraction: f64,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>)> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(EngineError::Invalid(format!(
            "test fraction {test_fraction} is not in (0, 1); use e.g. 0.2 for an 80/20 split"
        )));
    }
    require_labels(set)?;
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for class in 0..set.classes {
        let mut members: Vec<usize> = (0..set.len())
            .filter(|&i| usize::from(set.labels[i]) == class)
            .collect();
        members.shuffle(&mut rng_for(seed, class as u64, SPLIT_STREAM));
        let held_out = (members.len() as f64 * test_fraction).round() as usize;
        test.extend_from_slice(&members[..held_out]);
        train.extend_from_slice(&members[held_out..]);
    }
    if train.is_empty() || test.is_empty() {
        return Err(EngineError::Invalid(format!(
            "{}: a {test_fraction} split of {} images leaves {} train / {} test; \
             use more images or another fraction",
            set.name,
            set.len(),
            train.len(),
            test.len()
        )));
    }
    train.sort_unstable();
    test.sort_unstable();
    Ok((train, test))
}

/// Trains a fresh classifier of shape `config` on `train` (on `device`, which must be an
/// autodiff device). `progress` is called after every step; returning `false` stops early.
///
/// Errors when the images do not match `config`, a label is out of range, the settings are
/// zero, or the loss stops being finite.
pub fn train_classifier(
    config: &ClassifierConfig,
    train: &ImageSet,
    settings: &ClassifierTraining,
    device: &Device,
    progress: &mut dyn FnMut(&TrainProgress) -> bool,
) -> Result<Classifier> {
    check_fits(config, train)?;
    settings
        .validate()
        .map_err(|e| EngineError::Invalid(format!("classifier training: {e}")))?;
    let mut net = Classifier::new(config, settings.seed, device)?;
    let mut adam = Adam::new(0.9, 0.999);
    let n = train.len();
    let per_epoch = n.div_ceil(settings.batch) as u64;
    let steps = per_epoch * settings.epochs as u64;
    let mut step = 0u64;
    for epoch in 0..settings.epochs {
        let mut rng = rng_for(settings.seed, epoch as u64, EPOCH_STREAM);
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut rng);
        for indices in order.chunks(settings.batch) {
            let (x, targets) = batch(train, indices, settings.max_shift, &mut rng);
            let b = indices.len();
            let x = Tensor::<4>::from_data(
                TensorData::new(x, [b, train.channels, train.height, train.width]),
                device,
            );
            let targets =
                Tensor::<2>::from_data(TensorData::new(targets, [b, config.classes]), device);
            let loss = cross_entropy(net.logits(x), targets);
            let value = f64::from(loss.clone().into_scalar::<f32>());
            if !value.is_finite() {
                return Err(EngineError::Invalid(format!(
                    "classifier training diverged at step {} (loss {value}); \
                     lower the learning rate (now {})",
                    step + 1,
                    settings.lr
                )));
            }
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            let lr = settings.lr
                * 0.5
                * (1.0 + (std::f64::consts::PI * step as f64 / steps as f64).cos());
            net = adam.step(net, &grads, lr);
            step += 1;
            let report = TrainProgress {
                step,
                steps,
                epoch,
                loss: value,
            };
            if !progress(&report) {
                return Ok(net);
            }
        }
    }
    Ok(net)
}

/// Fraction of `set`'s images whose most probable class is their label.
pub fn accuracy(net: &Classifier, set: &ImageSet) -> Result<f64> {
    require_labels(set)?;
    let predictions = net.embed(&set.pixels)?.predictions();
    let correct = predictions
        .iter()
        .zip(&set.labels)
        .filter(|&(&p, &l)| p == usize::from(l))
        .count();
    Ok(correct as f64 / set.len() as f64)
}

/// Mean cross-entropy `−Σ_k t_k log softmax(logits)_k` of a batch.
///
/// # Shapes
/// `logits`, `targets` (one-hot rows): `[batch, classes]`; result `[1]`.
fn cross_entropy(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    log_softmax(logits, 1).mul(targets).sum_dim(1).mean().neg()
}

/// The (shifted) pixels and one-hot targets of `indices`.
fn batch(
    set: &ImageSet,
    indices: &[usize],
    max_shift: usize,
    rng: &mut impl Rng,
) -> (Vec<f32>, Vec<f32>) {
    let mut pixels = Vec::with_capacity(indices.len() * set.dim());
    let mut targets = vec![0.0f32; indices.len() * set.classes];
    let s = max_shift as i64;
    for (row, &i) in indices.iter().enumerate() {
        let (dy, dx) = if s > 0 {
            (
                rng.random_range(-s..=s) as isize,
                rng.random_range(-s..=s) as isize,
            )
        } else {
            (0, 0)
        };
        pixels.extend(shifted(set, set.image(i), dy, dx));
        targets[row * set.classes + usize::from(set.labels[i])] = 1.0;
    }
    (pixels, targets)
}

/// `image` (CHW) moved by `dy` rows down and `dx` columns right, gaps filled with `-1`.
fn shifted(set: &ImageSet, image: &[f32], dy: isize, dx: isize) -> Vec<f32> {
    if (dy, dx) == (0, 0) {
        return image.to_vec();
    }
    let (h, w) = (set.height as isize, set.width as isize);
    let mut out = vec![-1.0f32; image.len()];
    for c in 0..set.channels as isize {
        for y in 0..h {
            let src_y = y - dy;
            if !(0..h).contains(&src_y) {
                continue;
            }
            for x in 0..w {
                let src_x = x - dx;
                if (0..w).contains(&src_x) {
                    out[((c * h + y) * w + x) as usize] =
                        image[((c * h + src_y) * w + src_x) as usize];
                }
            }
        }
    }
    out
}

/// Errors unless `set` has one label per image.
fn require_labels(set: &ImageSet) -> Result<()> {
    if set.is_empty() || set.labels.len() != set.len() || set.classes == 0 {
        return Err(EngineError::Invalid(format!(
            "{}: a classifier needs labelled images, got {} images, {} labels, {} classes",
            set.name,
            set.len(),
            set.labels.len(),
            set.classes
        )));
    }
    Ok(())
}

/// Errors unless `set`'s images and labels fit a network of shape `config`.
fn check_fits(config: &ClassifierConfig, set: &ImageSet) -> Result<()> {
    require_labels(set)?;
    let (c, h, w) = (set.channels, set.height, set.width);
    if (c, h, w) != (config.channels, config.height, config.width) {
        return Err(EngineError::Invalid(format!(
            "{}: images are {c}×{h}×{w}, the classifier takes {}×{}×{}",
            set.name, config.channels, config.height, config.width
        )));
    }
    if let Some(&label) = set
        .labels
        .iter()
        .find(|&&l| usize::from(l) >= config.classes)
    {
        return Err(EngineError::Invalid(format!(
            "{}: label {label} is out of range for a classifier of {} classes",
            set.name, config.classes
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` 8×8 images of two classes: a bright top half (class 0) or bright bottom half
    /// (class 1), plus seeded noise.
    fn halves(n: usize) -> ImageSet {
        let mut rng = rng_for(9, 0, Stream::Other(0));
        let mut pixels = Vec::with_capacity(n * 64);
        let mut labels = Vec::with_capacity(n);
        for i in 0..n {
            let class = (i % 2) as u8;
            for y in 0..8 {
                let bright = (y < 4) == (class == 0);
                for _ in 0..8 {
                    let base = if bright { 0.6 } else { -0.6 };
                    pixels.push(base + rng.random_range(-0.4f32..0.4));
                }
            }
            labels.push(class);
        }
        ImageSet {
            name: "halves".into(),
            channels: 1,
            height: 8,
            width: 8,
            pixels,
            labels,
            classes: 2,
        }
    }

    #[test]
    fn cross_entropy_matches_hand_computation() {
        let device = Device::flex();
        let logits = Tensor::<2>::from_floats([[0.0, 0.0], [2.0, 0.0]], &device);
        let targets = Tensor::<2>::from_floats([[1.0, 0.0], [0.0, 1.0]], &device);
        let got = f64::from(cross_entropy(logits, targets).into_scalar::<f32>());
        // Row 1: ln 2; row 2: −log(1 / (1 + e²)) = ln(1 + e²).
        let want = 0.5 * (2f64.ln() + (1.0 + 2f64.exp()).ln());
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }

    #[test]
    fn a_few_steps_decrease_the_loss_deterministically() {
        let device = Device::flex().autodiff();
        let set = halves(64);
        let config = ClassifierConfig {
            widths: [8, 8],
            features: 16,
            ..ClassifierConfig::new(1, 8, 8, 2)
        };
        let settings = ClassifierTraining {
            epochs: 10,
            batch: 16,
            lr: 1e-2,
            seed: 1,
            max_shift: 0,
        };
        let mut losses = Vec::new();
        let net = train_classifier(&config, &set, &settings, &device, &mut |p| {
            losses.push(p.loss);
            true
        })
        .expect("train");
        assert_eq!(losses.len(), 40);
        let first: f64 = losses[..4].iter().sum::<f64>() / 4.0;
        let last: f64 = losses[36..].iter().sum::<f64>() / 4.0;
        // Well below ln 2 ≈ 0.69, the loss of guessing.
        assert!(last < 0.5 * first && last < 0.3, "loss {first} -> {last}");
        let acc = accuracy(&net, &set).expect("accuracy");
        assert!(acc > 0.9, "accuracy {acc}, losses {losses:?}");

        // Same seed, same network.
        let again =
            train_classifier(&config, &set, &settings, &device, &mut |_| true).expect("train");
        assert_eq!(
            net.fingerprint().expect("hash"),
            again.fingerprint().expect("hash")
        );

        // Stopping early.
        let mut seen = 0;
        train_classifier(&config, &set, &settings, &device, &mut |_| {
            seen += 1;
            seen < 3
        })
        .expect("train");
        assert_eq!(seen, 3);
    }

    #[test]
    fn mismatched_data_are_errors() {
        let device = Device::flex().autodiff();
        let set = halves(8);
        let settings = ClassifierTraining::default();
        let wrong_size = ClassifierConfig::new(1, 10, 8, 2);
        let err = train_classifier(&wrong_size, &set, &settings, &device, &mut |_| true)
            .expect_err("size");
        assert!(err.to_string().contains("takes 1×10×8"), "{err}");
        let one_class = ClassifierConfig::new(1, 8, 8, 1);
        let err = train_classifier(&one_class, &set, &settings, &device, &mut |_| true)
            .expect_err("labels");
        assert!(err.to_string().contains("label 1 is out of range"), "{err}");
        let unlabelled = ImageSet {
            labels: Vec::new(),
            ..set
        };
        assert!(stratified_split(&unlabelled, 0.2, 0).is_err());
    }

    #[test]
    fn split_is_stratified_disjoint_and_seeded() {
        let set = ImageSource::Digits.load().expect("digits");
        let (train, test) = stratified_split(&set, 0.2, 0).expect("split");
        assert_eq!(train.len() + test.len(), set.len());
        assert_eq!(test.len(), 359);
        let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..set.len()).collect::<Vec<_>>());
        // Every class keeps round(0.2 n_c) of its images in the test set.
        let counts = set.subset(&test).class_counts();
        for (held, total) in counts.iter().zip(set.class_counts()) {
            assert_eq!(*held, (total as f64 * 0.2).round() as usize);
        }
        assert_eq!(stratified_split(&set, 0.2, 0).expect("split").1, test);
        assert_ne!(stratified_split(&set, 0.2, 1).expect("split").1, test);
        assert!(stratified_split(&set, 1.0, 0).is_err());
        assert!(stratified_split(&set, 0.0, 0).is_err());
    }

    #[test]
    fn shifts_move_pixels_and_fill_background() {
        let set = ImageSet {
            name: "s".into(),
            channels: 1,
            height: 2,
            width: 3,
            pixels: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            labels: vec![0],
            classes: 1,
        };
        let img = set.image(0);
        assert_eq!(shifted(&set, img, 0, 0), img);
        assert_eq!(shifted(&set, img, 1, 0), [-1.0, -1.0, -1.0, 1.0, 2.0, 3.0]);
        assert_eq!(shifted(&set, img, 0, -1), [2.0, 3.0, -1.0, 5.0, 6.0, -1.0]);
        assert_eq!(
            shifted(&set, img, -1, 1),
            [-1.0, 4.0, 5.0, -1.0, -1.0, -1.0]
        );
    }
}
