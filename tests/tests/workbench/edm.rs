//! EDM's DDPM++ U-Net against EDM's own code: `tests/fixtures/edm/` holds reduced-width
//! networks built by EDM's `training/networks.py` with random weights, converted by
//! `tools/edm_to_safetensors.py`, and their outputs on fixed inputs (`tools/make_edm_fixtures.py`,
//! docs/edm-teachers.md). The workbench's `SongUNet` must reproduce them.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use sim_engine::nets::song_unet::Preconditioning;
use sim_engine::teacher::edm_file::{EdmTeacher, load_edm_teacher};

/// Largest allowed |F_workbench − F_EDM| on the raw network's output.
const RAW_TOLERANCE: f64 = 1e-4;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/edm")
        .join(name)
}

/// The fixture's named tensors: shape and values.
struct Io(std::collections::BTreeMap<String, (Vec<usize>, Vec<f32>)>);

impl Io {
    fn read(name: &str) -> Self {
        let bytes = std::fs::read(fixture(&format!("{name}.io.safetensors"))).expect("fixture");
        Self(sim_formats::tensors::parse(&bytes).expect("parses").tensors)
    }

    fn tensor<const D: usize>(&self, key: &str, device: &Device) -> Tensor<D> {
        let (shape, values) = self
            .0
            .get(key)
            .unwrap_or_else(|| panic!("{key} in fixture"));
        Tensor::from_data(TensorData::new(values.clone(), shape.clone()), device)
    }

    fn values(&self, key: &str) -> &[f32] {
        &self
            .0
            .get(key)
            .unwrap_or_else(|| panic!("{key} in fixture"))
            .1
    }
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.try_into_vec_as::<f32>().expect("f32")
}

/// The largest |a − b| over two equally long lists.
pub(super) fn max_abs(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).abs())
        .fold(0.0, f64::max)
}

fn load(name: &str, device: &Device) -> EdmTeacher {
    load_edm_teacher(&fixture(&format!("{name}.safetensors")), device).expect("loads")
}

/// The conditional network of `stem.safetensors` against EDM's outputs in
/// `stem.io.safetensors`: the raw network on EDM's own `c_in x` and `c_noise`, and the
/// preconditioned denoiser, at σ from 0.002 to 80, with one-hot labels, a mix of two classes
/// and none. Returns the largest |ΔF|.
fn check_conditional(stem: &Path, device: &Device) -> f64 {
    let teacher = load_edm_teacher(&stem.with_extension("safetensors"), device).expect("loads");
    let net = &teacher.net;
    assert_eq!(
        net.config().precond,
        Preconditioning::Edm { sigma_data: 0.5 }
    );
    let bytes = std::fs::read(stem.with_extension("io.safetensors")).expect("outputs");
    let io = Io(sim_formats::tensors::parse(&bytes).expect("parses").tensors);
    let n = io.values("sigma").len();
    let labels = io.tensor::<2>("labels", device);
    let x_in = io.tensor::<2>("x_in", device).reshape([n, 3, 32, 32]);
    let raw = host(net.network(x_in, io.tensor("c_noise", device), Some(labels.clone())));
    let raw_error = max_abs(&raw, io.values("raw"));
    assert!(raw_error <= RAW_TOLERANCE, "F: max |error| {raw_error:e}");

    let (x, sigma) = (io.tensor::<2>("x", device), io.tensor::<2>("sigma", device));
    let d = host(net.denoise_labelled(x.clone(), sigma.clone(), Some(labels)));
    let error = max_abs(&d, io.values("denoised"));
    // |c_out| ≤ σ_d = 0.5: D's error is at most half F's, plus the skip's rounding.
    assert!(error <= RAW_TOLERANCE, "D: max |error| {error:e}");
    let none = host(net.denoise_labelled(x, sigma, None));
    let error = max_abs(&none, io.values("denoised_unlabelled"));
    assert!(
        error <= RAW_TOLERANCE,
        "D without labels: max |error| {error:e}"
    );
    raw_error
}

