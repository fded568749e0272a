//! [`FeatureNet`]: the network whose features give FID and whose class probabilities give IS —
//! a domain classifier trained by the workbench ("FID (digits-CNN)"), or the standard FID
//! Inception-v3 ("FID (Inception-v3)", docs/edm-teachers.md). Scores are always named after it.

use std::path::Path;

use burn::prelude::*;

use super::classifier::TrainedClassifier;
use crate::error::{EngineError, Result};
use crate::nets::classifier::Embedding;
use crate::nets::inception::{CLASSES, FidInception, INCEPTION_CONVERTER, INCEPTION_FORMAT};
use crate::store::tensor_file::TensorFile;
use crate::tensor::host;

/// Name of the standard FID feature network, quoted with its scores.
pub const INCEPTION_NAME: &str = "Inception-v3";

/// Images per forward pass of the Inception (299 × 299 activations).
const INCEPTION_BATCH: usize = 32;

/// A feature network for FID and IS.
pub trait FeatureNet: std::fmt::Debug + Send {
    /// The name quoted with every score, e.g. `digits-CNN` or `Inception-v3`.
    fn name(&self) -> String;
    /// A hash of its weights: reference statistics are cached under it.
    fn fingerprint(&self) -> Result<u64>;
    /// The images it takes: `Some([C, H, W])` for a fixed size, `None` for any size of RGB
    /// images (the Inception resizes them).
    fn input_shape(&self) -> Option<[usize; 3]>;
    /// Width of its features.
    fn feature_dim(&self) -> usize;
    /// Features and class probabilities of row-major NCHW images of `shape` in `[-1, 1]`,
    /// without autodiff.
    fn embed(&self, pixels: &[f32], shape: [usize; 3]) -> Result<Embedding>;
}

impl FeatureNet for TrainedClassifier {
    fn name(&self) -> String {
        self.info.name.clone()
    }
    fn fingerprint(&self) -> Result<u64> {
        self.net.fingerprint()
    }
    fn input_shape(&self) -> Option<[usize; 3]> {
        let c = self.net.config();
        Some([c.channels, c.height, c.width])
    }
    fn feature_dim(&self) -> usize {
        self.net.config().features
    }
    fn embed(&self, pixels: &[f32], _: [usize; 3]) -> Result<Embedding> {
        self.net.embed(pixels)
    }
}

/// The FID Inception on a device.
#[derive(Debug)]
pub struct Inception {
    net: FidInception,
    device: Device,
}

impl FeatureNet for Inception {
    fn name(&self) -> String {
        match self.net.width_divisor() {
            1 => INCEPTION_NAME.into(),
            k => format!("{INCEPTION_NAME} at 1/{k} width"),
        }
    }
    fn fingerprint(&self) -> Result<u64> {
        Ok(self.net.fingerprint())
    }
    fn input_shape(&self) -> Option<[usize; 3]> {
        None
    }
    fn feature_dim(&self) -> usize {
        self.net.feature_dim()
    }
    /// Each image quantised to 8 bits first, as the standard FID tools read PNGs.
    fn embed(&self, pixels: &[f32], shape: [usize; 3]) -> Result<Embedding> {
        let [c, h, w] = shape;
        if c != 3 {
            return Err(EngineError::Invalid(format!(
                "the FID Inception takes RGB images, these have {c} channels"
            )));
        }
        let dim = c * h * w;
        let mut out = Embedding {
            classes: CLASSES,
            features: Vec::with_capacity(pixels.len() / dim * self.feature_dim()),
            probs: Vec::with_capacity(pixels.len() / dim * CLASSES),
        };
        for chunk in pixels.chunks(INCEPTION_BATCH * dim) {
            let quantised: Vec<f32> = chunk.iter().map(|&v| quantise(v)).collect();
            let x = Tensor::<4>::from_data(
                TensorData::new(quantised, [chunk.len() / dim, c, h, w]),
                &self.device,
            );
            let (features, logits) = self.net.forward(x);
            out.features.extend(host(features)?);
            out.push_logits(&host(logits)?);
        }
        Ok(out)
    }
}

/// `x ∈ [−1, 1]` as an 8-bit pixel would store it: `round(127.5 (x + 1)) / 127.5 − 1` (NaN
/// stays NaN, so a diverged sample still fails the metrics).
fn quantise(x: f32) -> f32 {
    ((x.clamp(-1.0, 1.0) + 1.0) * 127.5).round() / 127.5 - 1.0
}

/// The feature network in `path`: a classifier from `sim-workbench train-classifier`, or the
/// FID Inception from `tools/inception_to_safetensors.py`, told apart by the file's format.
pub fn load_feature_net(path: &Path, device: &Device) -> Result<Box<dyn FeatureNet>> {
    if !path.exists() {
        return Err(EngineError::File {
            path: path.to_owned(),
            message: format!(
                "does not exist: eval.classifier names a classifier from `sim-workbench \
                 train-classifier`, or the FID Inception-v3 converted once with \
                 `{INCEPTION_CONVERTER}`"
            ),
        });
    }
    let file = TensorFile::read(path)?;
    if file.meta("format")? == INCEPTION_FORMAT {
        return Ok(Box::new(Inception {
            net: FidInception::from_file(&file, device)?,
            device: device.clone(),
        }));
    }
    Ok(Box::new(TrainedClassifier::load(path, device)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantise_rounds_to_eight_bits() {
        assert_eq!(quantise(-1.0), -1.0);
        assert_eq!(quantise(1.0), 1.0);
        assert_eq!(quantise(3.0), 1.0);
        // 0 is 127.5: rounds half away from zero to 128.
        assert!((quantise(0.0) - (128.0 / 127.5 - 1.0)).abs() < 1e-7);
        assert!(quantise(f32::NAN).is_nan());
    }
}
