//! The trained classifier behind the image metrics: a [`Classifier`] network with its
//! [`ClassifierInfo`] (name, data, accuracy, provenance), saved as safetensors. No registry
//! ships Inception-v3 weights, so scores computed with it are named after it, e.g.
//! "FID (digits-CNN)" (docs/algorithm.md §4).

use std::path::Path;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};
use crate::nets::classifier::{Classifier, ClassifierConfig};
use crate::optim::params::named_params;
use crate::store::fnv1a;
use crate::store::tensor_file::TensorFile;
use crate::tensor::host;

/// `format` metadata of a saved classifier.
const FORMAT: &str = "sim-workbench cnn-classifier v1";

/// What a trained classifier file says about itself besides its weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassifierInfo {
    /// The feature-network name quoted with every score, e.g. `digits-CNN`.
    pub name: String,
    /// The training data, as given to `train-classifier --data` (e.g. `digits`).
    pub data: String,
    /// How the test images were held out.
    pub split: String,
    /// Fraction of the held-out test images classified correctly.
    pub test_accuracy: f64,
    /// Wall time of the training command (loading the data and training), in seconds.
    pub train_seconds: f64,
    /// The command that trained it.
    pub command: String,
}

/// A classifier with its [`ClassifierInfo`]: what the image metrics take.
#[derive(Debug)]
pub struct TrainedClassifier {
    /// The network.
    pub net: Classifier,
    /// Name, data, accuracy and provenance.
    pub info: ClassifierInfo,
}

impl TrainedClassifier {
    /// Writes a safetensors file: the parameters by path, and metadata `format`, `config`
    /// (TOML: input shape, classes, widths, feature dim), `name`, `data`, `split`,
    /// `test_accuracy`, `train_seconds`, `command`.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut file = TensorFile::new();
        file.insert_module("", &self.net)?;
        let info = &self.info;
        let config = toml::to_string(self.net.config()).map_err(|e| EngineError::File {
            path: path.to_owned(),
            message: format!("cannot encode the classifier config: {e}"),
        })?;
        for (key, value) in [
            ("format", FORMAT.to_owned()),
            ("config", config),
            ("name", info.name.clone()),
            ("data", info.data.clone()),
            ("split", info.split.clone()),
            ("test_accuracy", info.test_accuracy.to_string()),
            ("train_seconds", info.train_seconds.to_string()),
            ("command", info.command.clone()),
        ] {
            file.metadata.insert(key.into(), value);
        }
        file.write(path)
    }

    /// Reads a file written by [`TrainedClassifier::save`] onto `device`.
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let file = TensorFile::read(path)?;
        let bad = |key: &str, message: String| EngineError::File {
            path: path.to_owned(),
            message: format!("metadata `{key}`: {message}"),
        };
        let format = file.meta("format")?;
        if format != FORMAT {
            return Err(bad(
                "format",
                format!("`{format}` is not a classifier file (expected `{FORMAT}`)"),
            ));
        }
        let config: ClassifierConfig =
            toml::from_str(file.meta("config")?).map_err(|e| bad("config", e.to_string()))?;
        config
            .validate()
            .map_err(|e| bad("config", e.to_string()))?;
        // A number of the metadata in `lo..=hi`; `what` says what would be valid.
        let number = |key: &str, lo: f64, hi: f64, what: &str| -> Result<f64> {
            let value: f64 = file
                .meta(key)?
                .parse()
                .map_err(|e: std::num::ParseFloatError| bad(key, e.to_string()))?;
            match (lo..=hi).contains(&value) {
                true => Ok(value),
                false => Err(bad(key, format!("is {value}; must be {what}"))),
            }
        };
        let info = ClassifierInfo {
            name: file.meta("name")?.to_owned(),
            data: file.meta("data")?.to_owned(),
            split: file.meta("split")?.to_owned(),
            test_accuracy: number("test_accuracy", 0.0, 1.0, "a fraction in [0, 1]")?,
            train_seconds: number(
                "train_seconds",
                0.0,
                f64::MAX,
                "a finite number of seconds ≥ 0",
            )?,
            command: file.meta("command")?.to_owned(),
        };
        let blank =
            Classifier::new(&config, 0, device).map_err(|e| bad("config", e.to_string()))?;
        let net = file.load_module("", blank, device)?;
        Ok(Self { net, info })
    }
}

impl Classifier {
    /// A stable hash of the architecture and every parameter value (cache keys).
    pub fn fingerprint(&self) -> Result<u64> {
        let mut bytes = toml::to_string(self.config())
            .unwrap_or_default()
            .into_bytes();
        for (path, t) in named_params(self) {
            bytes.extend_from_slice(path.as_bytes());
            for v in host(t.values)? {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
        }
        Ok(fnv1a(&bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_network() {
        let device = Device::flex();
        let config = ClassifierConfig::new(1, 8, 8, 10);
        let a = Classifier::new(&config, 5, &device).expect("net");
        let b = Classifier::new(&config, 5, &device).expect("net");
        let c = Classifier::new(&config, 6, &device).expect("net");
        let fa = a.fingerprint().expect("hash");
        assert_eq!(fa, b.fingerprint().expect("hash"));
        assert_ne!(fa, c.fingerprint().expect("hash"));
    }

    #[test]
    fn save_load_roundtrip_gives_identical_logits() {
        let device = Device::flex();
        let config = ClassifierConfig {
            widths: [4, 8],
            features: 16,
            ..ClassifierConfig::new(3, 12, 10, 5)
        };
        let trained = TrainedClassifier {
            net: Classifier::new(&config, 3, &device).expect("net"),
            info: ClassifierInfo {
                name: "test-CNN".into(),
                data: "none".into(),
                split: "none".into(),
                test_accuracy: 0.25,
                train_seconds: 1.5,
                command: "cargo test".into(),
            },
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.safetensors");
        trained.save(&path).expect("save");
        let back = TrainedClassifier::load(&path, &device).expect("load");
        assert_eq!(back.info, trained.info);
        assert_eq!(back.net.config(), &config);
        let pixels: Vec<f32> = (0..2 * 3 * 12 * 10)
            .map(|i| ((i * 37) % 200) as f32 / 100.0 - 1.0)
            .collect();
        let x = Tensor::<4>::from_data(TensorData::new(pixels, [2, 3, 12, 10]), &device);
        let want = host(trained.net.logits(x.clone())).expect("host");
        let got = host(back.net.logits(x)).expect("host");
        assert_eq!(want, got);
        assert_eq!(
            trained.net.fingerprint().expect("hash"),
            back.net.fingerprint().expect("hash")
        );

        // A different architecture does not load silently.
        let mut file = TensorFile::read(&path).expect("read");
        let other = ClassifierConfig {
            features: 17,
            ..config
        };
        file.metadata
            .insert("config".into(), toml::to_string(&other).expect("toml"));
        file.write(&path).expect("write");
        let err = TrainedClassifier::load(&path, &device).expect_err("shape mismatch");
        assert!(err.to_string().contains("does not fit"), "{err}");
    }
}
