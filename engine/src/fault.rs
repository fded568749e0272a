//! Planted faults, for the tests: a panic in an engine at a chosen iteration, so that the tests
//! can check that a dead engine is seen — by the GUI as a failed run, by `sim-workbench run` as
//! exit 1 with the message — and a hold, an engine that stops iterating at a chosen iteration
//! without ending, so that a test can kill the process at a known point of its run. Inert unless planted; it is in every build so that the tests link the
//! very engine that `cargo run --release` builds (docs/building.md).
//!
//! A panic is planned by [`panic_engine_at`] (a test in the same process) or by the variable
//! `SIM_WORKBENCH_PANIC_AT=name@step` (a test of the binary); a hold by
//! `SIM_WORKBENCH_HOLD_AT=name@step`.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Runs planned to panic, by name, with the iteration after which they do.
static PLANNED: Mutex<Vec<(String, u64)>> = Mutex::new(Vec::new());

/// Plans the engine of the run named `run_name` to panic once it has done `step` iterations.
pub fn panic_engine_at(run_name: &str, step: u64) {
    PLANNED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push((run_name.to_owned(), step));
}

/// Acts on a plan for the run `run_name` at `step` (called by the engine after each
/// iteration): panics where a panic was planned, and never returns where a hold was.
pub(crate) fn check(run_name: &str, step: u64) {
    let here = |(name, at): &(String, u64)| name == run_name && *at == step;
    let planned = PLANNED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .any(here);
    assert!(
        !planned && !Fault::Panic.plan().as_ref().is_some_and(here),
        "injected fault: run {run_name} stops at iteration {step}"
    );
    if Fault::Hold.plan().as_ref().is_some_and(here) {
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}

/// A fault planned through the environment.
#[derive(Clone, Copy)]
enum Fault {
    /// `SIM_WORKBENCH_PANIC_AT=name@step`: the engine panics.
    Panic,
    /// `SIM_WORKBENCH_HOLD_AT=name@step`: the engine stops iterating and never ends.
    Hold,
}

impl Fault {
    /// The plan `name@step` in this fault's variable, read once.
    fn plan(self) -> &'static Option<(String, u64)> {
        static PLANS: [OnceLock<Option<(String, u64)>>; 2] = [const { OnceLock::new() }; 2];
        let variable = match self {
            Fault::Panic => "SIM_WORKBENCH_PANIC_AT",
            Fault::Hold => "SIM_WORKBENCH_HOLD_AT",
        };
        PLANS[self as usize].get_or_init(|| {
            let plan = std::env::var(variable).ok()?;
            let (name, at) = plan.rsplit_once('@')?;
            Some((name.to_owned(), at.parse().ok()?))
        })
    }
}
