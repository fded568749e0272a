//! [`ValidationError`]: what every check of a setting returns, from the leaves (a distance's
//! `c`) to a whole preset. Imports nothing of the engine, so every layer may use it.

/// A value that fails its checks: the dotted key of the field at fault (empty for the value as a
/// whole) and what would be valid. Validators of nested settings name their own fields
/// (`c`), and the owner prefixes its path ([`ValidationError::within`]: `distill.distance.c`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationError {
    /// Dotted path of the field, relative to the value checked.
    pub key: String,
    /// What is wrong and what would be valid.
    pub message: String,
}

impl ValidationError {
    /// The field `key` is wrong: `message`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }

    /// The same error seen from the value that holds the checked one at `parent`.
    #[must_use]
    pub fn within(self, parent: &str) -> Self {
        let key = match self.key.is_empty() {
            true => parent.to_owned(),
            false => format!("{parent}.{}", self.key),
        };
        Self { key, ..self }
    }
}

impl std::fmt::Display for ValidationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.key.is_empty() {
            true => f.write_str(&self.message),
            false => write!(f, "`{}`: {}", self.key, self.message),
        }
    }
}

impl std::error::Error for ValidationError {}

/// `value` must be finite and positive; the message gives `hint` (e.g. "a learning rate such
/// as 1e-4").
pub fn positive(key: &str, value: f64, hint: &str) -> Result<(), ValidationError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(ValidationError::new(
            key,
            format!("must be a positive number ({hint}), got {value}"),
        ))
    }
}

/// `value` must be finite; the message gives `hint`.
pub fn finite(key: &str, value: f64, hint: &str) -> Result<(), ValidationError> {
    match value.is_finite() {
        true => Ok(()),
        false => Err(ValidationError::new(
            key,
            format!("must be a finite number ({hint}), got {value}"),
        )),
    }
}

/// `value` must be a number in `[lo, hi]`; the message gives `hint`.
pub fn in_range(
    key: &str,
    value: f64,
    lo: f64,
    hi: f64,
    hint: &str,
) -> Result<(), ValidationError> {
    match value.is_finite() && (lo..=hi).contains(&value) {
        true => Ok(()),
        false => Err(ValidationError::new(
            key,
            format!("must be a number in [{lo:e}, {hi:e}] ({hint}), got {value}"),
        )),
    }
}

/// The count `value` must lie in `min..=max`.
pub fn count(key: &str, value: u64, min: u64, max: u64) -> Result<(), ValidationError> {
    match (min..=max).contains(&value) {
        true => Ok(()),
        false => Err(ValidationError::new(
            key,
            format!("must be in {min}..={max}, got {value}"),
        )),
    }
}
