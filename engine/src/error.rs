//! Engine errors, the ground floor every layer may use. Every message names the file or field at
//! fault and says how to fix it.

use std::path::PathBuf;

use sim_formats::validation::ValidationError;

/// A preset or override that cannot become a valid `RunConfig`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The preset file could not be read.
    #[error("cannot read preset {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The preset is not valid TOML.
    #[error("{origin}: not valid TOML: {message}")]
    Parse {
        /// The file (or "override").
        origin: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A field has the wrong type, an unknown name, or a value out of range.
    #[error("{origin}: field `{key}`: {message}")]
    Field {
        /// The file (or "override").
        origin: String,
        /// Dotted path of the field.
        key: String,
        /// What is wrong and what would be valid.
        message: String,
    },
    /// A `--set key=value` item that cannot be applied.
    #[error("--set {item}: {message}")]
    Override {
        /// The override as given.
        item: String,
        /// What is wrong.
        message: String,
    },
}

/// Anything that can stop the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A file could not be read or written.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong and what to do.
        message: String,
    },
    /// A tensor could not be read back from the device.
    #[error("device read-back failed: {0}")]
    Device(String),
    /// A tensor bound for a file holds NaN or ±inf: training diverged, and the file is not
    /// written (an earlier version of it stays as it was).
    #[error(
        "{path}: not written: tensor `{tensor}` holds {value} at index {index}, so training \
         diverged; the previous file, if any, is kept — retrain with a lower learning rate"
    )]
    NonFinite {
        /// The file that was to be written.
        path: PathBuf,
        /// The tensor.
        tensor: String,
        /// The first non-finite value's index.
        index: usize,
        /// That value.
        value: f32,
    },
    /// Invalid input to a computation (shapes, parameters).
    #[error("{0}")]
    Invalid(String),
    /// An image data set could not be loaded.
    #[error(transparent)]
    ImageData(#[from] crate::data::images::ImageDataError),
    /// A metric could not be computed from its inputs.
    #[error(transparent)]
    Metric(#[from] MetricError),
}

impl From<ValidationError> for ConfigError {
    /// A check that failed on a value built in code (no file): origin "config".
    fn from(e: ValidationError) -> Self {
        Self::Field {
            origin: "config".into(),
            key: e.key,
            message: e.message,
        }
    }
}

impl EngineError {
    /// A file error from an `io::Error`.
    pub fn io(path: impl Into<PathBuf>, err: std::io::Error) -> Self {
        Self::File {
            path: path.into(),
            message: err.to_string(),
        }
    }
}

/// Result alias of the engine.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// Errors from the metrics in this module and in the Inception Score.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricError {
    /// `dim == 0` was passed, or a [`Gaussian`] has no dimensions.
    #[error("feature dimension is 0; pass the length of one feature vector as `dim`")]
    ZeroDimension,
    /// The sample buffer is not a whole number of rows.
    #[error(
        "sample buffer holds {len} values, which is not a multiple of dim = {dim}; \
         pass row-major [n, dim] features"
    )]
    RaggedSamples {
        /// Length of the buffer.
        len: usize,
        /// Requested feature dimension.
        dim: usize,
    },
    /// Fewer than two samples: the unbiased covariance is undefined.
    #[error(
        "need at least 2 samples to estimate a covariance, got {n}; fit the Gaussian on more samples"
    )]
    TooFewSamples {
        /// Number of samples given.
        n: usize,
    },
    /// A sample value is NaN or infinite.
    #[error(
        "sample value at flat index {index} is not finite (NaN or ±inf); \
         check the feature extractor's output"
    )]
    NonFiniteSample {
        /// Flat index into the sample buffer.
        index: usize,
    },
    /// A generated sample to be scored is NaN or infinite: the network that made it overflowed,
    /// before any feature extractor saw it.
    #[error(
        "{whose} are not finite: sample {sample} holds {value} at value {offset}, so they \
         cannot be scored; {cause}"
    )]
    NonFiniteGenerated {
        /// Whose samples, e.g. "the teacher's samples (18 Heun steps)".
        whose: String,
        /// The first sample that is not finite.
        sample: usize,
        /// The offset of its first bad value within it.
        offset: usize,
        /// That value.
        value: f32,
        /// What overflowed and what to do about it.
        cause: String,
    },
    /// A [`Gaussian`] whose covariance is not `dim × dim` for its mean's `dim`, or that holds a
    /// non-finite value.
    #[error(
        "malformed Gaussian: mean has {mean} entries but covariance is {rows}x{cols}, or a value \
         is not finite; build it with Gaussian::fit"
    )]
    MalformedGaussian {
        /// Length of the mean.
        mean: usize,
        /// Covariance rows.
        rows: usize,
        /// Covariance columns.
        cols: usize,
    },
    /// The two Gaussians live in spaces of different dimension.
    #[error(
        "Gaussians have different dimensions ({left} vs {right}); \
         fit both from features of the same network layer"
    )]
    DimensionMismatch {
        /// Dimension of the first Gaussian.
        left: usize,
        /// Dimension of the second Gaussian.
        right: usize,
    },
    /// The symmetric eigendecomposition did not converge.
    #[error(
        "symmetric eigendecomposition of a {dim}x{dim} matrix did not converge; \
         check the covariances for extreme or degenerate values"
    )]
    EigenNoConvergence {
        /// Matrix dimension.
        dim: usize,
    },
    /// `classes == 0` was passed to an Inception Score function.
    #[error("number of classes is 0; pass the classifier's output width as `classes`")]
    ZeroClasses,
    /// No probability rows were given.
    #[error("no probability rows given; pass at least one [classes] softmax row")]
    NoPredictions,
    /// The probability buffer is not a whole number of rows.
    #[error(
        "probability buffer holds {len} values, which is not a multiple of classes = {classes}; \
         pass row-major [n, classes] probabilities"
    )]
    RaggedProbabilities {
        /// Length of the buffer.
        len: usize,
        /// Requested number of classes.
        classes: usize,
    },
    /// A probability is negative or not finite.
    #[error(
        "probability at row {row}, class {class} is {value}, not a finite value >= 0; \
         pass softmax outputs, not logits"
    )]
    InvalidProbability {
        /// Row index.
        row: usize,
        /// Class index.
        class: usize,
        /// Offending value.
        value: f64,
    },
    /// A probability row does not sum to 1 (within 1e-3).
    #[error(
        "probability row {row} sums to {sum}, not 1 (tolerance 1e-3); \
         apply softmax / normalise each row"
    )]
    RowNotNormalised {
        /// Row index.
        row: usize,
        /// The row's sum.
        sum: f64,
    },
}
