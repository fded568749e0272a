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

fn max_abs(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).abs())
        .fold(0.0, f64::max)
}

fn load(name: &str, device: &Device) -> EdmTeacher {
    load_edm_teacher(&fixture(&format!("{name}.safetensors")), device).expect("loads")
}

/// The raw network on EDM's own `c_in x` and `c_noise`, and the preconditioned denoiser, at
/// σ from 0.002 to 80 (twice each), with one-hot labels, a mix of two classes and none.
#[test]
fn song_unet_matches_edm_conditional_edm_preconditioning() {
    let device = Device::flex();
    let teacher = load("songunet-cond-edm", &device);
    let net = &teacher.net;
    assert_eq!(net.config().label_dim, 10);
    assert_eq!(
        net.config().precond,
        Preconditioning::Edm { sigma_data: 0.5 }
    );
    assert!(teacher.source.starts_with("songunet-cond-edm.pkl sha256:"));
    let io = Io::read("songunet-cond-edm");
    let n = io.values("sigma").len();
    let labels = io.tensor::<2>("labels", &device);
    let x_in = io.tensor::<2>("x_in", &device).reshape([n, 3, 16, 16]);
    let raw = host(net.network(x_in, io.tensor("c_noise", &device), Some(labels.clone())));
    let raw_error = max_abs(&raw, io.values("raw"));
    assert!(raw_error <= RAW_TOLERANCE, "F: max |error| {raw_error:e}");

    let (x, sigma) = (
        io.tensor::<2>("x", &device),
        io.tensor::<2>("sigma", &device),
    );
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
    println!("conditional, EDM preconditioning: max |ΔF| {raw_error:e}");
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
    let x_in = io.tensor::<2>("x_in", &device).reshape([n, 3, 16, 16]);
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