#[test]
fn song_unet_matches_edm_conditional_edm_preconditioning() {
    let device = Device::flex();
    let teacher = load("songunet-cond-edm", &device);
    assert_eq!(teacher.net.config().label_dim, 10);
    assert!(teacher.source.starts_with("songunet-cond-edm.pkl sha256:"));
    let raw_error = check_conditional(&fixture("songunet-cond-edm"), &device);
    println!("conditional, EDM preconditioning: max |ΔF| {raw_error:e}");
}

/// The same check at full size, on a file a user converted: `SIM_WORKBENCH_EDM_CHECK=STEM`,
/// `STEM.safetensors` and `STEM.io.safetensors` written by `tools/make_edm_fixtures.py --real
/// edm-cifar10-32x32-cond-vp.pkl` (or `--cifar10-shapes`: random weights at those shapes).
#[test]
#[ignore = "needs a converted full-size EDM network and its outputs (SIM_WORKBENCH_EDM_CHECK)"]
fn real_song_unet_matches_edm() {
    let stem = std::env::var_os("SIM_WORKBENCH_EDM_CHECK").expect("SIM_WORKBENCH_EDM_CHECK=STEM");
    let raw_error = check_conditional(Path::new(&stem), &Device::flex());
    println!("full size: max |ΔF| {raw_error:e}");
}

/// The unconditional network with VP preconditioning (`c_out = −σ`): F within the tolerance,
/// D within it times σ.
#[test]
fn song_unet_matches_edm_unconditional_vp_preconditioning() {
    let device = Device::flex();
    let net = load("songunet-uncond-vp", &device).net;
    assert_eq!(net.config().precond.name(), "vp");
    let io = Io::read("songunet-uncond-vp");
    let n = io.values("sigma").len();
    let x_in = io.tensor::<2>("x_in", &device).reshape([n, 3, 32, 32]);
    let raw = host(net.network(x_in, io.tensor("c_noise", &device), None));
    let raw_error = max_abs(&raw, io.values("raw"));
    assert!(raw_error <= RAW_TOLERANCE, "F: max |error| {raw_error:e}");

    let d = host(net.denoise_labelled(io.tensor("x", &device), io.tensor("sigma", &device), None));
    let dim = d.len() / n;
    for (i, &sigma) in io.values("sigma").iter().enumerate() {
        let rows = i * dim..(i + 1) * dim;
        let error = max_abs(&d[rows.clone()], &io.values("denoised")[rows]);
        let bound = RAW_TOLERANCE * f64::from(sigma).max(1.0);
        assert!(
            error <= bound,
            "σ = {sigma}: max |error| {error:e} > {bound:e}"
        );
    }
    println!("unconditional, VP preconditioning: max |ΔF| {raw_error:e}");
}

fn preset(name: &str, overrides: &[String]) -> sim_engine::config::RunConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../presets/{name}.toml"));
    sim_engine::config::RunConfig::load(&path, overrides).unwrap_or_else(|e| panic!("{name}: {e}"))
}

const CIFAR_PRESETS: [&str; 6] = [
    "cifar10_sim",
    "cifar10_sim_cond",
    "cifar10_sid",
    "cifar10_sid_cond",
    "cifar10_di",
    "cifar10_di_cond",
];

/// The CIFAR-10 presets carry Table 5: lr 1e-5 both, batch 256, t* = 2.5, ψ on p_EDM, Adam
/// β₂ = 0.999 (β₁ = 0 is the engine's), the SIM ones with the generator on p_SIM and w = 1, an
/// EDM teacher and the FID Inception.
#[test]
fn cifar10_presets_carry_table_5() {
    use sim_engine::diffusion::sigma::SigmaDistribution;
    use sim_engine::distill::objective::{Objective, Weighting};
    use sim_engine::teacher::TeacherConfig;
    for name in CIFAR_PRESETS {
        let c = preset(name, &[]);
        let d = &c.distill;
        assert_eq!(
            (d.batch, d.lr_generator, d.lr_fake),
            (256, 1e-5, 1e-5),
            "{name}"
        );
        assert_eq!((d.t_star, d.adam_beta2), (2.5, 0.999), "{name}");
        assert_eq!(d.fake_sigma, SigmaDistribution::Edm, "{name}");
        assert!(matches!(c.teacher, TeacherConfig::Edm { .. }), "{name}");
        let classifier = c.eval.classifier.as_deref().expect("eval.classifier");
        assert!(
            classifier.ends_with("fid-inception-v3.safetensors"),
            "{name}"
        );
        if name.starts_with("cifar10_sim") {
            assert_eq!(d.objective, Objective::Sim, "{name}");
            assert_eq!(d.generator_sigma, SigmaDistribution::Sim, "{name}");
            assert_eq!(d.weighting, Weighting::NoWeight, "{name}");
        }
    }
}

