//! MNIST-format IDX files: a big-endian header (magic `0x00000803` and `[n, rows, cols]` for
//! images, `0x00000801` and `[n]` for labels), then one unsigned byte per pixel or label. Files
//! may be gzipped (recognised by the gzip magic, not the name).

use std::path::{Path, PathBuf};

use super::bytes::Bytes;
use super::{ImageDataError, ImageSet, Split, scale};
use crate::limits;

/// Magic number of an IDX file of unsigned bytes with three dimensions (images).
const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with one dimension (labels).
const LABELS_MAGIC: u32 = 0x0000_0801;
/// Classes of the MNIST family (MNIST, Fashion-MNIST, KMNIST).
const CLASSES: usize = 10;

/// Loads one split of IDX images and labels from `dir`; `hint` says how to get the files when
/// they are missing.
pub fn load(dir: &Path, split: Split, hint: &str) -> Result<ImageSet, ImageDataError> {
    let prefix = match split {
        Split::Train => "train",
        Split::Test => "t10k",
    };
    let what = |kind: &str| format!("{} {kind}", split.name());
    let images_path = find(
        dir,
        &format!("{prefix}-images"),
        "idx3",
        &what("images"),
        hint,
    )?;
    let labels_path = find(
        dir,
        &format!("{prefix}-labels"),
        "idx1",
        &what("labels"),
        hint,
    )?;
    let (rows, cols, pixels) = parse_images(Bytes::read(&images_path)?)?;
    let labels = parse_labels(Bytes::read(&labels_path)?)?;
    let n_images = pixels.len() / (rows * cols);
    if n_images != labels.len() {
        return Err(ImageDataError::CountMismatch {
            images: images_path,
            n_images,
            labels: labels_path,
            n_labels: labels.len(),
        });
    }
    Ok(ImageSet {
        name: String::new(),
        channels: 1,
        height: rows,
        width: cols,
        pixels,
        labels,
        classes: CLASSES,
    })
}

/// The first existing file among the spellings of `stem` (`train-images`) and `idx` (`idx3`):
/// `train-images-idx3-ubyte.gz`, `train-images-idx3-ubyte`, `train-images.idx3-ubyte.gz`,
/// `train-images.idx3-ubyte`.
fn find(
    dir: &Path,
    stem: &str,
    idx: &str,
    what: &str,
    hint: &str,
) -> Result<PathBuf, ImageDataError> {
    let names: Vec<String> = ['-', '.']
        .iter()
        .flat_map(|sep| {
            let base = format!("{stem}{sep}{idx}-ubyte");
            [format!("{base}.gz"), base]
        })
        .collect();
    names
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| ImageDataError::Missing {
            dir: dir.to_path_buf(),
            what: what.to_string(),
            looked_for: names.clone(),
            hint: hint.to_string(),
        })
}

/// Checks the magic number at byte 0.
fn magic(bytes: &mut Bytes, expected: u32, what: &str) -> Result<(), ImageDataError> {
    let found = bytes.u32_be("the magic number")?;
    if found == expected {
        return Ok(());
    }
    Err(ImageDataError::BadMagic {
        path: bytes.path().to_path_buf(),
        gzip: bytes.gzip(),
        found,
        expected,
        what: what.to_string(),
    })
}

/// Reads a header dimension that must be in `1..=max`.
fn dimension(bytes: &mut Bytes, what: &str, max: usize) -> Result<usize, ImageDataError> {
    let at = bytes.pos();
    let v = bytes.u32_be(&format!("the header's {what}"))? as usize;
    match v {
        0 => Err(bytes.header_error(at, format!("the header declares 0 {what}"))),
        v if v > max => Err(bytes.header_error(
            at,
            format!("the header declares {v} {what}; at most {max} are supported"),
        )),
        v => Ok(v),
    }
}

/// Parses the bytes of an images file (`path` names it in errors; gzipped or not):
/// `(rows, cols, pixels scaled to [-1, 1])`.
pub fn images_from(path: &Path, raw: Vec<u8>) -> Result<(usize, usize, Vec<f32>), ImageDataError> {
    parse_images(Bytes::from_raw(path, raw))
}

/// Parses the bytes of a labels file (`path` names it in errors; gzipped or not).
pub fn labels_from(path: &Path, raw: Vec<u8>) -> Result<Vec<u8>, ImageDataError> {
    parse_labels(Bytes::from_raw(path, raw))
}

