//! CIFAR-10 binary batches, raw or gzipped: whole records with labels 0..9, or refused.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sim_formats::images::cifar;

fuzz_target!(|data: &[u8]| {
    let mut set = cifar::empty_set();
    if cifar::batch_from(Path::new("data_batch_1.bin"), data.to_vec(), &mut set).is_ok() {
        assert_eq!(set.pixels.len(), set.labels.len() * 3 * 32 * 32);
        assert!(set.labels.iter().all(|&l| l < 10));
    }
});