/// Without the converted teacher, a CIFAR-10 preset refuses to start, naming the file and the
/// converter command.
#[test]
fn cifar10_preset_without_its_teacher_names_the_converter() {
    use sim_engine::device::BackendChoice;
    use sim_engine::run::{Run, RunOptions};
    let options = RunOptions {
        runs_dir: None,
        cache_dir: None,
        backend: BackendChoice::Cpu,
        ..RunOptions::default()
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let teacher = dir.path().join("edm-cifar10-32x32-cond-vp.safetensors");
    let config = preset(
        "cifar10_sim_cond",
        &[format!("teacher.path={:?}", teacher.display().to_string())],
    );
    let message = Run::start(config, &options, &mut |_, _| {})
        .err()
        .expect("refused")
        .to_string();
    assert!(
        message.contains("edm-cifar10-32x32-cond-vp.safetensors"),
        "{message}"
    );
    assert!(message.contains("tools/edm_to_safetensors.py"), "{message}");
}

/// The paper's preset end to end on this CPU at reduced width: the random-weight fixture
/// teacher, the 1/16-width fixture Inception and a small CIFAR-10 test batch written here;
/// two SIM iterations at batch 8 with finite losses, and an evaluation named after the
/// Inception.
#[test]
fn cifar10_preset_runs_two_iterations_on_the_fixture_teacher() {
    use sim_engine::device::BackendChoice;
    use sim_engine::metrics::Metrics;
    use sim_engine::run::{Run, RunOptions};
    let dir = tempfile::tempdir().expect("temp dir");
    // 40 records: a label byte, then 3,072 pixel bytes.
    let batch: Vec<u8> = (0..40u32)
        .flat_map(|i| {
            std::iter::once((i % 10) as u8)
                .chain((0..3072u32).map(move |p| ((p * 7 + i * 31) % 251) as u8))
        })
        .collect();
    std::fs::write(dir.path().join("test_batch.bin"), batch).expect("write batch");
    let path = |p: PathBuf| format!("{:?}", p.display().to_string());
    let config = preset(
        "cifar10_sim_cond",
        &[
            format!(
                "teacher.path={}",
                path(fixture("songunet-cond-edm.safetensors"))
            ),
            format!(
                "eval.classifier={}",
                path(
                    Path::new(env!("CARGO_MANIFEST_DIR"))
                        .join("fixtures/inception/fid-inception-w16.safetensors")
                )
            ),
            format!("data.dir={}", path(dir.path().to_owned())),
            "data.split=\"test\"".into(),
            "distill.batch=8".into(),
            "eval.samples=20".into(),
            "eval.teacher_metrics=false".into(),
            "iterations=2".into(),
        ],
    );
    let options = RunOptions {
        runs_dir: None,
        cache_dir: None,
        backend: BackendChoice::Cpu,
        ..RunOptions::default()
    };
    let mut run = Run::start(config, &options, &mut |_, _| {}).expect("starts");
    for _ in 0..2 {
        let stats = run.step().expect("iteration");
        assert!(
            stats.loss_generator.is_finite() && stats.loss_fake.is_finite(),
            "{stats:?}"
        );
        assert!(
            stats.grad_norm_generator > 0.0 && stats.grad_norm_fake > 0.0,
            "{stats:?}"
        );
    }
    let Metrics::Image(m) = run.score().expect("score") else {
        panic!("image metrics");
    };
    assert_eq!(m.fid_label(), "FID (Inception-v3 at 1/16 width)");
    assert!(m.fid.is_finite() && m.is >= 1.0, "{m:?}");
    assert_eq!(m.samples, 20);
}