/// Parses an images file: `(rows, cols, pixels scaled to [-1, 1])`. The pixels are checked
/// against the file's length (a header cannot promise more than the file holds) and against
/// [`limits::fits`] (four bytes of `f32` per byte read) before they are allocated; a gzip
/// stream is checked against the limit first and then inflated by what its header declares and
/// one byte, never further.
fn parse_images(mut bytes: Bytes) -> Result<(usize, usize, Vec<f32>), ImageDataError> {
    magic(
        &mut bytes,
        IMAGES_MAGIC,
        "IDX images: unsigned bytes, 3 dimensions",
    )?;
    let n = dimension(&mut bytes, "images", u32::MAX as usize)?;
    let rows = dimension(&mut bytes, "rows", limits::MAX_IMAGE_SIDE)?;
    let cols = dimension(&mut bytes, "columns", limits::MAX_IMAGE_SIDE)?;
    let size = rows * cols;
    let path = bytes.path().to_path_buf();
    let fits = limits::fits(
        &format!("its {n} images of {rows}×{cols} pixels as f32"),
        (n as u128) * (size as u128),
        4,
    );
    // A plain file's length bounds what it holds, so a short one is reported as truncated; a
    // gzip stream is not inflated for data that could not be kept.
    if bytes.gzip()
        && let Err(message) = &fits
    {
        return Err(ImageDataError::Limit {
            path,
            message: message.clone(),
        });
    }
    let data = bytes.records(n, size, |i| format!("image {i} of {n}"))?;
    fits.map_err(|message| ImageDataError::Limit { path, message })?;
    let pixels = data.iter().map(|&v| scale(v, 255.0)).collect();
    bytes.finish(|| format!("{n} images of {rows}×{cols}"))?;
    Ok((rows, cols, pixels))
}

