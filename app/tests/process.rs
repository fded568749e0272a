//! What the process leaves behind and how it ends (docs/platform.md, "Exit"): a command given
//! `--backend cpu`, or `--backend auto` that settles on the CPU, never loads a Vulkan, EGL or X
//! library and prints nothing about a display; no thread of ours is alive as `main` returns;
//! an engine's panic ends `run` with exit 1 and the panic's message.
//!
//! The checks read the report the binary writes at the end of `main` when asked for
//! (`SIM_WORKBENCH_EXIT_REPORT`), and plant a panic through `SIM_WORKBENCH_PANIC_AT`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sim_workbench::probe::DRIVER_LIBRARIES;

/// Exit code of an engine that crashed.
const CRASHED: i32 = 1;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the app crate sits in the repository")
        .to_path_buf()
}

/// The binary with `args` and no display: `XDG_RUNTIME_DIR` and `DISPLAY` unset, as on a
/// server (CI sets the former).
fn headless(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sim-workbench"));
    command
        .args(args)
        .current_dir(root())
        .env("SIM_WORKBENCH_CACHE", dir.join("cache"))
        .env("SIM_WORKBENCH_EXIT_REPORT", dir.join("exit-report"))
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("RAYON_NUM_THREADS", "2")
        .stdin(Stdio::null());
    command
}

/// What the exit report lists: the threads alive besides the main one, the mapped files.
fn report(dir: &Path) -> (Vec<String>, Vec<String>) {
    let text = std::fs::read_to_string(dir.join("exit-report")).expect("an exit report");
    let pick = |prefix: &str| {
        text.lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    (pick("thread "), pick("map "))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Exit 0, no thread left, no driver library mapped, no word about a display.
#[track_caller]
fn clean(dir: &Path, out: &Output) {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stderr.contains("XDG_RUNTIME_DIR"), "{stderr}");
    let (threads, maps) = report(dir);
    assert!(threads.is_empty(), "alive at exit: {threads:?}");
    let drivers: Vec<&String> = maps
        .iter()
        .filter(|m| DRIVER_LIBRARIES.iter().any(|lib| m.contains(lib)))
        .collect();
    assert!(drivers.is_empty(), "driver libraries loaded: {drivers:?}");
}

/// `run` of the default preset for 30 iterations on `backend`, headless, into `dir`.
fn run_on(dir: &Path, backend: &str) -> Output {
    headless(
        dir,
        &["run", "--backend", backend, "--iterations", "30", "--out"],
    )
    .arg(dir.join("runs"))
    .output()
    .expect("runs")
}

#[test]
fn a_cpu_run_loads_no_driver_and_leaves_no_thread() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run_on(dir.path(), "cpu");
    clean(dir.path(), &out);
    assert!(text(&out.stdout).contains("finished 30 iterations"));
}

/// `auto` asks a child process which adapters exist; a run it sends to the CPU (what
/// `devices` says it picks) is as clean as `--backend cpu`. (On a machine with a hardware GPU
/// the run uses it, and drivers are loaded by design: then only the threads are checked.)
#[test]
fn an_auto_run_on_the_cpu_loads_no_driver_either() {
    let dir = tempfile::tempdir().expect("tempdir");
    let devices = headless(dir.path(), &["devices"])
        .output()
        .expect("devices");
    let on_cpu = text(&devices.stdout).contains("--backend auto: cpu (flex)");
    let out = run_on(dir.path(), "auto");
    if on_cpu {
        clean(dir.path(), &out);
    } else {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(report(dir.path()).0.iter().all(|t| !t.starts_with("sim-")));
    }
}

/// The other commands that compute in the process end with no thread either: `devices`
/// (whose listing also comes from the child) and `gradcheck` (on its own pool).
#[test]
fn devices_and_gradcheck_leave_no_thread() {
    for args in [&["devices"][..], &["gradcheck"]] {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = headless(dir.path(), args).output().expect("runs");
        clean(dir.path(), &out);
        assert!(text(&out.stdout).contains(if args[0] == "devices" {
            "--backend cpu: cpu (flex)"
        } else {
            "gradient"
        }));
    }
}

/// A panic in the engine (planted after iteration 5) is exit 1 with the panic's message, not
/// a run that hangs or exits 0.
#[test]
fn an_engine_panic_is_exit_1_with_its_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = dir.path().join("runs");
    let out = headless(
        dir.path(),
        &[
            "run",
            "--backend",
            "cpu",
            "--iterations",
            "50",
            "--set",
            "name=doomed",
            "--out",
        ],
    )
    .arg(&runs)
    .env("SIM_WORKBENCH_PANIC_AT", "doomed@5")
    .output()
    .expect("runs");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(CRASHED), "{stderr}");
    assert!(
        stderr.contains(
            "error: the engine panicked: injected fault: run doomed stops at \
             iteration 5"
        ),
        "{stderr}"
    );
    assert!(report(dir.path()).0.is_empty());
}
