//! Every shipped preset loads and validates; malformed presets fail with the key named.

use std::path::Path;

use sim_engine::config::{EvalConfig, RunConfig};

fn presets_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../presets"))
}

#[test]
fn every_preset_loads_and_validates() {
    let mut count = 0;
    for entry in std::fs::read_dir(presets_dir()).expect("presets/ exists") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let config = RunConfig::load(&path, &[])
                .unwrap_or_else(|e| panic!("{} does not load: {e}", path.display()));
            assert!(!config.name.is_empty());
            count += 1;
        }
    }
    assert!(count >= 7, "expected the shipped presets, found {count}");
}

#[test]
fn presets_state_only_what_differs() {
    // The default preset keeps the defaults; a variant changes what its comment says.
    let default = RunConfig::load(&presets_dir().join("default.toml"), &[]).expect("default");
    assert_eq!(default.distill, RunConfig::default().distill);
    let sid = RunConfig::load(&presets_dir().join("sid.toml"), &[]).expect("sid");
    assert_ne!(sid.distill.objective, default.distill.objective);
    assert_eq!(sid.distill.lr_generator, default.distill.lr_generator);
}

fn error_of(text: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, text).expect("write");
    RunConfig::load(&path, &[])
        .expect_err("malformed preset must fail")
        .to_string()
}

#[test]
fn unknown_key_is_named_with_the_file() {
    let msg = error_of("[distill]\nlr_genrator = 1e-4\n");
    assert!(msg.contains("bad.toml"), "{msg}");
    assert!(msg.contains("lr_genrator"), "{msg}");
}

#[test]
fn wrong_type_is_named() {
    let msg = error_of("iterations = \"many\"\n");
    assert!(msg.contains("iterations"), "{msg}");
}

#[test]
fn negative_learning_rate_is_named() {
    let msg = error_of("[distill]\nlr_generator = -0.001\n");
    assert!(msg.contains("distill.lr_generator"), "{msg}");
    assert!(msg.contains("positive"), "{msg}");
}

#[test]
fn bad_distance_parameter_is_named() {
    let msg = error_of("[distill]\ndistance = { kind = \"alpha_power\", alpha = 3 }\n");
    assert!(msg.contains("distill.distance"), "{msg}");
}

#[test]
fn invalid_toml_reports_the_line() {
    let msg = error_of("[distill\n");
    assert!(msg.contains("bad.toml") && msg.contains("line"), "{msg}");
}

#[test]
fn image_presets_pair_image_data_with_a_network_teacher() {
    use sim_engine::teacher::TeacherConfig;
    for name in [
        "digits_sim",
        "digits_sid",
        "digits_di",
        "digits_sim_uncond",
        "fashion_mnist_sim",
    ] {
        let path = presets_dir().join(format!("{name}.toml"));
        let config = RunConfig::load(&path, &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(config.data.image().is_some(), "{name}: image data");
        assert!(
            matches!(config.teacher, TeacherConfig::Network { .. }),
            "{name}: a network teacher"
        );
        // The paper's t* and σ distributions are kept; only batch and lr are scaled.
        assert_eq!(config.distill.t_star, 2.5, "{name}");
    }
}

/// `eval.early`: ten times as often before the first `eval.every`, then every `eval.every`; off,
/// or with `every < 10`, only the multiples of `every`.
#[test]
fn evaluations_are_denser_in_the_first_interval() {
    let due = |eval: &EvalConfig| -> Vec<u64> { (0..=300).filter(|&s| eval.is_due(s)).collect() };
    let eval = EvalConfig::default();
    let want: Vec<u64> = (0..10).map(|k| 10 * k).chain([100, 200, 300]).collect();
    assert_eq!(due(&eval), want);
    let late = EvalConfig {
        early: false,
        ..EvalConfig::default()
    };
    assert_eq!(due(&late), [0, 100, 200, 300]);
    let short = EvalConfig {
        every: 5,
        ..EvalConfig::default()
    };
    assert_eq!(due(&short).len(), 61);
}
