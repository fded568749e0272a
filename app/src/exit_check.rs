//! When asked for (`SIM_WORKBENCH_EXIT_CHECK` set, as the tests and CI's GUI check do, or a
//! report file named): what is left of the process as `main` returns.
//!
//! Every thread the workbench starts is named `sim-…` and is joined before `main` returns
//! (docs/platform.md, "Exit"): a thread of ours still exiting while `exit` unloads the drivers'
//! libraries is how the process once aborted. This check fails the process when one is alive.
//! A thread nobody named carries the name of the thread that started it, so it counts as ours
//! when no driver is loaded (nothing else starts threads then); with a driver loaded, only
//! the names we give count. With `SIM_WORKBENCH_EXIT_REPORT=FILE`, the surviving threads and
//! the mapped libraries are also written to FILE, for the tests that check them.

use std::fmt::Write as _;

use sim_workbench::probe::DRIVER_LIBRARIES;

/// Checks the living threads and writes the report, when either is asked for.
pub fn verify() {
    let report_to = std::env::var_os("SIM_WORKBENCH_EXIT_REPORT");
    if report_to.is_none() && std::env::var_os("SIM_WORKBENCH_EXIT_CHECK").is_none() {
        return;
    }
    let own_name = std::fs::read_to_string("/proc/self/comm").unwrap_or_default();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let threads = other_threads();
    if let Some(path) = report_to {
        let mut report = String::new();
        for name in &threads {
            let _ = writeln!(report, "thread {name}");
        }
        for line in maps.lines() {
            let _ = writeln!(report, "map {line}");
        }
        if let Err(e) = std::fs::write(&path, report) {
            eprintln!("cannot write the exit report: {e}");
        }
    }
    let driver_loaded = DRIVER_LIBRARIES.iter().any(|lib| maps.contains(lib));
    let ours: Vec<&String> = threads
        .iter()
        .filter(|name| !driver_loaded || is_ours(name, own_name.trim()))
        .collect();
    assert!(
        ours.is_empty(),
        "threads of the workbench still alive as main returns: {ours:?}"
    );
}

/// Whether a thread named `name` is one the workbench named (`sim-…`), with a driver loaded.
/// Mesa names its queues' threads after the process, `<process>:<queue><n>` cut to 15 bytes
/// (its shader-cache writer is `sim-wor:disk$0`); no name of ours holds a colon.
fn is_ours(name: &str, process: &str) -> bool {
    name.starts_with("sim-") && name != process && !name.contains(':')
}

/// The names of the process's threads other than the main one.
fn other_threads() -> Vec<String> {
    let pid = std::process::id().to_string();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .filter_map(|task| task.ok())
        .filter(|task| task.file_name() != pid.as_str())
        .map(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .unwrap_or_default()
                .trim()
                .to_owned()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Our threads count; Mesa's, named after the process, and the main thread do not.
    #[test]
    fn mesa_queue_threads_named_after_the_process_are_not_ours() {
        let process = "sim-workbench";
        assert!(is_ours("sim-engine", process));
        assert!(is_ours("sim-pool-3", process));
        assert!(!is_ours("sim-wor:disk$0", process));
        assert!(!is_ours("sim-workbench", process));
        assert!(!is_ours("llvmpipe-0", process));
    }
}
