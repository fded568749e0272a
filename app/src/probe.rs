//! The adapter probe of the workbench's own processes: this executable run as
//! `sim-workbench devices --json` in a child process (`Probe::Child`), so that the GPU drivers
//! are loaded only by a process that uses them (docs/platform.md, "Exit").

use sim_engine::device::Probe;

/// Libraries of the GPU and display stacks: a process that does not use the GPU maps none of
/// them (checked at exit when `SIM_WORKBENCH_EXIT_CHECK` asks, and by `app/tests/process.rs`).
pub const DRIVER_LIBRARIES: [&str; 7] = [
    "libvulkan",
    "libEGL",
    "libGL",
    "libX11",
    "libxcb",
    "libwayland",
    "libnvidia",
];

/// The arguments that make this executable print its adapters as JSON and exit.
pub const PROBE_ARGS: [&str; 2] = ["devices", "--json"];

/// A child of this executable, or the probe in this process when the executable cannot be
/// found (`/proc` unmounted).
pub fn adapter_probe() -> Probe {
    match std::env::current_exe() {
        Ok(program) => Probe::Child {
            program,
            args: PROBE_ARGS.iter().map(|a| (*a).to_owned()).collect(),
        },
        Err(e) => {
            tracing::warn!("cannot find this executable ({e}); probing GPU adapters in-process");
            Probe::InProcess
        }
    }
}
