//! The safetensors container (teachers, checkpoints, classifiers, caches): any bytes either
//! parse into finite F32 tensors whose shapes match their values, or are refused.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = sim_formats::tensors::parse(data) {
        for (shape, values) in file.tensors.values() {
            assert_eq!(shape.iter().product::<usize>(), values.len());
            assert!(values.iter().all(|v| v.is_finite()));
        }
    }
});
