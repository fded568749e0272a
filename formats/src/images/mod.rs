//! Image data formats: an in-memory [`ImageSet`] and the decoders it is read from —
//! scikit-learn's 8×8 digits CSV, MNIST-format IDX files (Fashion-MNIST), CIFAR-10 binary
//! batches, and PNG/JPEG files in a folder. Every decoder checks sizes against [`crate::limits`]
//! before allocating, and names the file and byte offset of what is wrong.
//!
//! Pixels are stored NCHW, row-major, scaled to `[-1, 1]` (the darkest value of the format is
//! `-1`, the brightest `1`).

mod bytes;
pub mod cifar;
pub mod digits;
mod error;
pub mod folder;
pub mod idx;

pub use error::ImageDataError;

use serde::{Deserialize, Serialize};

/// Where the Debian package `dataset-fashion-mnist` installs Fashion-MNIST.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Images of one size, with optional class labels, in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageSet {
    /// A short name for logs and the UI.
    pub name: String,
    /// Channels per image (1 or 3).
    pub channels: usize,
    /// Image height in pixels.
    pub height: usize,
    /// Image width in pixels.
    pub width: usize,
    /// All images, NCHW row-major, scaled to `[-1, 1]`.
    pub pixels: Vec<f32>,
    /// One label per image in `0..classes`; empty for unlabelled data.
    pub labels: Vec<u8>,
    /// Number of classes; 0 for unlabelled data.
    pub classes: usize,
}

impl ImageSet {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.pixels.len().checked_div(self.dim()).unwrap_or(0)
    }

    /// Whether the set holds no image.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Values per image: `channels × height × width`.
    pub fn dim(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// The pixels of image `i`, CHW row-major.
    ///
    /// # Panics
    /// When `i >= self.len()`.
    pub fn image(&self, i: usize) -> &[f32] {
        let d = self.dim();
        &self.pixels[i * d..(i + 1) * d]
    }

    /// The images padded to `size × size` with background (`-1`), each image centred, labels
    /// kept; an odd margin puts the extra row (column) at the bottom (right). 28×28 → 32×32 adds
    /// 2 on each side. Images already `size × size` come back unchanged.
    pub fn pad_to(&self, size: usize) -> Result<Self, ImageDataError> {
        let planes = self.len() * self.channels;
        let too_large = crate::limits::at_most("pad", size, crate::limits::MAX_IMAGE_SIDE)
            .map_err(|e| e.message)
            .and_then(|()| {
                crate::limits::fits("the padded images", (planes * size * size) as u128, 4)
            });
        if let Err(message) = too_large {
            return Err(ImageDataError::Limit {
                path: self.name.clone().into(),
                message: format!("padding to {size}×{size}: {message}"),
            });
        }
        if self.height > size || self.width > size {
            return Err(ImageDataError::PadTooSmall {
                name: self.name.clone(),
                height: self.height,
                width: self.width,
                size,
            });
        }
        let (top, left) = ((size - self.height) / 2, (size - self.width) / 2);
        let mut pixels = vec![-1.0f32; planes * size * size];
        let rows_in = self.pixels.chunks_exact(self.width.max(1));
        for (r, row) in rows_in.enumerate() {
            let (plane, y) = (r / self.height, r % self.height);
            let start = (plane * size + top + y) * size + left;
            pixels[start..start + self.width].copy_from_slice(row);
        }
        Ok(Self {
            height: size,
            width: size,
            pixels,
            labels: self.labels.clone(),
            ..self.clone_meta()
        })
    }

    /// The images at `indices` (in that order, repeats allowed), with their labels.
    ///
    /// # Panics
    /// When an index is `>= self.len()`.
    pub fn subset(&self, indices: &[usize]) -> Self {
        let mut pixels = Vec::with_capacity(indices.len() * self.dim());
        for &i in indices {
            pixels.extend_from_slice(self.image(i));
        }
        let labels = if self.labels.is_empty() {
            Vec::new()
        } else {
            indices.iter().map(|&i| self.labels[i]).collect()
        };
        Self {
            pixels,
            labels,
            ..self.clone_meta()
        }
    }

    /// Images per class, indexed by label (empty for unlabelled data).
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes];
        for &l in &self.labels {
            if let Some(c) = counts.get_mut(usize::from(l)) {
                *c += 1;
            }
        }
        counts
    }

    /// Everything but the pixels and labels.
    fn clone_meta(&self) -> Self {
        Self {
            name: self.name.clone(),
            channels: self.channels,
            height: self.height,
            width: self.width,
            pixels: Vec::new(),
            labels: Vec::new(),
            classes: self.classes,
        }
    }
}

