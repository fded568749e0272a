use std::collections::BTreeMap;
use std::time::Instant;

use burn::module::Module;
use burn::optim::GradientsParams;

use super::*;
use crate::diffusion::denoiser::WithLabels;
use crate::optim::params::{map_params, named_params};
use crate::rng::{Stream, normal, rng_for};
use crate::store::tensor_file::TensorFile;

const SIGMA_DATA: f64 = 0.5;

fn config_8(classes: usize) -> UNetConfig {
    UNetConfig {
        classes,
        ..UNetConfig::default()
    }
}

fn config_32(image_channels: usize, classes: usize) -> UNetConfig {
    UNetConfig {
        channel_mult: vec![1, 2, 2],
        image_size: 32,
        image_channels,
        classes,
        ..UNetConfig::default()
    }
}

fn build(config: &UNetConfig, seed: u64, device: &Device) -> UNetDenoiser {
    UNetDenoiser::new(
        config,
        SIGMA_DATA,
        &mut rng_for(seed, 0, Stream::Init),
        device,
    )
    .expect("valid config")
}

/// Adds `N(0, 0.1²)` to every parameter (a fixed draw per `seed`), so the zero-initialised
/// layers become non-zero and `F` is no longer 0.
fn perturb(net: UNetDenoiser, seed: u64) -> UNetDenoiser {
    let mut rng = rng_for(seed, 0, Stream::Other(7));
    map_params(net, None, |_, value, _| {
        let n = value.dims()[0];
        let noise = Tensor::<1>::from_data(
            TensorData::new(normal(&mut rng, n, 0.1), [n]),
            &value.device(),
        );
        value.add(noise)
    })
}

fn batch(n: usize, dim: usize, seed: u64, device: &Device) -> Tensor<2> {
    let mut rng = rng_for(seed, 0, Stream::Other(8));
    Tensor::from_data(
        TensorData::new(normal(&mut rng, n * dim, 0.5), [n, dim]),
        device,
    )
}

fn sigmas(values: &[f32], device: &Device) -> Tensor<2> {
    Tensor::<1>::from_floats(values, device).reshape([values.len(), 1])
}

fn labels(net: &UNetDenoiser, classes: &[i64], device: &Device) -> Tensor<2> {
    net.one_hot(Tensor::<1, Int>::from_ints(classes, device))
}

