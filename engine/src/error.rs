//! Engine errors. Every message names the file or field at fault and says how to fix it.

use std::path::PathBuf;

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
    /// Invalid input to a computation (shapes, parameters).
    #[error("{0}")]
    Invalid(String),
    /// An image data set could not be loaded.
    #[error(transparent)]
    ImageData(#[from] crate::data::images::ImageDataError),
    /// A metric could not be computed from its inputs.
    #[error(transparent)]
    Metric(#[from] crate::metrics::MetricError),
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
