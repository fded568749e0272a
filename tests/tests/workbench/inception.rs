//! The FID Inception-v3 and the Fréchet distance against pytorch-fid's own code:
//! `tests/fixtures/inception/` holds pytorch-fid's FID Inception at 1/16 width with random
//! weights (converted by `tools/inception_to_safetensors.py`), its pool3 features and logits of
//! six 32×32 images, and the FID of two fixed feature sets by pytorch-fid's NumPy/SciPy code
//! (`tools/make_inception_fixtures.py`, docs/edm-teachers.md).

use std::path::{Path, PathBuf};

use burn::prelude::*;
use sim_engine::metrics::{Gaussian, frechet_distance};
use sim_engine::nets::inception::FidInception;

use super::edm::max_abs;

/// Largest allowed |Δ| on the features and logits (docs/edm-teachers.md's bound for Inception features).
const FEATURE_TOLERANCE: f64 = 1e-3;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/inception")
        .join(name)
}

/// The network of `stem.safetensors` against pytorch-fid's outputs in `stem.io.safetensors`;
/// returns the largest |Δ| of pool3 and of the logits.
fn check(stem: &Path, device: &Device) -> (FidInception, f64, f64) {
    let net = FidInception::load(&stem.with_extension("safetensors"), device).expect("loads");
    let bytes = std::fs::read(stem.with_extension("io.safetensors")).expect("outputs");
    let io = sim_formats::tensors::parse(&bytes).expect("parses").tensors;
    let (shape, images) = &io["images"];
    // pytorch-fid took u/255 in [0, 1] and scaled it to 2x − 1; the workbench takes [-1, 1].
    let x: Vec<f32> = images.iter().map(|u| u / 255.0 * 2.0 - 1.0).collect();
    let x = Tensor::<2>::from_data(TensorData::new(x, shape.clone()), device)
        .reshape([shape[0], 3, 32, 32]);
    let (pool3, logits) = net.forward(x);
    let pool3 = pool3.try_into_vec_as::<f32>().expect("f32");
    let logits = logits.try_into_vec_as::<f32>().expect("f32");
    let (e_pool, e_logits) = (
        max_abs(&pool3, &io["pool3"].1),
        max_abs(&logits, &io["logits"].1),
    );
    assert!(e_pool <= FEATURE_TOLERANCE, "pool3: {e_pool:e}");
    assert!(e_logits <= FEATURE_TOLERANCE, "logits: {e_logits:e}");
    (net, e_pool, e_logits)
}

#[test]
fn fid_inception_matches_pytorch_fid() {
    let (net, e_pool, e_logits) = check(&fixture("fid-inception-w16"), &Device::flex());
    assert_eq!((net.width_divisor(), net.feature_dim()), (16, 128));
    println!("FID Inception (1/16 width): max |Δ pool3| {e_pool:e}, max |Δ logits| {e_logits:e}");
}

/// The same check at full size, on a file a user converted: `SIM_WORKBENCH_INCEPTION_CHECK=STEM`,
/// `STEM.safetensors` and `STEM.io.safetensors` written by `tools/make_inception_fixtures.py
/// --real pt_inception-2015-12-05-6726825d.pth` (or `--full-shapes`: random weights).
#[test]
#[ignore = "needs the converted FID Inception and its outputs (SIM_WORKBENCH_INCEPTION_CHECK)"]
fn real_fid_inception_matches_pytorch_fid() {
    let stem = std::env::var_os("SIM_WORKBENCH_INCEPTION_CHECK").expect("STEM");
    let (net, e_pool, e_logits) = check(Path::new(&stem), &Device::flex());
    assert_eq!((net.width_divisor(), net.feature_dim()), (1, 2048));
    println!("FID Inception: max |Δ pool3| {e_pool:e}, max |Δ logits| {e_logits:e}");
}

#[test]
fn frechet_distance_matches_pytorch_fid() {
    let bytes = std::fs::read(fixture("frechet.safetensors")).expect("fixture");
    let sets = sim_formats::tensors::parse_as::<f64>(&bytes)
        .expect("parses")
        .tensors;
    let fit = |key: &str| {
        let (shape, values) = &sets[key];
        Gaussian::fit_f64(values, shape[1]).expect("fit")
    };
    let fid = frechet_distance(&fit("a"), &fit("b")).expect("distance");
    let reference = sets["fid"].1[0];
    println!("FID {fid} against pytorch-fid's {reference}");
    assert!(
        (fid - reference).abs() <= 1e-6 * reference,
        "{fid} vs {reference}"
    );
}
