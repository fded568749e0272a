//! What a run leaves on disk: atomic files, safetensors checkpoints, run folders.

pub mod atomic;
pub mod run_dir;
pub mod snapshot;
pub mod tensor_file;
