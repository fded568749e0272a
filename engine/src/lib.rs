//! SIM Workbench engine: distil a diffusion teacher into a one-step generator with Score
//! Implicit Matching (Luo et al., NeurIPS 2024), and the SiD / Diff-Instruct baselines.
//!
//! Its modules stand on floors, each importing only lower ones: the one list of them is
//! ARCHITECTURE.md's table "The engine, by layer", checked by the tests.
//!
//! A driver (the GUI, the CLI, the tests) builds a [`config::RunConfig`], starts a
//! [`session::Session`] and speaks [`protocol`]; or steps a [`run::Run`] itself. File internals
//! (`store`, `tensor`, `preset`) are the engine's own.

pub mod assets;
pub mod config;
pub mod cubecl_setup;
pub mod data;
pub mod device;
pub mod diffusion;
pub mod distill;
pub mod error;
pub mod fault;
pub mod gradcheck;
pub mod metrics;
pub mod nets;
pub mod optim;
pub mod pool;
pub(crate) mod preset;
pub mod protocol;
pub mod rng;
pub mod run;
pub mod session;
pub(crate) mod store;
pub mod teacher;
pub(crate) mod tensor;

pub use sim_formats::{limits, validation};
pub use store::atomic::write_atomic;
