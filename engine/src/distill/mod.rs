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

/// Whose samples an evaluation scores, and why they hold NaN or ±inf when they do
/// ([`finite_samples`](crate::metrics::finite_samples)).
pub const STUDENT_SAMPLES: (&str, &str) = (
    "the student's one-step samples",
    "the generator diverged — resume from an earlier checkpoint with lower learning rates",
);
