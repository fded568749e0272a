//! `--backend auto` with a hardware GPU (`sim_engine::run::auto`): a GPU is weighed against the
//! CPU by the expected wall time of the run as configured, from a calibration kept per adapter
//! and run shape. Mesa's software Vulkan device (llvmpipe, what CI installs) stands in for the
//! hardware GPU, through a probe that calls it one: it is ~20× slower than the CPU on the toy,
//! so `auto` must choose the CPU, and say why.

use sim_engine::config::RunConfig;
use sim_engine::device::{BackendChoice, Probe};
use sim_engine::run::{Run, RunOptions};

/// A probe (`Probe::Child`) that lists one hardware adapter: wgpu's default device, here
/// llvmpipe, takes its place.
fn probe_of_a_hardware_gpu() -> Probe {
    let adapter = r#"[{"name":"llvmpipe standing in for a GPU","kind":"DiscreteGpu","api":"Vulkan","driver":"","hardware":true}]"#;
    Probe::Child {
        program: "sh".into(),
        args: vec!["-c".into(), format!("echo '{adapter}'")],
    }
}

#[test]
fn auto_weighs_a_gpu_against_the_cpu_and_keeps_the_calibration() {
    let cache = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../presets/default.toml"
    ))
    .expect("default preset");
    // A short fit of the teacher-shaped start (it is not what is timed) and a small batch.
    let overrides: Vec<String> = [
        "distill.batch=256",
        "init.iterations=20",
        "eval.samples=500",
    ]
    .map(String::from)
    .to_vec();
    let config = RunConfig::parse(&text, "default.toml", &overrides).expect("valid");
    let options = RunOptions {
        runs_dir: None,
        cache_dir: Some(cache.path().to_owned()),
        backend: BackendChoice::Auto,
        probe: probe_of_a_hardware_gpu(),
    };
    let first = Run::start(config.clone(), &options, &mut |_, _| {}).expect("start");
    let chosen = first.info().backend;
    assert!(
        chosen.starts_with("cpu (flex), auto: expected ") && chosen.contains(" on the GPU ("),
        "auto should find the software GPU slower and say so: {chosen}"
    );
    assert!(!first.on_gpu());
    drop(first);
    let kept = std::fs::read_to_string(cache.path().join("calibration.json")).expect("kept");
    let kept: serde_json::Value = serde_json::from_str(&kept).expect("json");
    let entries = kept.as_object().expect("a map by adapter and shape");
    assert_eq!(entries.len(), 1);
    let calibration = entries.values().next().expect("one");
    let seconds = |key: &str| calibration[key].as_f64().expect("a number");
    assert!(seconds("cpu_s") > 0.0 && seconds("gpu_s") > seconds("cpu_s"));
    assert!(seconds("gpu_prepare_s") >= seconds("gpu_s"));
    // The next start reads the calibration: the same decision, word for word (its numbers are
    // the kept ones, not measured again).
    let second = Run::start(config, &options, &mut |_, _| {}).expect("start");
    assert_eq!(second.info().backend, chosen);
}
