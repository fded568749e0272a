//! Distillation proper: SIM, SiD and Diff-Instruct. The distances `d`, the generator
//! objectives, the settings of a distillation, what θ and ψ must offer, and the one iteration
//! function that the CLI, the GUI and the tests all run. The generic training kit (Adam, EMA,
//! parameters by path) is `crate::optim`.

pub mod config;
pub mod diagnostics;
pub mod distance;
pub mod iteration;
pub mod net;
pub mod objective;
