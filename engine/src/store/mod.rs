//! What a run leaves on disk: atomic files, safetensors checkpoints, run folders.

pub mod atomic;
pub mod image_grid;
pub mod run_dir;
pub mod snapshot;
pub mod tensor_file;
