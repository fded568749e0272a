//! One image of a PNG/JPEG folder: decoded under the limits and fitted to the requested size,
//! grey or RGB (the first byte picks the size and channels), or refused.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sim_formats::images::folder;

fuzz_target!(|data: &[u8]| {
    let Some((&choice, image)) = data.split_first() else {
        return;
    };
    let side = u32::from(choice % 32) + 1;
    let channels = if choice & 0x80 == 0 { 1 } else { 3 };
    let mut pixels = Vec::new();
    if folder::decode(Path::new("fuzz.png"), image, side, channels, &mut pixels).is_ok() {
        assert_eq!(pixels.len(), channels * (side * side) as usize);
        assert!(pixels.iter().all(|v| (-1.0..=1.0).contains(v)));
    }
});
