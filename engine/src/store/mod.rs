//! What a run leaves on disk: atomic files, safetensors checkpoints, run folders.

pub mod atomic;
pub mod image_grid;
pub mod run_dir;
pub mod snapshot;
pub mod tensor_file;

/// FNV-1a (64 bit), a stable hash for cache keys.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}
