//! scikit-learn's handwritten digits: 1,797 8×8 images, pixels 0..16, 10 classes (shipped in
//! `assets/digits/` and embedded in the engine; see `assets/README.md` for provenance and licence).
//!
//! The file is a gzipped CSV: one image per line, 64 pixel values (row-major), then the label.

use std::path::Path;

use super::bytes::Bytes;
use super::{ImageDataError, ImageSet, scale};
use crate::limits;

/// Image side.
const SIDE: usize = 8;
/// Brightest pixel value (4×4 blocks of a 32×32 bitmap, counted).
const MAX_PIXEL: u8 = 16;
/// Classes: the digits 0..9.
const CLASSES: usize = 10;

/// Reads the digits from `raw`, the gzipped CSV as shipped by scikit-learn
/// (`sklearn/datasets/data/digits.csv.gz`); `path` names it in errors.
pub fn load(path: &Path, raw: &[u8]) -> Result<ImageSet, ImageDataError> {
    let mut bytes = Bytes::from_raw(path, raw.to_vec());
    bytes.read_all(limits::max_bytes(), "half of this machine's memory")?;
    let text = std::str::from_utf8(bytes.data())
        .map_err(|e| bytes.header_error(e.valid_up_to(), "not UTF-8 text".into()))?;
    parse(path, text)
}

/// Parses the CSV text of `path`.
fn parse(path: &Path, text: &str) -> Result<ImageSet, ImageDataError> {
    let fields = SIDE * SIDE + 1;
    let mut set = ImageSet {
        name: String::new(),
        channels: 1,
        height: SIDE,
        width: SIDE,
        pixels: Vec::new(),
        labels: Vec::new(),
        classes: CLASSES,
    };
    for (l, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let err = |column: usize, message: String| ImageDataError::Csv {
            path: path.to_path_buf(),
            line: l + 1,
            column,
            message,
        };
        let values: Vec<&str> = line.split(',').map(str::trim).collect();
        if values.len() != fields {
            return Err(err(
                values.len().min(fields + 1),
                format!(
                    "expected {fields} values (64 pixels, then the label), found {}",
                    values.len()
                ),
            ));
        }
        for (c, v) in values.iter().enumerate() {
            let (max, what) = if c + 1 < fields {
                (MAX_PIXEL, "a pixel")
            } else {
                (CLASSES as u8 - 1, "the label")
            };
            let v =
                v.parse::<u8>().ok().filter(|&v| v <= max).ok_or_else(|| {
                    err(c + 1, format!("`{v}` is not {what}: expected 0..={max}"))
                })?;
            if c + 1 < fields {
                set.pixels.push(scale(v, f32::from(MAX_PIXEL)));
            } else {
                set.labels.push(v);
            }
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_digits_load() {
        let raw = include_bytes!("../../../assets/digits/digits.csv.gz");
        let set = load(Path::new("digits.csv.gz"), raw).expect("shipped digits");
        assert_eq!(
            (set.len(), set.channels, set.height, set.width),
            (1797, 1, 8, 8)
        );
        assert_eq!(set.classes, 10);
        assert_eq!(
            set.class_counts(),
            vec![178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
        );
        let min = set.pixels.iter().copied().fold(f32::INFINITY, f32::min);
        let max = set.pixels.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        assert_eq!((min, max), (-1.0, 1.0));
        // First image (a 0), first row: 0,0,5,13,9,1,0,0 in 0..16.
        let want: Vec<f32> = [0u8, 0, 5, 13, 9, 1, 0, 0]
            .iter()
            .map(|&v| f32::from(v) / 8.0 - 1.0)
            .collect();
        assert_eq!(&set.image(0)[..8], &want[..]);
        assert_eq!(&set.labels[..3], &[0, 1, 2]);
        // Every value is one of the 17 levels k/8 − 1.
        assert!(set.pixels.iter().all(|&v| ((v + 1.0) * 8.0).fract() == 0.0));
    }

    #[test]
    fn bad_csv_names_line_and_column() {
        let line = |pixel: &str, label: &str| {
            let mut v = vec!["0"; 64];
            v[10] = pixel;
            format!("{},{label}\n", v.join(","))
        };
        let path = Path::new("d.csv");
        let good = line("16", "9");
        let set = parse(path, &format!("{good}\n{good}")).expect("two good lines, one blank");
        assert_eq!((set.len(), set.labels.clone()), (2, vec![9, 9]));
        assert_eq!(set.image(1)[10], 1.0);

        let text = format!("{good}{}", line("17", "3"));
        let msg = parse(path, &text).expect_err("pixel 17").to_string();
        assert_eq!(
            msg,
            "d.csv: line 2, column 11: `17` is not a pixel: expected 0..=16"
        );
        let msg = parse(path, &line("x", "3"))
            .expect_err("pixel x")
            .to_string();
        assert_eq!(
            msg,
            "d.csv: line 1, column 11: `x` is not a pixel: expected 0..=16"
        );
        let msg = parse(path, &line("1", "10"))
            .expect_err("label")
            .to_string();
        assert_eq!(
            msg,
            "d.csv: line 1, column 65: `10` is not the label: expected 0..=9"
        );
        let msg = parse(path, "1,2,3\n").expect_err("short").to_string();
        assert_eq!(
            msg,
            "d.csv: line 1, column 3: expected 65 values (64 pixels, then the label), found 3"
        );
    }
}
