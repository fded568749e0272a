//! A small CNN classifier for one image domain (LeNet/VGG-like): its penultimate layer gives
//! the features of a domain-specific Fréchet distance and its softmax the probabilities of an
//! Inception Score (the metrics' `classifier` module trains, saves and names it).
//!
//! Architecture:
//! `[conv3×3(w₀)-ReLU]×2 → maxpool 2×2 → [conv3×3(w₁)-ReLU]×2 → maxpool 2×2 → flatten →
//! Linear(F)-ReLU` (the features) `→ Linear(classes)` (the logits). Convolutions keep the size
//! ("same" padding); pooling floors odd sizes, so 8×8 → 2×2, 28×28 → 7×7, 32×32 → 8×8.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{relu, softmax};
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};
use crate::rng::{Stream, rng_for};
use crate::tensor::host;
use sim_formats::limits;

/// Images per forward pass when evaluating host data.
const EVAL_BATCH: usize = 500;

/// Shape of the inputs and of the network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierConfig {
    /// Input channels (1 grey, 3 RGB).
    pub channels: usize,
    /// Input height in pixels (at least 4).
    pub height: usize,
    /// Input width in pixels (at least 4).
    pub width: usize,
    /// Number of classes.
    pub classes: usize,
    /// Channels of the two convolution blocks. Default `[32, 64]`: ~99k parameters on 8×8
    /// digits, ~0.47M on 28×28.
    #[serde(default = "default_widths")]
    pub widths: [usize; 2],
    /// Width `F` of the penultimate layer, the dimension of the FID features. Default 128:
    /// enough for 10 classes, and a 128×128 covariance is well estimated from a few thousand
    /// images.
    #[serde(default = "default_features")]
    pub features: usize,
}

fn default_widths() -> [usize; 2] {
    [32, 64]
}

fn default_features() -> usize {
    128
}

impl ClassifierConfig {
    /// The default network for `channels × height × width` images of `classes` classes.
    pub fn new(channels: usize, height: usize, width: usize, classes: usize) -> Self {
        Self {
            channels,
            height,
            width,
            classes,
            widths: default_widths(),
            features: default_features(),
        }
    }

