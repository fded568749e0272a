//! FID and Inception Score of generated images, with a domain classifier as the feature network.
//!
//! * FID (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local
//!   Nash Equilibrium"): the [`frechet_distance`] between Gaussian fits of the penultimate
//!   features of generated and reference images.
//! * IS (Salimans et al. 2016, "Improved Techniques for Training GANs"):
//!   `exp(E_x KL(p(y|x) ‖ p(y)))` from the classifier's softmax ([`inception_score`]).
//!
//! The feature network is a [`FeatureNet`]: a trained domain classifier (e.g. `digits-CNN`),
//! whose numbers compare only under the same classifier, or the standard FID Inception-v3.
//! Scores are always labelled with its name: "FID (digits-CNN)", "FID (Inception-v3)"
//! (docs/algorithm.md §4).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use nalgebra::{DMatrix, DVector};
use safetensors::tensor::{Dtype, TensorView};
use serde::{Deserialize, Serialize};

use super::feature_net::FeatureNet;
use super::{Gaussian, MetricError, frechet_distance, inception_score};
use crate::data::images::ImageSet;
use crate::error::{EngineError, Result};
use crate::store::atomic::write_atomic;
use crate::store::fnv1a;
use sim_formats::limits;

/// `format` field of a reference-statistics cache file.
const CACHE_FORMAT: &str = "sim-workbench reference-stats v1";

/// FID and IS of one set of images.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageMetrics {
    /// Fréchet distance of the samples' features to the reference features.
    pub fid: f64,
    /// Inception Score from the classifier's softmax (1 ..= classes).
    pub is: f64,
    /// The feature network, e.g. `digits-CNN`.
    pub feature_net: String,
    /// Number of images evaluated.
    pub samples: usize,
}

impl ImageMetrics {
    /// E.g. `FID (digits-CNN)`.
    pub fn fid_label(&self) -> String {
        format!("FID ({})", self.feature_net)
    }

    /// E.g. `IS (digits-CNN)`.
    pub fn is_label(&self) -> String {
        format!("IS ({})", self.feature_net)
    }
}

/// The Gaussian fit of a reference set's features under one classifier.
#[derive(Clone, Debug, PartialEq)]
pub struct ReferenceStats {
    /// The feature network's name.
    pub feature_net: String,
    /// The reference set's name.
    pub data: String,
    /// [`Classifier::fingerprint`](super::classifier::Classifier::fingerprint) of the network
    /// that made the features.
    pub classifier_hash: u64,
    /// Hash of the reference images' shape and pixels.
    pub data_hash: u64,
    /// Mean and covariance of the features, in f64.
    pub gaussian: Gaussian,
}

impl ReferenceStats {
    /// Fits the features of every image of `set`.
    pub fn compute(net: &dyn FeatureNet, set: &ImageSet) -> Result<Self> {
        let shape = [set.channels, set.height, set.width];
        let features = net.embed(&set.pixels, shape)?.features;
        Ok(Self {
            feature_net: net.name(),
            data: set.name.clone(),
            classifier_hash: net.fingerprint()?,
            data_hash: data_hash(set),
            gaussian: fit_features(net, &features)?,
        })
    }

    /// The statistics from the cache file in `dir` for this classifier and set when one exists
    /// and passes every check, else computed and written there (a corrupt file — unreadable,
    /// of another format, key, network or feature dimension, or holding a non-finite value —
    /// is discarded with a warning and replaced; a failed write is logged, not an error).
    /// Files are named `ref-<classifier hash>-<data hash>.safetensors`.
    pub fn cached(net: &dyn FeatureNet, set: &ImageSet, dir: &Path) -> Result<Self> {
        let (classifier_hash, data_hash) = (net.fingerprint()?, data_hash(set));
        let path = Self::cache_path(dir, classifier_hash, data_hash);
        if path.exists() {
            let expected = Expected {
                classifier_hash,
                data_hash,
                feature_net: net.name(),
                dim: net.feature_dim(),
            };
            match read_cache(&path, &expected) {
                Ok(stats) => return Ok(stats),
                Err(why) => tracing::warn!(
                    "{}: corrupt reference-statistics cache ({why}); discarded and recomputed",
                    path.display()
                ),
            }
        }
        let stats = Self::compute(net, set)?;
        if let Err(e) = stats.write(&path) {
            tracing::warn!("reference statistics not cached: {e}");
        }
        Ok(stats)
    }