fn host(t: Tensor<2>) -> Vec<f32> {
    t.try_into_vec_as::<f32>().expect("f32")
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

#[test]
fn unet_output_shapes() {
    let device = Device::flex();
    let cases = [
        config_8(0),
        config_8(10),
        config_32(1, 0),
        config_32(1, 10),
        config_32(3, 0),
        config_32(3, 10),
    ];
    for config in cases {
        let net = perturb(build(&config, 0, &device), 1);
        let dim = config.dim();
        assert_eq!(net.dim(), dim);
        let x = batch(2, dim, 2, &device);
        let s = sigmas(&[0.3, 4.0], &device);
        let y = (config.classes > 0).then(|| labels(&net, &[1, 7], &device));
        let out = net.denoise_labelled(x, s, y);
        assert_eq!(out.dims(), [2, dim], "{config:?}");
        let v = host(out);
        assert!(v.iter().all(|v| v.is_finite()), "{config:?}");
    }
}

#[test]
fn unet_edm_limit_is_the_skip_path() {
    // With the output convolution at zero, F = 0 exactly and D(x; σ) = c_skip(σ) x, bit for bit.
    let device = Device::flex();
    for config in [config_8(10), config_32(3, 0)] {
        let net = build(&config, 0, &device);
        let x = batch(3, config.dim(), 3, &device);
        let s = sigmas(&[0.002, 0.5, 80.0], &device);
        let out = host(net.denoise(x.clone(), s.clone()));
        let c_skip = Precond::new(s, SIGMA_DATA).c_skip;
        assert_eq!(out, host(x.clone().mul(c_skip)), "{config:?}");
        // At σ_min = 0.002, 1 − c_skip = σ²/(σ² + σ_d²) = 1.6e-5: D(x) = x to that precision.
        let (out, x) = (&out[..config.dim()], host(x));
        for (d, x) in out.iter().zip(&x[..config.dim()]) {
            let rel = (d - x).abs() / x.abs().max(1e-6);
            assert!(rel <= 1.7e-5, "{d} vs {x}: {rel}");
        }
    }
}

/// `Σ D(x; σ, y) ⊙ r` for fixed `x, σ, y, r`.
fn scalar_loss(net: &UNetDenoiser, device: &Device) -> Tensor<1> {
    let dim = net.dim();
    let x = batch(2, dim, 4, device);
    let r = batch(2, dim, 5, device);
    let y = labels(net, &[2, 5], device);
    net.denoise_labelled(x, sigmas(&[0.2, 1.5], device), Some(y))
        .mul(r)
        .sum()
}

#[test]
fn unet_gradient_matches_finite_difference() {
    let device = Device::flex().autodiff();
    let net = perturb(build(&config_8(10), 0, &device), 1);
    let loss = scalar_loss(&net, &device);
    let grads = GradientsParams::from_grads(loss.backward(), &net);
    let targets = [
        "input.weight",
        "encoder.0.blocks.0.conv0.weight",
        "middle.attention.qkv.weight",
        "decoder.1.blocks.1.conv1.weight",
        "output.weight",
    ];
    let mut found: BTreeMap<String, Vec<f32>> = BTreeMap::new();
    let net = map_params(net, Some(&grads), |path, value, grad| {
        if let (true, Some(g)) = (targets.contains(&path), grad) {
            found.insert(path.to_owned(), g.try_into_vec_as::<f32>().expect("f32"));
        }
        value
    });
    assert_eq!(found.len(), targets.len(), "a gradient for every target");
    let h = 2e-3f32;
    for (path, g) in found {
        // The entry with the largest gradient, well above f32 round-off.
        let (index, &autodiff) = g
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .expect("non-empty");
        let shifted = |delta: f32| {
            let moved = map_params(net.clone(), None, |p, value, _| {
                if p != path {
                    return value;
                }
                let mut v = value.clone().try_into_vec_as::<f32>().expect("f32");
                v[index] += delta;
                let n = v.len();
                Tensor::from_data(TensorData::new(v, [n]), &value.device())
            });
            f64::from(scalar_loss(&moved, &device).into_scalar::<f32>())
        };
        let numeric = (shifted(h) - shifted(-h)) / (2.0 * f64::from(h));
        let rel = (numeric - f64::from(autodiff)).abs() / f64::from(autodiff).abs();
        println!(
            "{path}[{index}]: autodiff {autodiff:.6}, central difference {numeric:.6}, rel {rel:.2e}"
        );
        assert!(
            autodiff.abs() > 1e-2,
            "{path}: gradient {autodiff} too small to check"
        );
        assert!(
            rel < 1e-2,
            "{path}[{index}]: autodiff {autodiff} vs {numeric}"
        );
    }
}

#[test]
fn unet_class_conditioning_changes_the_output() {
    let device = Device::flex();
    let net = perturb(build(&config_8(10), 0, &device), 1);
    let x = batch(2, net.dim(), 6, &device);
    let s = sigmas(&[0.5, 0.5], &device);
    let run = |y: Option<Tensor<2>>| host(net.denoise_labelled(x.clone(), s.clone(), y));
    let none = run(None);
    let three = run(Some(labels(&net, &[3, 3], &device)));
    let seven = run(Some(labels(&net, &[7, 7], &device)));
    assert!(max_abs_diff(&none, &three) > 1e-2);
    assert!(max_abs_diff(&three, &seven) > 1e-2);
    // Per row: a batch [3, 7] gives row 0 of the all-3 batch and row 1 of the all-7 batch.
    let mixed = run(Some(labels(&net, &[3, 7], &device)));
    let d = net.dim();
    assert!(max_abs_diff(&mixed[..d], &three[..d]) < 1e-6);
    assert!(max_abs_diff(&mixed[d..], &seven[d..]) < 1e-6);
    // No labels = all-zero class vectors = the plain Denoiser; WithLabels = denoise_labelled.
    assert_eq!(none, run(Some(Tensor::zeros([2, 10], &device))));
    assert_eq!(none, host(net.denoise(x.clone(), s.clone())));
    let bound = WithLabels {
        net: &net,
        labels: labels(&net, &[3, 3], &device),
    };
    assert_eq!(three, host(bound.denoise(x.clone(), s.clone())));
}

#[test]
fn unet_seeded_init_is_reproducible() {
    let device = Device::flex();
    let config = config_8(10);
    let flat = |net: &UNetDenoiser| -> Vec<(String, Vec<f32>)> {
        named_params(net)
            .into_iter()
            .map(|(k, t)| (k, t.values.try_into_vec_as::<f32>().expect("f32")))
            .collect()
    };
    let (a, b, c) = (
        build(&config, 3, &device),
        build(&config, 3, &device),
        build(&config, 4, &device),
    );
    assert_eq!(flat(&a), flat(&b));
    assert_ne!(flat(&a), flat(&c));
    let x = batch(2, config.dim(), 7, &device);
    let s = sigmas(&[0.1, 2.0], &device);
    let out = |net: UNetDenoiser| host(perturb(net, 9).denoise(x.clone(), s.clone()));
    let (oa, ob, oc) = (out(a), out(b), out(c));
    assert_eq!(oa, ob);
    assert!(max_abs_diff(&oa, &oc) > 1e-3);
}

#[test]
fn unet_checkpoint_round_trip() {
    let device = Device::flex();
    let config = config_32(3, 10);
    let net = perturb(build(&config, 0, &device), 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("unet.safetensors");
    let mut file = TensorFile::new();
    file.insert_module("generator.", &net).expect("insert");
    file.write(&path).expect("write");
    let fresh = build(&config, 5, &device);
    let loaded = TensorFile::read(&path)
        .expect("read")
        .load_module("generator.", fresh, &device)
        .expect("load");
    let x = batch(2, config.dim(), 8, &device);
    let s = sigmas(&[0.05, 10.0], &device);
    let y = || Some(labels(&net, &[0, 9], &device));
    assert_eq!(
        host(net.denoise_labelled(x.clone(), s.clone(), y())),
        host(loaded.denoise_labelled(x, s, y()))
    );
    // A network of another shape is refused, naming the parameter.
    let other = build(&config_32(1, 10), 0, &device);
    let err = TensorFile::read(&path)
        .expect("read")
        .load_module("generator.", other, &device)
        .expect_err("shape mismatch");
    assert!(err.to_string().contains("generator.input.weight"), "{err}");
}

#[test]
fn unet_parameter_count() {
    let device = Device::flex();
    let tiny = UNetConfig {
        channels: 8,
        channel_mult: vec![1, 2],
        blocks_per_level: 1,
        attention: true,
        dropout: 0.0,
        classes: 10,
        image_channels: 1,
        image_size: 8,
        noise_frequencies: 4,
    };
    // Embedding width E = 32. UNetBlock(i → o) = 2i + (9io + o) + (2oE + 2o) + 2o + (9o² + o)
    // [+ (io + o) when i ≠ o].
    let expected = (9 * 32 + 32) + (32 * 32 + 32) + 10 * 32 // map0, map1, label
        + (9 * 8 + 8) // input conv 1 → 8
        + 1728 + 584 // level 0: UNetBlock(8 → 8), downsample
        + 4736 // level 1: UNetBlock(8 → 16)
        + 2 * 5760 + 1120 // middle: 2 × UNetBlock(16 → 16), attention(16)
        + 8624 + 7328 + 2320 // up level 1: UNetBlock(32 → 16), UNetBlock(24 → 16), upsample
        + 3112 + 2456 // up level 0: UNetBlock(24 → 8), UNetBlock(16 → 8)
        + 16 + (8 * 9 + 1); // output GroupNorm, conv 8 → 1
    assert_eq!(expected, 45_393);
    let net = build(&tiny, 0, &device);
    assert_eq!(net.num_params(), expected);
    assert_eq!(
        named_params(&net)
            .values()
            .map(|t| t.shape.iter().product::<usize>())
            .sum::<usize>(),
        expected
    );
    for (name, config, count) in [
        ("8x8x1, mult [1, 2]", config_8(0), 704_833),
        ("32x32x1, mult [1, 2, 2]", config_32(1, 0), 1_141_057),
        (
            "32x32x3, mult [1, 2, 2], 10 classes",
            config_32(3, 10),
            1_143_491,
        ),
    ] {
        let n = build(&config, 0, &device).num_params();
        println!("U-Net {name}, 32 channels, 1 block/level, attention: {n} parameters");
        assert_eq!(n, count, "{name}");
    }
}

/// Forward + backward wall time on the `flex` CPU backend, batch 64, median of 5 after a
/// warm-up. Not a test: `cargo test --workspace --release -- --ignored unet_timing --nocapture`.
#[test]
#[ignore = "timing note, not a test"]
fn unet_timing_forward_backward() {
    let device = crate::device::select(
        crate::device::BackendChoice::Cpu,
        &crate::device::Probe::InProcess,
    )
    .expect("cpu")
    .device;
    for (name, config) in [
        ("8x8x1, mult [1, 2]", config_8(0)),
        ("32x32x1, mult [1, 2, 2]", config_32(1, 0)),
    ] {
        let net = perturb(build(&config, 0, &device), 1);
        let x = batch(64, config.dim(), 1, &device);
        let s = Tensor::<2>::full([64, 1], 1.0, &device);
        let step = || {
            let start = Instant::now();
            let loss = net.denoise(x.clone(), s.clone()).square().mean();
            device.sync().expect("sync");
            let forward = start.elapsed().as_secs_f64();
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            device.sync().expect("sync");
            assert!(!grads.is_empty());
            (forward, start.elapsed().as_secs_f64())
        };
        step();
        let (mut forward, mut total): (Vec<f64>, Vec<f64>) = (0..5).map(|_| step()).unzip();
        forward.sort_by(f64::total_cmp);
        total.sort_by(f64::total_cmp);
        println!(
            "U-Net {name}, 32 channels, batch 64, on flex: forward+backward median {:.3} s \
             (min {:.3}, max {:.3}); forward alone median {:.3} s; {} parameters",
            total[2],
            total[0],
            total[4],
            forward[2],
            net.num_params()
        );
    }
}
