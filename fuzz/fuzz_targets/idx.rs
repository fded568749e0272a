//! MNIST-format IDX files, raw or gzipped: the same bytes as an images file and as a labels
//! file either decode consistently or are refused.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sim_formats::images::idx;

fuzz_target!(|data: &[u8]| {
    if let Ok((rows, cols, pixels)) = idx::images_from(Path::new("fuzz-idx3-ubyte"), data.to_vec())
    {
        assert!(rows >= 1 && cols >= 1 && pixels.len() % (rows * cols) == 0);
        assert!(pixels.iter().all(|v| (-1.0..=1.0).contains(v)));
    }
    if let Ok(labels) = idx::labels_from(Path::new("fuzz-idx1-ubyte"), data.to_vec()) {
        assert!(labels.iter().all(|&l| l < 10));
    }
});
