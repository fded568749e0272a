//! Data sets the teachers model: the 2-D toy world and image sets, and [`DataConfig`], the
//! `[data]` of a run, which is either.

pub mod images;
pub mod toy;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

use self::images::ImageSource;
use self::toy::{GaussianMixture, ToyData};
use sim_formats::validation::ValidationError;

/// `kind`s of [`ToyData`].
pub const TOY_KINDS: [&str; 6] = [
    "ring",
    "grid",
    "mixture",
    "two_moons",
    "swiss_roll",
    "checkerboard",
];
/// `kind`s of [`ImageSource`].
pub const IMAGE_KINDS: [&str; 5] = ["digits", "idx", "fashion_mnist", "cifar10", "folder"];

/// The data set of a run, as its `[data]` table: a 2-D toy set or an image set, told apart by
/// `kind` (the kinds of the two never overlap). Written out exactly as the inner table, so a
/// toy run's `config.toml` (and the teacher-fit cache key) is what it was before images existed.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum DataConfig {
    /// A 2-D toy set (docs/algorithm.md §6); the networks are MLPs.
    Toy(ToyData),
    /// An image set; the networks are copies of the teacher's U-Net.
    Image(ImageSource),
}

impl Default for DataConfig {
    fn default() -> Self {
        Self::Toy(ToyData::default())
    }
}

impl From<ToyData> for DataConfig {
    fn from(data: ToyData) -> Self {
        Self::Toy(data)
    }
}

impl From<ImageSource> for DataConfig {
    fn from(source: ImageSource) -> Self {
        Self::Image(source)
    }
}

impl<'de> Deserialize<'de> for DataConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = toml::Value::deserialize(deserializer)?;
        let kind = value
            .get("kind")
            .and_then(toml::Value::as_str)
            .map(str::to_owned);
        let inner = |e: toml::de::Error| D::Error::custom(e.message().trim().to_owned());
        match kind.as_deref() {
            Some(k) if IMAGE_KINDS.contains(&k) => value.try_into().map(Self::Image).map_err(inner),
            Some(k) if TOY_KINDS.contains(&k) => value.try_into().map(Self::Toy).map_err(inner),
            Some(k) => Err(D::Error::custom(format!(
                "unknown data kind `{k}`; toy kinds: {}; image kinds: {}",
                TOY_KINDS.join(", "),
                IMAGE_KINDS.join(", ")
            ))),
            None => Err(D::Error::custom(format!(
                "missing `kind`; toy kinds: {}; image kinds: {}",
                TOY_KINDS.join(", "),
                IMAGE_KINDS.join(", ")
            ))),
        }
    }
}

impl DataConfig {
    /// The toy set, if this is one.
    pub fn toy(&self) -> Option<&ToyData> {
        match self {
            Self::Toy(data) => Some(data),
            Self::Image(_) => None,
        }
    }

    /// The image source, if this is one.
    pub fn image(&self) -> Option<&ImageSource> {
        match self {
            Self::Toy(_) => None,
            Self::Image(source) => Some(source),
        }
    }

    /// The exact mixture of a Gaussian-mixture toy set.
    pub fn mixture(&self) -> Option<GaussianMixture> {
        self.toy().and_then(ToyData::mixture)
    }

    /// A short label for the UI and logs.
    pub fn label(&self) -> String {
        match self {
            Self::Toy(data) => data.label(),
            Self::Image(source) => source.label(),
        }
    }

    /// Checks parameters; the message names the field.
    pub fn validate(&self) -> Result<(), ValidationError> {
        match self {
            Self::Toy(data) => data.validate(),
            Self::Image(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<DataConfig, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn kinds_pick_the_world_and_round_trip() {
        let toy = parse("kind = \"ring\"\nmodes = 4\nradius = 1.0\nstd = 0.1").expect("toy");
        assert!(matches!(
            toy,
            DataConfig::Toy(ToyData::Ring { modes: 4, .. })
        ));
        let image = parse("kind = \"digits\"").expect("digits");
        assert_eq!(image, DataConfig::Image(ImageSource::Digits));
        for data in [toy, image] {
            let text = toml::to_string(&data).expect("serialise");
            assert_eq!(parse(&text).expect("parse back"), data);
        }
        // A toy set serialises exactly as ToyData did (teacher-fit cache keys stay valid).
        assert_eq!(
            toml::to_string(&DataConfig::default()).expect("ser"),
            toml::to_string(&ToyData::default()).expect("ser")
        );
    }

    #[test]
    fn unknown_kinds_and_fields_are_named() {
        let err = parse("kind = \"digitz\"")
            .expect_err("unknown kind")
            .to_string();
        assert!(
            err.contains("digitz") && err.contains("fashion_mnist"),
            "{err}"
        );
        let err = parse("kind = \"ring\"\nmodez = 3")
            .expect_err("typo")
            .to_string();
        assert!(err.contains("modez"), "{err}");
    }
}