/// Parses a labels file; every label must be below [`CLASSES`].
fn parse_labels(mut bytes: Bytes) -> Result<Vec<u8>, ImageDataError> {
    magic(
        &mut bytes,
        LABELS_MAGIC,
        "IDX labels: unsigned bytes, 1 dimension",
    )?;
    let n = dimension(&mut bytes, "labels", u32::MAX as usize)?;
    let start = bytes.pos();
    let labels = bytes
        .records(n, 1, |i| format!("label {i} of {n}"))?
        .to_vec();
    if let Some(i) = labels.iter().position(|&l| usize::from(l) >= CLASSES) {
        return Err(ImageDataError::LabelOutOfRange {
            path: bytes.path().to_path_buf(),
            gzip: bytes.gzip(),
            offset: (start + i) as u64,
            label: u32::from(labels[i]),
            classes: CLASSES,
        });
    }
    bytes.finish(|| format!("{n} labels"))?;
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// An IDX images file of `n` images `rows × cols` with pixel `(i, p) ↦ (i·7 + p) mod 256`.
    fn images_file(n: u32, rows: u32, cols: u32) -> Vec<u8> {
        let mut out = Vec::new();
        for v in [IMAGES_MAGIC, n, rows, cols] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        let size = (rows * cols) as usize;
        for i in 0..n as usize {
            out.extend((0..size).map(|p| ((i * 7 + p) % 256) as u8));
        }
        out
    }

    fn labels_file(labels: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
        out.extend_from_slice(&(labels.len() as u32).to_be_bytes());
        out.extend_from_slice(labels);
        out
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).expect("write");
        e.finish().expect("finish")
    }

    fn write(dir: &Path, name: &str, data: &[u8]) {
        std::fs::write(dir.join(name), data).expect("write test file");
    }

    #[test]
    fn raw_idx_decodes_exact_pixels_and_labels() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "train-images-idx3-ubyte", &images_file(3, 4, 5));
        write(
            dir.path(),
            "train-labels-idx1-ubyte",
            &labels_file(&[9, 0, 4]),
        );
        let set = load(dir.path(), Split::Train, "").expect("load");
        assert_eq!(
            (set.len(), set.channels, set.height, set.width),
            (3, 1, 4, 5)
        );
        assert_eq!(set.labels, vec![9, 0, 4]);
        assert_eq!(set.classes, 10);
        assert_eq!(set.class_counts(), vec![1, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
        // Image 2, pixel 3 holds byte 17.
        assert_eq!(set.image(2)[3], 17.0 / 255.0 * 2.0 - 1.0);
        assert_eq!(set.image(0)[0], -1.0);
        for (k, &v) in set.pixels.iter().enumerate() {
            let (i, p) = (k / 20, k % 20);
            assert_eq!(v, scale(((i * 7 + p) % 256) as u8, 255.0));
        }
    }

    #[test]
    fn gzipped_idx_with_dot_spelling_decodes() {
        let dir = tempfile::tempdir().expect("tempdir");
        // 256 pixels per image: every byte value 0..=255 once, so both ends of the range show.
        // The names lack `.gz`: gzip is recognised by its magic.
        write(
            dir.path(),
            "t10k-images.idx3-ubyte",
            &gz(&images_file(2, 16, 16)),
        );
        write(
            dir.path(),
            "t10k-labels.idx1-ubyte",
            &gz(&labels_file(&[3, 3])),
        );
        let set = load(dir.path(), Split::Test, "").expect("load");
        assert_eq!((set.len(), set.height, set.width), (2, 16, 16));
        assert_eq!(set.labels, vec![3, 3]);
        let min = set.pixels.iter().copied().fold(f32::INFINITY, f32::min);
        let max = set.pixels.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        assert_eq!((min, max), (-1.0, 1.0));
        // Image 1 starts at byte 7 → 7/255·2 − 1.
        assert_eq!(set.image(1)[0], scale(7, 255.0));
    }

    #[test]
    fn truncated_images_name_file_offset_and_image() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut data = images_file(10, 28, 28);
        data.truncate(16 + 9 * 784 + 100);
        write(dir.path(), "train-images-idx3-ubyte", &data);
        write(
            dir.path(),
            "train-labels-idx1-ubyte",
            &labels_file(&[0; 10]),
        );
        let err = load(dir.path(), Split::Train, "").expect_err("truncated");
        let msg = err.to_string();
        assert!(matches!(
            err,
            ImageDataError::Truncated {
                offset: 7172,
                missing: 684,
                ..
            }
        ));
        assert!(
            msg.contains("train-images-idx3-ubyte: truncated at byte 7172: "),
            "{msg}"
        );
        assert!(
            msg.contains("expected 684 more bytes of image 9 of 10"),
            "{msg}"
        );

        // The same cut inside a gzip stream counts decompressed bytes and says so.
        write(dir.path(), "train-images-idx3-ubyte", &gz(&data));
        let msg = load(dir.path(), Split::Train, "")
            .expect_err("truncated")
            .to_string();
        assert!(
            msg.contains("truncated at byte 7172 (after gunzip): expected 684"),
            "{msg}"
        );
    }

    #[test]
    fn bad_magic_and_swapped_files_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        // The labels file where the images file should be.
        write(dir.path(), "train-images-idx3-ubyte", &labels_file(&[1, 2]));
        write(dir.path(), "train-labels-idx1-ubyte", &labels_file(&[1, 2]));
        let msg = load(dir.path(), Split::Train, "")
            .expect_err("bad magic")
            .to_string();
        assert!(
            msg.contains("train-images-idx3-ubyte: bad magic number 0x00000801 at byte 0: expected 0x00000803"),
            "{msg}"
        );
    }

    #[test]
    fn count_mismatch_and_label_range_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "train-images-idx3-ubyte", &images_file(3, 2, 2));
        write(dir.path(), "train-labels-idx1-ubyte", &labels_file(&[1, 2]));
        let err = load(dir.path(), Split::Train, "").expect_err("mismatch");
        assert!(matches!(
            err,
            ImageDataError::CountMismatch {
                n_images: 3,
                n_labels: 2,
                ..
            }
        ));
        assert!(err.to_string().contains("holds 3 images but"), "{err}");

        write(
            dir.path(),
            "train-labels-idx1-ubyte",
            &labels_file(&[1, 12, 2]),
        );
        let msg = load(dir.path(), Split::Train, "")
            .expect_err("label")
            .to_string();
        assert!(
            msg.contains("train-labels-idx1-ubyte: byte 9: label 12 is out of range 0..10"),
            "{msg}"
        );

        let mut long = labels_file(&[1, 2, 3]);
        long.push(0);
        write(dir.path(), "train-labels-idx1-ubyte", &long);
        let msg = load(dir.path(), Split::Train, "")
            .expect_err("trailing")
            .to_string();
        assert!(msg.contains("1 unexpected bytes from byte 11 on"), "{msg}");
    }

    #[test]
    fn missing_files_list_the_names_tried() {
        let dir = tempfile::tempdir().expect("tempdir");
        let msg = load(dir.path(), Split::Test, "get them")
            .expect_err("missing")
            .to_string();
        assert!(
            msg.ends_with(
                "no test images found; looked for t10k-images-idx3-ubyte.gz, \
                 t10k-images-idx3-ubyte, t10k-images.idx3-ubyte.gz, t10k-images.idx3-ubyte; \
                 get them"
            ),
            "{msg}"
        );
    }

    #[test]
    fn fashion_mnist_if_installed() {
        let dir = Path::new(super::super::FASHION_MNIST_DIR);
        if !dir.is_dir() {
            eprintln!(
                "skipped: {} is absent (apt install dataset-fashion-mnist)",
                dir.display()
            );
            return;
        }
        for (split, n) in [(Split::Train, 60_000), (Split::Test, 10_000)] {
            let set = load(dir, split, "").expect("Fashion-MNIST loads");
            let counts = set.class_counts();
            let min = set.pixels.iter().copied().fold(f32::INFINITY, f32::min);
            let max = set.pixels.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mean =
                set.pixels.iter().map(|&v| f64::from(v)).sum::<f64>() / set.pixels.len() as f64;
            eprintln!(
                "Fashion-MNIST {}: {} images {}×{}×{}, {} classes, counts {counts:?}, \
                 pixels [{min}, {max}], mean {mean:.4}",
                split.name(),
                set.len(),
                set.channels,
                set.height,
                set.width,
                set.classes
            );
            assert_eq!(
                (set.len(), set.channels, set.height, set.width),
                (n, 1, 28, 28)
            );
            assert_eq!(counts, vec![n / 10; 10]);
            assert_eq!((min, max), (-1.0, 1.0));
        }
    }

    /// A gzip bomb behind a small header: 64 MiB of zeros after two 4×4 images compress to
    /// ~64 KiB; the stream is inflated by the 48 bytes the header declares and one more, then
    /// refused with the declared size named. A header that declares more than could be kept is
    /// refused before anything is inflated.
    #[test]
    fn a_gzip_bomb_is_refused_after_the_declared_size() {
        let mut data = images_file(2, 4, 4);
        data.extend(vec![0u8; 64 << 20]);
        let packed = gz(&data);
        assert!(packed.len() < 1 << 20, "{} bytes compressed", packed.len());
        let msg = images_from(Path::new("bomb-idx3-ubyte"), packed)
            .expect_err("data after the declared images")
            .to_string();
        assert_eq!(
            msg,
            "bomb-idx3-ubyte: more bytes from byte 48 (after gunzip) on, after the 48 bytes the \
             header declares (2 images of 4×4); the header does not match the data — the file \
             is damaged"
        );
        let mut huge = Vec::new();
        for v in [IMAGES_MAGIC, 4_000_000_000, 4096, 4096] {
            huge.extend_from_slice(&v.to_be_bytes());
        }
        huge.extend(vec![0u8; 1 << 20]);
        let msg = images_from(Path::new("huge-idx3-ubyte"), gz(&huge))
            .expect_err("more than memory holds")
            .to_string();
        assert!(
            msg.starts_with(
                "huge-idx3-ubyte: its 4000000000 images of 4096×4096 pixels as f32 would take"
            ),
            "{msg}"
        );
        // A stream shorter than its header declares is truncated, counted in inflated bytes.
        let short = gz(&images_file(3, 4, 4)[..16 + 40]);
        let msg = images_from(Path::new("short-idx3-ubyte"), short)
            .expect_err("short")
            .to_string();
        assert!(
            msg.contains(
                "truncated at byte 56 (after gunzip): expected 8 more bytes of image 2 of 3"
            ),
            "{msg}"
        );
    }

    #[test]
    fn header_sides_beyond_the_limit_are_refused() {
        let mut raw = images_file(1, 2, 2);
        raw[8..12].copy_from_slice(&5000u32.to_be_bytes());
        let msg = images_from(Path::new("big-idx3-ubyte"), raw)
            .expect_err("5000 rows")
            .to_string();
        assert_eq!(
            msg,
            "big-idx3-ubyte: byte 8: the header declares 5000 rows; at most 4096 are supported"
        );
    }
}
