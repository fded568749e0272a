//! Property tests of every decoder on random and mutated bytes: whatever the input, a decoder
//! returns (never panics, never hangs, never allocates past the limits), and what it accepts is
//! consistent — sizes that agree, pixels in `[-1, 1]`, labels in range, tensors finite.

use std::io::Write;
use std::path::Path;

use proptest::prelude::*;
use sim_formats::images::{cifar, digits, folder, idx};
use sim_formats::tensors;

/// Bytes gzipped.
fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("write");
    e.finish().expect("finish")
}

/// A valid IDX images file of `n` images of `rows × cols`.
fn idx_images(n: u32, rows: u32, cols: u32, seed: u8) -> Vec<u8> {
    let mut out = vec![0, 0, 8, 3];
    for d in [n, rows, cols] {
        out.extend(d.to_be_bytes());
    }
    out.extend((0..n * rows * cols).map(|i| (i as u8).wrapping_mul(seed)));
    out
}

/// A valid IDX labels file.
fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 8, 1];
    out.extend((labels.len() as u32).to_be_bytes());
    out.extend(labels.iter().map(|l| l % 10));
    out
}

/// A valid safetensors file of small F32 tensors.
fn safetensors_file(shapes: &[Vec<usize>]) -> Vec<u8> {
    let values: Vec<Vec<f32>> = shapes
        .iter()
        .map(|s| {
            (0..s.iter().product::<usize>())
                .map(|i| i as f32 * 0.5)
                .collect()
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = shapes
        .iter()
        .zip(&values)
        .enumerate()
        .map(|(i, (shape, v))| {
            let bytes: &[u8] = bytemuck::cast_slice(v);
            let view = safetensors::tensor::TensorView::new(
                safetensors::tensor::Dtype::F32,
                shape.clone(),
                bytes,
            )
            .expect("view");
            (format!("t{i}"), view)
        })
        .collect();
    safetensors::serialize(views, None).expect("serialize")
}

/// A valid PNG of `w × h` grey pixels.
fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::GrayImage::from_fn(w, h, |x, y| image::Luma([(x * 7 + y * 3) as u8]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("png");
    out.into_inner()
}

/// Applies byte edits: `(position, value)` overwrites, then a cut to `keep` bytes when shorter.
fn mutate(mut bytes: Vec<u8>, edits: &[(usize, u8)], keep: usize) -> Vec<u8> {
    if !bytes.is_empty() {
        for &(at, v) in edits {
            let n = bytes.len();
            bytes[at % n] = v;
        }
    }
    bytes.truncate(keep.max(1));
    bytes
}

fn in_unit_range(pixels: &[f32]) -> bool {
    pixels.iter().all(|v| (-1.0..=1.0).contains(v))
}

fn edits() -> impl Strategy<Value = Vec<(usize, u8)>> {
    proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn idx_images_random_and_mutated(
        n in 1u32..6, rows in 1u32..9, cols in 1u32..9, seed: u8,
        edits in edits(), keep in 0usize..400, zip: bool, noise in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let path = Path::new("x-idx3-ubyte");
        let valid = idx_images(n, rows, cols, seed);
        let (r, c, pixels) = idx::images_from(path, valid.clone()).expect("a valid file loads");
        prop_assert_eq!((r, c, pixels.len()), (rows as usize, cols as usize, (n * rows * cols) as usize));
        for bytes in [mutate(valid, &edits, keep), noise] {
            let bytes = if zip { gz(&bytes) } else { bytes };
            if let Ok((r, c, pixels)) = idx::images_from(path, bytes) {
                prop_assert!(r >= 1 && c >= 1 && pixels.len() % (r * c) == 0);
                prop_assert!(in_unit_range(&pixels));
            }
        }
    }

    #[test]
    fn idx_labels_random_and_mutated(
        labels in proptest::collection::vec(any::<u8>(), 1..50),
        edits in edits(), keep in 0usize..80, noise in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let path = Path::new("x-idx1-ubyte");
        let valid = idx_labels(&labels);
        prop_assert_eq!(idx::labels_from(path, valid.clone()).expect("valid").len(), labels.len());
        for bytes in [mutate(valid, &edits, keep), noise] {
            if let Ok(read) = idx::labels_from(path, bytes) {
                prop_assert!(!read.is_empty() && read.iter().all(|&l| l < 10));
            }
        }
    }

    #[test]
    fn cifar_batches_random_and_mutated(
        records in 1usize..4, edits in edits(), cut in 0usize..3073, zip: bool,
    ) {
        let path = Path::new("data_batch_1.bin");
        let valid: Vec<u8> = (0..records * 3073)
            .map(|i| if i % 3073 == 0 { (i / 3073 % 10) as u8 } else { (i % 251) as u8 })
            .collect();
        let keep = valid.len() - cut;
        let bytes = mutate(valid, &edits, keep);
        let bytes = if zip { gz(&bytes) } else { bytes };
        let mut set = cifar::empty_set();
        if cifar::batch_from(path, bytes, &mut set).is_ok() {
            prop_assert_eq!(set.pixels.len(), set.labels.len() * 3072);
            prop_assert!(set.labels.iter().all(|&l| l < 10) && in_unit_range(&set.pixels));
        }
    }

    #[test]
    fn png_and_jpeg_random_and_mutated(
        w in 1u32..24, h in 1u32..24, side in 1u32..16, grey: bool,
        edits in edits(), keep in 0usize..2000, noise in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let path = Path::new("x.png");
        let channels = if grey { 1 } else { 3 };
        let valid = png(w, h);
        let mut pixels = Vec::new();
        folder::decode(path, &valid, side, channels, &mut pixels).expect("a valid PNG decodes");
        prop_assert_eq!(pixels.len(), channels * (side * side) as usize);
        for bytes in [mutate(valid, &edits, keep), noise] {
            let mut pixels = Vec::new();
            if folder::decode(path, &bytes, side, channels, &mut pixels).is_ok() {
                prop_assert_eq!(pixels.len(), channels * (side * side) as usize);
                prop_assert!(in_unit_range(&pixels));
            }
        }
    }

    #[test]
    fn digits_csv_random_and_mutated(
        lines in 1usize..4, edits in edits(), keep in 0usize..600, zip: bool,
    ) {
        let line: String = (0..64).map(|i| (i % 17).to_string()).chain(["3".into()]).collect::<Vec<_>>().join(",");
        let text = vec![line; lines].join("\n").into_bytes();
        let bytes = mutate(text, &edits, keep);
        let bytes = if zip { gz(&bytes) } else { bytes };
        if let Ok(set) = digits::load(Path::new("d.csv"), &bytes) {
            prop_assert_eq!(set.pixels.len(), set.labels.len() * 64);
            prop_assert!(in_unit_range(&set.pixels) && set.labels.iter().all(|&l| l < 10));
        }
    }

    #[test]
    fn safetensors_random_and_mutated(
        shapes in proptest::collection::vec(proptest::collection::vec(1usize..4, 0..3), 0..4),
        edits in edits(), keep in 0usize..600, noise in proptest::collection::vec(any::<u8>(), 0..128),
    ) {
        let valid = safetensors_file(&shapes);
        prop_assert_eq!(tensors::parse(&valid).expect("valid").tensors.len(), shapes.len());
        for bytes in [mutate(valid, &edits, keep), noise] {
            if let Ok(file) = tensors::parse(&bytes) {
                for (shape, values) in file.tensors.values() {
                    prop_assert_eq!(shape.iter().product::<usize>(), values.len());
                    prop_assert!(values.iter().all(|v| v.is_finite()));
                }
            }
        }
    }
}
