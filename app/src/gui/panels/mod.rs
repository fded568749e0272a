//! The panels of the window: each reads the state and returns `Action`s, never changing it.

pub mod curves;
pub mod diagnostics;
pub mod experiment;
pub mod race;
pub mod runs;
pub mod samples;
pub mod status;
pub mod toolbar;