    /// Values per input image: `channels × height × width`.
    pub fn input_dim(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Errors when a size is 0 or beyond [`limits`], or the image is smaller than 4×4 (two
    /// 2×2 poolings).
    pub fn validate(&self) -> Result<()> {
        let sizes = [
            self.channels,
            self.classes,
            self.widths[0],
            self.widths[1],
            self.features,
        ];
        if sizes.contains(&0) {
            return Err(EngineError::Invalid(format!(
                "classifier: channels, classes, widths and features must be > 0, got {self:?}"
            )));
        }
        let too_large = [
            ("channels", self.channels, limits::MAX_WIDTH),
            ("classes", self.classes, limits::MAX_CLASSES),
            (
                "widths",
                self.widths[0].max(self.widths[1]),
                limits::MAX_WIDTH,
            ),
            ("features", self.features, limits::MAX_WIDTH),
            ("height", self.height, limits::MAX_IMAGE_SIDE),
            ("width", self.width, limits::MAX_IMAGE_SIDE),
        ];
        for (key, value, max) in too_large {
            limits::at_most(key, value, max)
                .map_err(|e| EngineError::Invalid(format!("classifier: {e}")))?;
        }
        // The large weight tensors: the flattened maps to the features, the features to the
        // logits, and the 3×3 convolutions.
        let [w0, w1] = self.widths.map(|w| w as u128);
        let convs = 9 * (self.channels as u128 * w0 + w0 * w0 + w0 * w1 + w1 * w1);
        let features = self.features as u128;
        let weights = [
            (
                "features",
                "the classifier's feature layer",
                self.flat_dim() as u128 * features,
            ),
            (
                "classes",
                "the classifier's output layer",
                features * self.classes as u128,
            ),
            ("widths", "the classifier's convolutions", convs),
        ];
        for (key, what, count) in weights {
            limits::allocation(key, what, count, 4)
                .map_err(|e| EngineError::Invalid(format!("classifier: {e}")))?;
        }
        // One image's activations: the first block's maps at full size.
        limits::allocation(
            "height",
            "one image's first feature maps",
            2 * w0 * self.height as u128 * self.width as u128,
            4,
        )
        .map_err(|e| EngineError::Invalid(format!("classifier: {e}")))?;
        if self.height < 4 || self.width < 4 {
            return Err(EngineError::Invalid(format!(
                "classifier: images must be at least 4×4 (two 2×2 poolings), got {}×{}",
                self.height, self.width
            )));
        }
        Ok(())
    }

    /// Values the flatten layer sees: `w₁ · ⌊H/4⌋ · ⌊W/4⌋`.
    fn flat_dim(&self) -> usize {
        self.widths[1] * (self.height / 2 / 2) * (self.width / 2 / 2)
    }
}

/// The CNN (see the module docs for the layers).
#[derive(Module, Debug)]
pub struct Classifier {
    /// Four 3×3 convolutions; a 2×2 max-pool follows the second and the fourth.
    convs: Vec<Conv2d>,
    /// Flattened maps → the `F` features.
    hidden: Linear,
    /// Features → logits.
    output: Linear,
    #[module(skip)]
    config: ClassifierConfig,
}

impl Classifier {
    /// A freshly initialised network, reproducible from `seed`: He-uniform weights
    /// `U(±√(6/fan_in))` for the ReLU layers, `U(±1/√fan_in)` for the logits, zero biases.
    pub fn new(config: &ClassifierConfig, seed: u64, device: &Device) -> Result<Self> {
        config.validate()?;
        let mut rng = rng_for(seed, 0, Stream::Init);
        let [w0, w1] = config.widths;
        let pairs = [(config.channels, w0), (w0, w0), (w0, w1), (w1, w1)];
        let convs = pairs
            .iter()
            .map(|&(c_in, c_out)| conv3x3(c_in, c_out, &mut rng, device))
            .collect();
        let relu_gain = 6f64.sqrt();
        Ok(Self {
            convs,
            hidden: linear(
                config.flat_dim(),
                config.features,
                relu_gain,
                &mut rng,
                device,
            ),
            output: linear(config.features, config.classes, 1.0, &mut rng, device),
            config: config.clone(),
        })
    }

    /// The network's shape.
    pub fn config(&self) -> &ClassifierConfig {
        &self.config
    }

    /// The penultimate-layer features (after ReLU), used for the Fréchet distance.
    ///
    /// # Shapes
    /// `x`: `[batch, channels, height, width]`, pixels in `[-1, 1]`; result `[batch, F]`.
    pub fn features(&self, x: Tensor<4>) -> Tensor<2> {
        let mut h = x;
        for (i, conv) in self.convs.iter().enumerate() {
            h = relu(conv.forward(h));
            if i % 2 == 1 {
                // [batch, w, H, W] -> [batch, w, H/2, W/2]
                h = max_pool2d(h, MaxPoolOptions::new([2, 2]));
            }
        }
        let [batch, c, height, width] = h.dims();
        relu(self.hidden.forward(h.reshape([batch, c * height * width])))
    }

    /// Class logits.
    ///
    /// # Shapes
    /// `x`: `[batch, channels, height, width]`; result `[batch, classes]`.
    pub fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        self.output.forward(self.features(x))
    }

    /// Class probabilities `p(y | x)` (softmax of the logits).
    ///
    /// # Shapes
    /// `x`: `[batch, channels, height, width]`; result `[batch, classes]`.
    pub fn probs(&self, x: Tensor<4>) -> Tensor<2> {
        softmax(self.logits(x), 1)
    }

    /// Features and probabilities of row-major NCHW host `pixels`, evaluated in batches without
    /// autodiff on the network's device. Probabilities are the softmax of the logits in f64.
    pub fn embed(&self, pixels: &[f32]) -> Result<Embedding> {
        let dim = self.config.input_dim();
        if !pixels.len().is_multiple_of(dim) {
            return Err(EngineError::Invalid(format!(
                "classifier input holds {} values, not a multiple of {} ({}×{}×{} images)",
                pixels.len(),
                dim,
                self.config.channels,
                self.config.height,
                self.config.width
            )));
        }
        let net = self.valid();
        let device = net.output.weight.val().device();
        let c = &self.config;
        let mut out = Embedding {
            classes: c.classes,
            features: Vec::with_capacity(pixels.len() / dim * c.features),
            probs: Vec::with_capacity(pixels.len() / dim * c.classes),
        };
        for chunk in pixels.chunks(EVAL_BATCH * dim) {
            let shape = [chunk.len() / dim, c.channels, c.height, c.width];
            let x = Tensor::<4>::from_data(TensorData::new(chunk.to_vec(), shape), &device);
            let features = net.features(x);
            let logits = host(net.output.forward(features.clone()))?;
            out.features.extend(host(features)?);
            out.push_logits(&logits);
        }
        Ok(out)
    }
}

/// Host outputs of [`Classifier::embed`] for `n` images.
#[derive(Clone, Debug, PartialEq)]
pub struct Embedding {
    /// Number of classes (the width of a `probs` row).
    pub classes: usize,
    /// Row-major `[n, F]` penultimate features.
    pub features: Vec<f32>,
    /// Row-major `[n, classes]` class probabilities.
    pub probs: Vec<f64>,
}

impl Embedding {
    /// Appends the probabilities of row-major `[n, classes]` logits: their softmax, in f64.
    pub fn push_logits(&mut self, logits: &[f32]) {
        for row in logits.chunks_exact(self.classes) {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let exp: Vec<f64> = row.iter().map(|&l| f64::from(l - max).exp()).collect();
            let sum: f64 = exp.iter().sum();
            self.probs.extend(exp.iter().map(|e| e / sum));
        }
    }

