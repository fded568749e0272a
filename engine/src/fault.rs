//! A planted fault, for the tests: a panic in an engine at a chosen iteration, so that the tests
//! can check that a dead engine is seen — by the GUI as a failed run, by `sim-workbench run` as
//! exit 1 with the message. Inert unless planted; it is in every build so that the tests link the
//! very engine that `cargo run --release` builds (docs/building.md).
//!
//! A plan is a run name and an iteration, given by [`panic_engine_at`] (a test in the same
//! process) or by the variable `SIM_WORKBENCH_PANIC_AT=name@step` (a test of the binary).

use std::sync::{Mutex, OnceLock};

/// Runs planned to panic, by name, with the iteration after which they do.
static PLANNED: Mutex<Vec<(String, u64)>> = Mutex::new(Vec::new());

/// Plans the engine of the run named `run_name` to panic once it has done `step` iterations.
pub fn panic_engine_at(run_name: &str, step: u64) {
    PLANNED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push((run_name.to_owned(), step));
}

/// Panics when the run `run_name` was planned to panic at `step` (called by the engine after
/// each iteration).
pub(crate) fn check(run_name: &str, step: u64) {
    let planned = PLANNED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .chain(from_env())
        .any(|(name, at)| name == run_name && *at == step);
    assert!(
        !planned,
        "injected fault: run {run_name} stops at iteration {step}"
    );
}

/// The plan `SIM_WORKBENCH_PANIC_AT=name@step`, read once.
fn from_env() -> &'static Option<(String, u64)> {
    static PLAN: OnceLock<Option<(String, u64)>> = OnceLock::new();
    PLAN.get_or_init(|| {
        let plan = std::env::var("SIM_WORKBENCH_PANIC_AT").ok()?;
        let (name, at) = plan.rsplit_once('@')?;
        Some((name.to_owned(), at.parse().ok()?))
    })
}
