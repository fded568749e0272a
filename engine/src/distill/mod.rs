//! Distillation: distances, objectives, the optimiser, the EMA, and the one iteration function
//! that the CLI, the GUI and the tests all run.

pub mod adam;
pub mod distance;
pub mod ema;
pub mod fit;
pub mod iteration;
pub mod net;
pub mod objective;
pub mod params;