    /// The most probable class of each image (ties to the lowest index).
    pub fn predictions(&self) -> Vec<usize> {
        self.probs
            .chunks_exact(self.classes.max(1))
            .map(|p| (1..p.len()).fold(0, |best, k| if p[k] > p[best] { k } else { best }))
            .collect()
    }
}

/// A 3×3 "same" convolution with He-uniform weights and zero biases drawn from `rng`.
fn conv3x3(c_in: usize, c_out: usize, rng: &mut impl Rng, device: &Device) -> Conv2d {
    let fan_in = c_in * 9;
    let bound = (6.0 / fan_in as f64).sqrt();
    let mut conv = Conv2dConfig::new([c_in, c_out], [3, 3])
        .with_padding(PaddingConfig2d::Same)
        .init(device);
    let weight = uniform(rng, c_out * fan_in, bound);
    conv.weight = Param::from_tensor(Tensor::<4>::from_data(
        TensorData::new(weight, [c_out, c_in, 3, 3]),
        device,
    ));
    conv.bias = Some(Param::from_tensor(Tensor::<1>::zeros([c_out], device)));
    conv
}

/// A linear layer with `U(±gain/√d_in)` weights and zero biases drawn from `rng`.
fn linear(d_in: usize, d_out: usize, gain: f64, rng: &mut impl Rng, device: &Device) -> Linear {
    let bound = gain / (d_in as f64).sqrt();
    let mut layer = LinearConfig::new(d_in, d_out).init(device);
    layer.weight = Param::from_tensor(Tensor::<2>::from_data(
        TensorData::new(uniform(rng, d_in * d_out, bound), [d_in, d_out]),
        device,
    ));
    layer.bias = Some(Param::from_tensor(Tensor::<1>::zeros([d_out], device)));
    layer
}

/// `n` draws of `U(−bound, bound)`.
fn uniform(rng: &mut impl Rng, n: usize, bound: f64) -> Vec<f32> {
    (0..n)
        .map(|_| rng.random_range(-bound..bound) as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ones(config: &ClassifierConfig, batch: usize, device: &Device) -> Tensor<4> {
        Tensor::<4>::ones(
            [batch, config.channels, config.height, config.width],
            device,
        )
    }

    #[test]
    fn output_shapes_for_every_image_size() {
        let device = Device::flex();
        for (c, h, w) in [(1, 8, 8), (1, 28, 28), (1, 32, 32), (3, 32, 32)] {
            let config = ClassifierConfig::new(c, h, w, 10);
            let net = Classifier::new(&config, 0, &device).expect("net");
            let x = ones(&config, 3, &device);
            assert_eq!(net.features(x.clone()).dims(), [3, 128], "{c}×{h}×{w}");
            assert_eq!(net.logits(x.clone()).dims(), [3, 10], "{c}×{h}×{w}");
            let p = host(net.probs(x)).expect("host");
            for row in p.chunks_exact(10) {
                assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn bad_configs_are_errors() {
        let device = Device::flex();
        let small = ClassifierConfig::new(1, 3, 8, 10);
        let err = Classifier::new(&small, 0, &device).expect_err("3 rows");
        assert!(err.to_string().contains("at least 4×4"), "{err}");
        let none = ClassifierConfig::new(1, 8, 8, 0);
        assert!(Classifier::new(&none, 0, &device).is_err());
        let net = Classifier::new(&ClassifierConfig::new(1, 8, 8, 10), 0, &device).expect("net");
        let err = net.embed(&[0.0; 65]).expect_err("ragged");
        assert!(err.to_string().contains("not a multiple of 64"), "{err}");
    }

    #[test]
    fn embed_matches_the_tensor_path() {
        let device = Device::flex();
        let config = ClassifierConfig {
            widths: [4, 4],
            features: 8,
            ..ClassifierConfig::new(1, 8, 8, 3)
        };
        let net = Classifier::new(&config, 1, &device).expect("net");
        let pixels: Vec<f32> = (0..4 * 64).map(|i| (i % 7) as f32 / 3.5 - 1.0).collect();
        let e = net.embed(&pixels).expect("embed");
        let x = Tensor::<4>::from_data(TensorData::new(pixels, [4, 1, 8, 8]), &device);
        assert_eq!(e.features, host(net.features(x.clone())).expect("host"));
        let p = host(net.probs(x)).expect("host");
        for (a, b) in e.probs.iter().zip(&p) {
            assert!((a - f64::from(*b)).abs() < 1e-6);
        }
        assert_eq!(e.predictions().len(), 4);
    }
}