/// Scales an integer pixel in `0..=max` to `[-1, 1]`.
fn scale(v: u8, max: f32) -> f32 {
    f32::from(v) / max * 2.0 - 1.0
}

/// One of the two splits of a data set that has them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// The training split.
    #[default]
    Train,
    /// The test split.
    Test,
}

impl Split {
    /// `"train"` or `"test"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Train => "train",
            Self::Test => "test",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two 1-channel 2×3 images with values 0..12 (not in [-1, 1]: easy to follow).
    fn two_small() -> ImageSet {
        ImageSet {
            name: "t".into(),
            channels: 1,
            height: 2,
            width: 3,
            pixels: (0..12).map(|v| v as f32).collect(),
            labels: vec![1, 0],
            classes: 3,
        }
    }

    #[test]
    fn accessors_count_and_slice() {
        let s = two_small();
        assert_eq!((s.len(), s.dim(), s.is_empty()), (2, 6, false));
        assert_eq!(s.image(1), &[6.0, 7.0, 8.0, 9.0, 10.0, 11.0]);
        assert_eq!(s.class_counts(), vec![1, 1, 0]);
    }

    #[test]
    fn subset_keeps_order_and_labels() {
        let s = two_small().subset(&[1, 1, 0]);
        assert_eq!(s.len(), 3);
        assert_eq!(s.labels, vec![0, 0, 1]);
        assert_eq!(s.image(2), &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(s.class_counts(), vec![2, 1, 0]);
    }

    #[test]
    fn pad_to_28_to_32_centres_the_image() {
        // Two 2-channel 28×28 images, every value distinct and ≥ 0.
        let (c, n, h) = (2, 2, 28);
        let s = ImageSet {
            name: "p".into(),
            channels: c,
            height: h,
            width: h,
            pixels: (0..n * c * h * h).map(|v| v as f32).collect(),
            labels: vec![7, 3],
            classes: 10,
        };
        let p = s.pad_to(32).expect("pad");
        assert_eq!((p.len(), p.channels, p.height, p.width), (2, 2, 32, 32));
        assert_eq!((p.labels.clone(), p.classes), (vec![7, 3], 10));
        assert_eq!(p.pixels.len(), 2 * 2 * 32 * 32);
        for i in 0..n {
            let img = p.image(i);
            for ch in 0..c {
                for y in 0..32 {
                    for x in 0..32 {
                        let v = img[(ch * 32 + y) * 32 + x];
                        let inside = (2..30).contains(&y) && (2..30).contains(&x);
                        let want = if inside {
                            s.image(i)[(ch * 28 + y - 2) * 28 + x - 2]
                        } else {
                            -1.0
                        };
                        assert_eq!(v, want, "image {i} channel {ch} at ({y}, {x})");
                    }
                }
            }
        }
        // Exactly 32² − 28² = 240 background values per plane.
        assert_eq!(p.pixels.iter().filter(|&&v| v == -1.0).count(), 4 * 240);
    }

    #[test]
    fn pad_to_odd_margin_and_too_small() {
        let s = two_small();
        let p = s.pad_to(4).expect("pad");
        // 2×3 in 4×4: top 1, left 0.
        #[rustfmt::skip]
        let want = [
            -1.0, -1.0, -1.0, -1.0,
             0.0,  1.0,  2.0, -1.0,
             3.0,  4.0,  5.0, -1.0,
            -1.0, -1.0, -1.0, -1.0,
        ];
        assert_eq!(p.image(0), &want);
        let msg = s.pad_to(1 << 40).expect_err("absurd").to_string();
        assert_eq!(
            msg,
            "t: padding to 1099511627776×1099511627776: is 1099511627776; at most 4096 is \
             supported"
        );
        let err = s.pad_to(2).expect_err("3 wide does not fit in 2");
        assert_eq!(
            err.to_string(),
            "t: images are 2×3, larger than the padded size 2×2; pad to at least 3"
        );
    }
}