    /// Where [`ReferenceStats::cached`] keeps the statistics for these hashes.
    pub fn cache_path(dir: &Path, classifier_hash: u64, data_hash: u64) -> PathBuf {
        dir.join(format!(
            "ref-{classifier_hash:016x}-{data_hash:016x}.safetensors"
        ))
    }

    /// Writes the statistics as safetensors: f64 tensors `mean` `[F]` and `cov` `[F, F]`,
    /// metadata `format`, `feature_net`, `data`, `classifier_hash`, `data_hash`, `count`.
    fn write(&self, path: &Path) -> Result<()> {
        let bytes = |values: &mut dyn Iterator<Item = &f64>| -> Vec<u8> {
            values.flat_map(|v| v.to_le_bytes()).collect()
        };
        let dim = self.gaussian.dim();
        let mean = bytes(&mut self.gaussian.mean.iter());
        // Symmetric, so row- and column-major agree.
        let cov = bytes(&mut self.gaussian.cov.iter());
        let bad = |e: safetensors::SafeTensorError| EngineError::File {
            path: path.to_owned(),
            message: format!("cannot encode reference statistics: {e}"),
        };
        let views = vec![
            (
                "mean",
                TensorView::new(Dtype::F64, vec![dim], &mean).map_err(bad)?,
            ),
            (
                "cov",
                TensorView::new(Dtype::F64, vec![dim, dim], &cov).map_err(bad)?,
            ),
        ];
        let metadata: HashMap<String, String> = [
            ("format", CACHE_FORMAT.to_owned()),
            ("feature_net", self.feature_net.clone()),
            ("data", self.data.clone()),
            ("classifier_hash", format!("{:016x}", self.classifier_hash)),
            ("data_hash", format!("{:016x}", self.data_hash)),
            ("count", self.gaussian.count.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        write_atomic(
            path,
            &safetensors::serialize(views, Some(metadata)).map_err(bad)?,
        )
    }
}

/// FID and IS of `samples` (row-major NCHW images of `shape` in `[-1, 1]`) against
/// `reference`, which must come from the same feature network.
///
/// Errors when the samples do not fill whole images, there are fewer than 2, the reference was
/// made by another network, or a feature is not finite.
pub fn image_metrics(
    net: &dyn FeatureNet,
    samples: &[f32],
    shape: [usize; 3],
    reference: &ReferenceStats,
) -> Result<ImageMetrics> {
    let hash = net.fingerprint()?;
    if hash != reference.classifier_hash {
        return Err(EngineError::Invalid(format!(
            "reference statistics of {} were computed with {} ({:016x}), not {} \
             ({hash:016x}); recompute them with this feature network",
            reference.data,
            reference.feature_net,
            reference.classifier_hash,
            net.name()
        )));
    }
    let dim: usize = shape.iter().product();
    if dim == 0 || !samples.len().is_multiple_of(dim) {
        return Err(EngineError::Invalid(format!(
            "{} values are not whole {}×{}×{} images",
            samples.len(),
            shape[0],
            shape[1],
            shape[2]
        )));
    }
    let embedding = net.embed(samples, shape)?;
    let fid = frechet_distance(
        &fit_features(net, &embedding.features)?,
        &reference.gaussian,
    )?;
    let is = inception_score(&embedding.probs, embedding.classes)?;
    Ok(ImageMetrics {
        fid,
        is,
        feature_net: net.name(),
        samples: samples.len() / dim,
    })
}

/// The Gaussian fit of `features` (rows of `net`'s feature dimension) of finite images: a
/// feature that is not finite is the feature network's fault, and the error says so.
fn fit_features(net: &dyn FeatureNet, features: &[f32]) -> Result<Gaussian> {
    let dim = net.feature_dim();
    Gaussian::fit(features, dim).map_err(|e| match e {
        MetricError::NonFiniteSample { index } => EngineError::Invalid(format!(
            "feature {} of image {} is not finite though the image is: the feature network {} \
             overflows — check its file (eval.classifier), or train the classifier again",
            index % dim.max(1),
            index / dim.max(1),
            net.name()
        )),
        e => e.into(),
    })
}

/// What a cache file must hold to be used: the key its name promises, and the features of the
/// network that asks for it.
struct Expected {
    classifier_hash: u64,
    data_hash: u64,
    feature_net: String,
    dim: usize,
}

/// A cache file's statistics, checked as untrusted input: a regular file of the cache format,
/// the classifier and data hashes its name promises, the feature network's name, an F64 mean
/// and covariance of the network's feature dimension, at least two images counted, and every
/// value finite. The error says why it cannot be used.
fn read_cache(path: &Path, expected: &Expected) -> Result<ReferenceStats, String> {
    let Expected {
        classifier_hash,
        data_hash,
        ..
    } = *expected;
    limits::regular_file(path)?;
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let mut file = sim_formats::tensors::parse_as::<f64>(&bytes)?;
    let meta = &file.metadata;
    let field = |key: &str| -> Result<&String, String> {
        meta.get(key)
            .ok_or_else(|| format!("metadata `{key}` is missing"))
    };
    if field("format")? != CACHE_FORMAT {
        return Err(format!("format is not {CACHE_FORMAT:?}"));
    }
    let feature_net = field("feature_net")?.clone();
    let data = field("data")?.clone();
    let hash = |key: &str| -> Result<u64, String> {
        u64::from_str_radix(field(key)?, 16).map_err(|e| format!("metadata `{key}`: {e}"))
    };
    if (hash("classifier_hash")?, hash("data_hash")?) != (classifier_hash, data_hash) {
        return Err("its hashes are not the ones its name promises".into());
    }
    if feature_net != expected.feature_net {
        return Err(format!(
            "metadata `feature_net` is {feature_net:?}, not {:?}",
            expected.feature_net
        ));
    }
    let count: usize = field("count")?
        .parse()
        .map_err(|e| format!("metadata `count`: {e}"))?;
    if count < 2 {
        return Err(format!(
            "metadata `count` is {count}; a covariance needs at least 2 images"
        ));
    }
    let mut read = |name: &str| {
        file.tensors
            .remove(name)
            .ok_or_else(|| format!("tensor `{name}` is missing"))
    };
    let (mean_shape, mean) = read("mean")?;
    let (cov_shape, cov) = read("cov")?;
    let dim = expected.dim;
    if mean_shape != [dim] || cov_shape != [dim, dim] {
        return Err(format!(
            "shapes {mean_shape:?} and {cov_shape:?} are not a mean and covariance of the \
             {} features of {}: [{dim}] and [{dim}, {dim}]",
            dim, expected.feature_net
        ));
    }
    Ok(ReferenceStats {
        feature_net,
        data,
        classifier_hash,
        data_hash,
        gaussian: Gaussian {
            mean: DVector::from_vec(mean),
            cov: DMatrix::from_vec(dim, dim, cov),
            count,
        },
    })
}

/// FNV-1a of the image shape and pixel bytes.
fn data_hash(set: &ImageSet) -> u64 {
    let mut bytes = Vec::with_capacity(24 + 4 * set.pixels.len());
    for n in [set.channels, set.height, set.width] {
        bytes.extend_from_slice(&(n as u64).to_le_bytes());
    }
    for v in &set.pixels {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    fnv1a(&bytes)
}

#[cfg(test)]
mod tests {
    use burn::prelude::*;
    use rand::Rng;

    use super::*;
    use crate::data::images::{ImageSet, ImageSource, Split};
    use crate::metrics::classifier::TrainedClassifier;
    use crate::metrics::train_classifier::{accuracy, stratified_split};
    use crate::rng::{Stream, rng_for};

    /// The shipped digits classifier (`assets/classifiers/digits-cnn.safetensors`).
    fn digits_cnn() -> TrainedClassifier {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../assets/classifiers/digits-cnn.safetensors");
        TrainedClassifier::load(&path, &Device::flex()).expect("shipped digits classifier")
    }

    /// The digits and their held-out 20 % (the split the shipped classifier was scored on).
    fn digits_split() -> (ImageSet, ImageSet) {
        let set = ImageSource::Digits.load().expect("digits");
        let (train, test) = stratified_split(&set, 0.2, 0).expect("split");
        (set.subset(&train), set.subset(&test))
    }

    #[test]
    fn shipped_digits_classifier_sanity() {
        let cnn = digits_cnn();
        assert_eq!(cnn.info.name, "digits-CNN");
        let (train, test) = digits_split();
        let acc = accuracy(&cnn.net, &test).expect("accuracy");
        assert!(acc >= 0.97, "held-out accuracy {acc}");
        assert!((acc - cnn.info.test_accuracy).abs() < 1e-9);

        let reference = ReferenceStats::compute(&cnn, &train).expect("reference");
        let shape = [train.channels, train.height, train.width];
        let metric =
            |pixels: &[f32]| image_metrics(&cnn, pixels, shape, &reference).expect("metrics");

        let itself = metric(&train.pixels);
        assert!(
            itself.fid.abs() < 1e-6,
            "FID(train, train) = {}",
            itself.fid
        );
        assert_eq!(itself.samples, train.len());
        assert_eq!(itself.fid_label(), "FID (digits-CNN)");
        assert_eq!(itself.is_label(), "IS (digits-CNN)");

        let held_out = metric(&test.pixels);
        let (noise, zeros) = noise_and_class_0(&test);
        let noisy = metric(&noise);
        let one_class = metric(&zeros.pixels);
        eprintln!(
            "digits-CNN: accuracy {acc:.4}; FID test {:.3}, noise {:.1}, zeros {:.1}; \
             IS train {:.3}, test {:.3}, noise {:.3}, zeros {:.3}",
            held_out.fid, noisy.fid, one_class.fid, itself.is, held_out.is, noisy.is, one_class.is
        );
        // 359 test images in 128 dimensions: the estimator's bias alone is several units.
        assert!(held_out.fid < 20.0, "FID(test, train) = {}", held_out.fid);
        assert!(
            noisy.fid > 20.0 * held_out.fid,
            "FID(noise) {} vs FID(test) {}",
            noisy.fid,
            held_out.fid
        );
        assert!(held_out.is > 9.0, "IS(test) = {}", held_out.is);
        assert!(one_class.is < 1.2, "IS(one class) = {}", one_class.is);
        assert!(one_class.fid > 20.0 * held_out.fid);
    }

    /// Uniform pixel noise shaped like `test`, and the images of class 0 in `test`: the sets
    /// whose FID must be large.
    fn noise_and_class_0(test: &ImageSet) -> (Vec<f32>, ImageSet) {
        let mut rng = rng_for(0, 0, Stream::Other(7));
        let noise = (0..test.pixels.len())
            .map(|_| rng.random_range(-1.0f32..1.0))
            .collect();
        let zeros: Vec<usize> = (0..test.len()).filter(|&i| test.labels[i] == 0).collect();
        (noise, test.subset(&zeros))
    }

    /// The shipped Fashion-MNIST classifier against the installed data set.
    #[test]
    #[ignore = "needs `apt install dataset-fashion-mnist`; a few minutes on a CPU"]
    fn shipped_fashion_mnist_classifier_sanity() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../assets/classifiers/fashion-mnist-cnn.safetensors");
        let cnn = TrainedClassifier::load(&path, &Device::flex()).expect("classifier");
        let load = |split| {
            ImageSource::FashionMnist { split }
                .load()
                .expect("Fashion-MNIST")
        };
        let (train, test) = (load(Split::Train), load(Split::Test));
        let acc = accuracy(&cnn.net, &test).expect("accuracy");
        assert!(acc >= 0.88, "test accuracy {acc}");
        let reference = ReferenceStats::compute(&cnn, &train).expect("reference");
        let shape = [train.channels, train.height, train.width];
        let metric =
            |pixels: &[f32]| image_metrics(&cnn, pixels, shape, &reference).expect("metrics");
        let held_out = metric(&test.pixels);
        let (noise, first) = noise_and_class_0(&test);
        let noisy = metric(&noise);
        let one_class = metric(&first.pixels);
        eprintln!(
            "fashion-mnist-CNN: accuracy {acc:.4}; FID test {:.3}, noise {:.1}, one class {:.1}; \
             IS test {:.3}, noise {:.3}, one class {:.3}",
            held_out.fid, noisy.fid, one_class.fid, held_out.is, noisy.is, one_class.is
        );
        assert!(noisy.fid > 20.0 * held_out.fid);
        assert!(one_class.fid > 20.0 * held_out.fid);
        assert!(held_out.is > 7.0, "IS(test) = {}", held_out.is);
        assert!(one_class.is < 1.5, "IS(one class) = {}", one_class.is);
    }

    #[test]
    fn reference_cache_roundtrips_and_checks_its_key() {
        let cnn = digits_cnn();
        let (train, test) = digits_split();
        let dir = tempfile::tempdir().expect("tempdir");
        let fresh = ReferenceStats::cached(&cnn, &train, dir.path()).expect("compute");
        let path = ReferenceStats::cache_path(dir.path(), fresh.classifier_hash, fresh.data_hash);
        assert!(path.is_file());
        let cached = ReferenceStats::cached(&cnn, &train, dir.path()).expect("read");
        assert_eq!(
            cached, fresh,
            "f64 statistics survive the round trip exactly"
        );
        // Another set gets its own file.
        let other = ReferenceStats::cached(&cnn, &test, dir.path()).expect("compute");
        assert_ne!(other.data_hash, fresh.data_hash);
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 2);
        // A damaged file is discarded and recomputed, whatever the damage.
        let good = std::fs::read(&path).expect("read");
        let nan_mean = {
            let mut bytes = good.clone();
            let header = 8 + u64::from_le_bytes(bytes[..8].try_into().expect("8")) as usize;
            // The first data bytes belong to `cov` or `mean`: either way a NaN in a tensor.
            bytes[header..header + 8].copy_from_slice(&f64::NAN.to_le_bytes());
            bytes
        };
        // Well-formed files of the right key that another network could have written.
        let rewritten_as = |stats: ReferenceStats| {
            stats.write(&path).expect("write");
            std::fs::read(&path).expect("read")
        };
        let three = Gaussian::fit(&[0.0, 1.0, 2.0, 1.0, 0.0, 3.0], 3).expect("fit");
        let wrong_dim = rewritten_as(ReferenceStats {
            gaussian: three,
            ..fresh.clone()
        });
        let wrong_net = rewritten_as(ReferenceStats {
            feature_net: "Inception-v3".into(),
            ..fresh.clone()
        });
        let expected = Expected {
            classifier_hash: fresh.classifier_hash,
            data_hash: fresh.data_hash,
            feature_net: "digits-CNN".into(),
            dim: 128,
        };
        let damages = [
            (b"{".to_vec(), "not a safetensors file"),
            (good[..good.len() / 2].to_vec(), "not a safetensors file"),
            (nan_mean, "holds NaN at index 0"),
            (
                wrong_dim,
                "are not a mean and covariance of the 128 features of digits-CNN",
            ),
            (
                wrong_net,
                "metadata `feature_net` is \"Inception-v3\", not \"digits-CNN\"",
            ),
        ];
        for (damaged, why) in damages {
            std::fs::write(&path, &damaged).expect("damage");
            let refused = read_cache(&path, &expected).expect_err("damaged");
            assert!(refused.contains(why), "{refused}");
            assert_eq!(
                ReferenceStats::cached(&cnn, &train, dir.path()).expect("recompute"),
                fresh
            );
            let rewritten = read_cache(&path, &expected);
            assert_eq!(
                rewritten.ok().as_ref(),
                Some(&fresh),
                "replaced by a good file"
            );
        }
        // A file under another key's name is not believed.
        let other_key = Expected {
            classifier_hash: fresh.classifier_hash ^ 1,
            ..expected
        };
        let why = read_cache(&path, &other_key).expect_err("wrong key");
        assert!(why.contains("hashes"), "{why}");
        // Statistics of another classifier are refused.
        let foreign = ReferenceStats {
            classifier_hash: fresh.classifier_hash ^ 1,
            ..fresh
        };
        let shape = [1, 8, 8];
        let err = image_metrics(&cnn, &test.pixels, shape, &foreign).expect_err("foreign");
        assert!(err.to_string().contains("recompute them"), "{err}");
        let err = image_metrics(&cnn, &test.pixels[..100], shape, &other).expect_err("ragged");
        assert!(err.to_string().contains("not whole 1×8×8 images"), "{err}");
    }
}
