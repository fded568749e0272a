//! Image data sets: the [`ImageSource`]s of an image run and how each is loaded. The formats
//! themselves (and [`ImageSet`], the images in memory) are `sim_formats::images`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
pub use sim_formats::images::{FASHION_MNIST_DIR, ImageDataError, ImageSet, Split};
use sim_formats::images::{cifar, digits, folder, idx};

/// Where an [`ImageSet`] comes from (the `data` of an image run).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ImageSource {
    /// scikit-learn's 1,797 8×8 handwritten digits, 10 classes (shipped inside the binary).
    #[default]
    Digits,
    /// MNIST-format IDX files (`train-images-idx3-ubyte[.gz]`, …) in a folder.
    Idx {
        /// The folder holding the files.
        dir: PathBuf,
        /// Which split to load.
        #[serde(default)]
        split: Split,
    },
    /// Fashion-MNIST as installed by `apt install dataset-fashion-mnist` (28×28, 10 classes).
    FashionMnist {
        /// Which split to load.
        #[serde(default)]
        split: Split,
    },
    /// CIFAR-10 binary batches (`data_batch_1.bin`…`data_batch_5.bin`, `test_batch.bin`).
    Cifar10 {
        /// The folder holding the batches (or their `cifar-10-batches-bin` folder).
        dir: PathBuf,
        /// Which split to load.
        #[serde(default)]
        split: Split,
    },
    /// PNG/JPEG files in a folder; each subfolder is a class when there are subfolders.
    Folder {
        /// The folder.
        dir: PathBuf,
        /// Images are scaled and centre-cropped to `size × size`.
        size: usize,
        /// 1 (grey) or 3 (RGB).
        channels: usize,
    },
}

impl ImageSource {
    /// The class-conditional teacher shipped in `assets/` for this data set, if any.
    pub fn shipped_teacher(&self) -> Option<&'static str> {
        match self {
            Self::Digits => Some(crate::assets::DIGITS_TEACHER),
            Self::FashionMnist { .. } => Some(crate::assets::FASHION_MNIST_TEACHER),
            _ => None,
        }
    }

    /// The classifier shipped in `assets/` for FID / IS on this data set, if any.
    pub fn shipped_classifier(&self) -> Option<&'static str> {
        match self {
            Self::Digits => Some(crate::assets::DIGITS_CLASSIFIER),
            Self::FashionMnist { .. } => Some(crate::assets::FASHION_MNIST_CLASSIFIER),
            _ => None,
        }
    }

    /// Loads the images into memory.
    pub fn load(&self) -> Result<ImageSet, ImageDataError> {
        let mut set = match self {
            Self::Digits => digits::load(
                Path::new(crate::assets::DIGITS_DATA),
                crate::assets::DIGITS_CSV_GZ,
            )?,
            Self::Idx { dir, split } => idx::load(
                dir,
                *split,
                "put the split's IDX files there (as in the MNIST or Fashion-MNIST downloads)",
            )?,
            Self::FashionMnist { split } => idx::load(
                Path::new(FASHION_MNIST_DIR),
                *split,
                "install Fashion-MNIST with `apt install dataset-fashion-mnist`, or use \
                 `kind = \"idx\"` with `dir` set to a folder holding its IDX files",
            )?,
            Self::Cifar10 { dir, split } => cifar::load(dir, *split)?,
            Self::Folder {
                dir,
                size,
                channels,
            } => folder::load(dir, *size, *channels)?,
        };
        set.name = self.label();
        Ok(set)
    }

    /// A short label for the UI and logs.
    pub fn label(&self) -> String {
        match self {
            Self::Digits => "sklearn digits".into(),
            Self::Idx { dir, split } => format!("IDX {} ({})", split.name(), dir.display()),
            Self::FashionMnist { split } => format!("Fashion-MNIST {}", split.name()),
            Self::Cifar10 { split, .. } => format!("CIFAR-10 {}", split.name()),
            Self::Folder { dir, size, .. } => {
                let base = dir.file_name().unwrap_or(dir.as_os_str());
                format!("{} {size}×{size}", base.to_string_lossy())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse_from_toml() {
        let parse = |s: &str| toml::from_str::<ImageSource>(s);
        assert_eq!(
            parse("kind = \"fashion_mnist\"\nsplit = \"test\"").expect("fashion"),
            ImageSource::FashionMnist { split: Split::Test }
        );
        assert_eq!(
            parse("kind = \"idx\"\ndir = \"/d\"").expect("idx"),
            ImageSource::Idx {
                dir: "/d".into(),
                split: Split::Train
            }
        );
        assert_eq!(
            parse("kind = \"cifar10\"\ndir = \"c\"\nsplit = \"train\"").expect("cifar"),
            ImageSource::Cifar10 {
                dir: "c".into(),
                split: Split::Train
            }
        );
        assert_eq!(
            parse("kind = \"digits\"").expect("digits"),
            ImageSource::Digits
        );
        let err = parse("kind = \"folder\"\ndir = \"f\"\nsize = 32\nchannels = 3\nsise = 1")
            .expect_err("unknown field");
        assert!(err.to_string().contains("sise"), "{err}");
        let source = ImageSource::Folder {
            dir: "x/faces".into(),
            size: 32,
            channels: 3,
        };
        let back: ImageSource =
            toml::from_str(&toml::to_string(&source).expect("ser")).expect("de");
        assert_eq!(back, source);
        assert_eq!(source.label(), "faces 32×32");
    }
}
