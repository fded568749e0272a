use std::collections::BTreeMap;

use burn::prelude::*;

use super::*;
use crate::data::images::{ImageSet, ImageSource};
use crate::diffusion::sigma::SigmaDistribution;
use crate::nets::unet::{UNetConfig, UNetDenoiser};
use crate::optim::params::named_params;

/// A small, fast U-Net: 8 channels, two levels, no attention.
fn tiny_settings(conditional: bool, batch: usize) -> ImageTeacherSettings {
    ImageTeacherSettings {
        conditional,
        unet: UNetConfig {
            channels: 8,
            channel_mult: vec![1, 2],
            attention: false,
            noise_frequencies: 4,
            ..UNetConfig::default()
        },
        batch,
        steps: 10,
        lr: 2e-3,
        warmup_steps: 2,
        ..ImageTeacherSettings::default()
    }
}

/// The first `n` shipped digits.
fn digits(n: usize) -> ImageSet {
    let set = ImageSource::Digits.load().expect("shipped digits");
    set.subset(&(0..n).collect::<Vec<_>>())
}

fn device() -> Device {
    Device::flex().autodiff()
}

fn flat<M: burn::module::Module>(m: &M) -> BTreeMap<String, Vec<f32>> {
    named_params(m)
        .into_iter()
        .map(|(k, t)| (k, t.values.try_into_vec_as::<f32>().expect("f32")))
        .collect()
}

/// Every tensor of a safetensors file, by name.
fn checkpoint_tensors(file: &std::path::Path) -> BTreeMap<String, Vec<f32>> {
    let bytes = std::fs::read(file).expect("read");
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("safetensors");
    st.tensors()
        .into_iter()
        .map(|(name, view)| {
            let v = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            (name, v)
        })
        .collect()
}

/// With the zero-initialised output convolution, `D(x; σ) = c_skip(σ) x` exactly, so for
/// `x = x_0 + σε`: `D − x_0 = −σ²/(σ²+σ_d²) x_0 + c_skip σ ε`, and
/// `E_ε λ(σ)‖D − x_0‖² = (σ² ‖x_0‖² / σ_d² + d σ_d²) / (σ² + σ_d²)` (d pixels).
#[test]
fn image_loss_at_init_matches_closed_form() {
    let device = device();
    let set = digits(1797);
    let settings = tiny_settings(false, 256);
    let trainer = ImageTrainer::new(settings.clone(), set.clone(), &device, "test").expect("new");
    let sd = settings.sigma_data;
    let d = set.dim();
    // Realised per-sample value of λ‖c_skip (x_0 + σε) − x_0‖², on the host in f64.
    let realised = |b: &TrainingBatch| -> Vec<f64> {
        (0..b.size)
            .map(|i| {
                let s = f64::from(b.sigma[i]);
                let c_skip = sd * sd / (s * s + sd * sd);
                let lambda = (s * s + sd * sd) / (s * sd).powi(2);
                let row = i * d..(i + 1) * d;
                let sq: f64 = b.x0[row.clone()]
                    .iter()
                    .zip(&b.noise[row])
                    .map(|(&x, &e)| {
                        let (x, e) = (f64::from(x), f64::from(e));
                        (c_skip * (x + s * e) - x).powi(2)
                    })
                    .sum();
                lambda * sq
            })
            .collect()
    };
    // 1. The network's loss is exactly that (f32 round-off only).
    let batch = TrainingBatch::draw(&set, &settings, 0, 0);
    let got = f64::from(batch.loss(trainer.net(), &device).into_scalar::<f32>());
    let host = realised(&batch);
    let want = host.iter().sum::<f64>() / host.len() as f64;
    assert!(got.is_finite());
    assert!(
        (got - want).abs() < 1e-4 * want,
        "loss {got} vs host {want}"
    );

    // 2. Its expectation over ε and σ ~ p_EDM is the closed form, within Monte-Carlo error:
    // 40 batches of 256 (host only) against a quadrature over ln σ ~ N(−1.2, 1.2²) (clamped).
    let mean_sq = set
        .pixels
        .chunks_exact(d)
        .map(|r| r.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>())
        .sum::<f64>()
        / set.len() as f64;
    let per_sigma = |s: f64| (s * s * mean_sq / (sd * sd) + d as f64 * sd * sd) / (s * s + sd * sd);
    let (n_grid, lo, hi) = (20_000, -1.2 - 8.0 * 1.2, -1.2 + 8.0 * 1.2);
    let mut expected = 0.0;
    for k in 0..n_grid {
        let ln_s = lo + (k as f64 + 0.5) * (hi - lo) / n_grid as f64;
        let z = (ln_s + 1.2) / 1.2;
        let pdf = (-0.5 * z * z).exp() / (1.2 * (2.0 * std::f64::consts::PI).sqrt());
        expected += pdf * per_sigma(ln_s.exp().clamp(0.002, 80.0)) * (hi - lo) / n_grid as f64;
    }
    let values: Vec<f64> = (0..40u64)
        .flat_map(|step| realised(&TrainingBatch::draw(&set, &settings, 0, step)))
        .collect();
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let se = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt() / n.sqrt();
    println!(
        "EDM loss at init (digits, d = {d}, E‖x0‖² = {mean_sq:.2}): closed form {expected:.3}, \
         Monte Carlo {mean:.3} ± {se:.3}, network batch {got:.3}"
    );
    assert!(
        (mean - expected).abs() < 4.0 * se,
        "{mean} ± {se} vs {expected}"
    );
    // The data's second moment per pixel is not σ_d², so the value is not d: a check that the
    // closed form is not trivially satisfied.
    assert!((expected - d as f64).abs() > 10.0, "{expected}");
    assert_eq!(
        SigmaDistribution::Edm.log_normal_params(),
        Some((-1.2, 1.2)),
        "the quadrature assumes p_EDM"
    );
}

#[test]
fn a_few_steps_decrease_the_loss() {
    let device = device();
    let set = digits(64);
    let settings = tiny_settings(true, 32);
    let mut trainer =
        ImageTrainer::new(settings.clone(), set.clone(), &device, "test").expect("new");
    // A fixed held-out draw of (x_0, σ, ε), larger than a training batch.
    let probe_settings = ImageTeacherSettings {
        batch: 256,
        ..settings
    };
    let probe = TrainingBatch::draw(&set, &probe_settings, 10, u64::MAX);
    let eval = |net: &UNetDenoiser| f64::from(probe.loss(net, &device).into_scalar::<f32>());
    let before = eval(trainer.net());
    let mut reports = Vec::new();
    for _ in 0..40 {
        reports.push(trainer.step());
    }
    let after = eval(trainer.net());
    println!("probe loss {before:.3} → {after:.3} after 40 steps");
    assert!(
        reports
            .iter()
            .all(|r| r.loss.is_finite() && r.nonfinite_grads == 0)
    );
    assert_eq!(reports[0].lr, 1e-3, "warm-up: half the peak at step 0 of 2");
    assert_eq!(reports[39].step, 40);
    assert!(after < 0.8 * before, "{before} → {after}");
}

#[test]
fn resume_is_bit_identical_to_a_straight_run() {
    let device = device();
    let set = digits(48);
    let settings = tiny_settings(true, 16);
    let dir = tempfile::tempdir().expect("tempdir");
    let (straight_path, resumed_path, half_path) = (
        dir.path().join("straight.safetensors"),
        dir.path().join("resumed.safetensors"),
        dir.path().join("half.safetensors"),
    );
    let mut straight = ImageTrainer::new(settings.clone(), set.clone(), &device, "a").expect("new");
    for _ in 0..6 {
        straight.step();
    }
    straight.save_checkpoint(&straight_path).expect("save");

    let mut first = ImageTrainer::new(settings, set.clone(), &device, "a").expect("new");
    for _ in 0..3 {
        first.step();
    }
    first.save_checkpoint(&half_path).expect("save half");
    drop(first);
    let mut resumed = ImageTrainer::resume(&half_path, set.clone(), &device, "b").expect("resume");
    assert_eq!(resumed.step_count(), 3);
    let mut losses = Vec::new();
    for _ in 0..3 {
        losses.push(resumed.step().loss);
    }
    resumed.save_checkpoint(&resumed_path).expect("save");
    assert_eq!(flat(resumed.net()), flat(straight.net()), "network");
    assert_eq!(flat(resumed.ema()), flat(straight.ema()), "EMA");
    let (a, b) = (
        checkpoint_tensors(&straight_path),
        checkpoint_tensors(&resumed_path),
    );
    assert_eq!(a.len(), b.len());
    assert!(
        a.keys().any(|k| k.starts_with("adam.m.")) && a.keys().any(|k| k.starts_with("adam.v."))
    );
    assert_eq!(
        a, b,
        "every tensor of the checkpoints, Adam moments included"
    );
    assert!(losses.iter().all(|l| l.is_finite()));

    // Another data set is refused, naming the checkpoint.
    let err = ImageTrainer::resume(&half_path, digits(47), &device, "c")
        .expect_err("other data")
        .to_string();
    assert!(
        err.contains("half.safetensors") && err.contains("other images"),
        "{err}"
    );
}

#[test]
fn teacher_file_round_trip_gives_identical_outputs() {
    let device = device();
    let set = digits(40);
    let mut trainer =
        ImageTrainer::new(tiny_settings(true, 8), set.clone(), &device, "train it").expect("new");
    for _ in 0..3 {
        trainer.step();
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("teacher.safetensors");
    let info = trainer.save_teacher(&path).expect("save");
    let loaded = load_image_teacher(&path, &device).expect("load");
    assert_eq!(loaded.info, info);
    assert_eq!(loaded.info.unet.classes, 10);
    assert_eq!(
        (loaded.info.steps, loaded.info.command.as_str()),
        (3, "train it")
    );
    assert_eq!(flat(&loaded.net), flat(trainer.ema()));
    let x = Tensor::<2>::from_data(
        TensorData::new(set.pixels[..4 * 64].to_vec(), [4, 64]),
        &device,
    );
    let s = Tensor::<2>::from_floats([[0.01], [0.3], [2.0], [40.0]], &device);
    let y = || {
        Some(
            trainer
                .ema()
                .one_hot(Tensor::<1, Int>::from_ints([0, 3, 7, 9], &device)),
        )
    };
    let original = trainer.ema().denoise_labelled(
        x.clone().inner(),
        s.clone().inner(),
        y().map(Tensor::inner),
    );
    let reloaded = loaded.net.denoise_labelled(x, s, y());
    let original: Vec<f32> = original.try_into_vec_as().expect("f32");
    let reloaded: Vec<f32> = reloaded.inner().try_into_vec_as().expect("f32");
    assert_eq!(original, reloaded);
    assert!(original.iter().all(|v| v.is_finite()));
    // The EMA moved away from the zero-initialised output: the network is no longer c_skip·x.
    assert!(flat(&loaded.net)["output.weight"].iter().any(|&w| w != 0.0));
}

#[test]
fn sampling_gives_finite_images_of_the_right_shape() {
    let device = device();
    let mut trainer =
        ImageTrainer::new(tiny_settings(true, 8), digits(20), &device, "t").expect("new");
    trainer.step();
    let net = trainer.ema();
    let labels = [0usize, 1, 2, 9, 9];
    let images = sample_images(net, 5, 3, Some(&labels), 7).expect("sample");
    assert_eq!(images.len(), 5 * 64);
    assert!(images.iter().all(|v| v.is_finite()));
    assert_eq!(
        images,
        sample_images(net, 5, 3, Some(&labels), 7).expect("again")
    );
    assert_ne!(
        images,
        sample_images(net, 5, 3, Some(&labels), 8).expect("seed 8")
    );
    for (labels, why) in [
        (None, "class-conditional"),
        (Some(&[0usize, 1][..]), "2 labels for 5 images"),
        (Some(&[0usize, 1, 2, 3, 10][..]), "0..10"),
    ] {
        let err = sample_images(net, 5, 3, labels, 7)
            .expect_err(why)
            .to_string();
        assert!(err.contains(why), "{err}");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("grid.png");
    let pixels = write_sample_grid(net, &path, 3, 2, 0, 4).expect("grid");
    assert_eq!(pixels.len(), 10 * 3 * 64, "one row per class");
    let png = image::open(&path).expect("png").to_rgb8();
    assert_eq!(
        png.dimensions(),
        crate::store::image_grid::grid_size(30, 8, 8, 3, 4)
    );
}

#[test]
fn bad_teacher_files_name_the_file_and_the_fix() {
    let device = device();
    let dir = tempfile::tempdir().expect("tempdir");
    let garbage = dir.path().join("garbage.safetensors");
    std::fs::write(&garbage, b"definitely not safetensors").expect("write");
    let err = load_image_teacher(&garbage, &device)
        .expect_err("garbage")
        .to_string();
    assert!(
        err.contains("garbage.safetensors") && err.contains("not a safetensors file"),
        "{err}"
    );

    // A valid teacher, then truncated.
    let mut trainer =
        ImageTrainer::new(tiny_settings(false, 4), digits(8), &device, "t").expect("new");
    trainer.step();
    let good = dir.path().join("good.safetensors");
    trainer.save_teacher(&good).expect("save");
    let bytes = std::fs::read(&good).expect("read");
    let cut = dir.path().join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let err = load_image_teacher(&cut, &device)
        .expect_err("truncated")
        .to_string();
    assert!(
        err.contains("cut.safetensors") && err.contains("truncated"),
        "{err}"
    );

    // A checkpoint is not a teacher (and a teacher is not a checkpoint).
    let ckpt = dir.path().join("ckpt.safetensors");
    trainer.save_checkpoint(&ckpt).expect("checkpoint");
    let err = load_image_teacher(&ckpt, &device)
        .expect_err("checkpoint")
        .to_string();
    assert!(
        err.contains("ckpt.safetensors") && err.contains("not an image teacher"),
        "{err}"
    );
    let err = ImageTrainer::resume(&good, digits(8), &device, "r")
        .expect_err("teacher as checkpoint")
        .to_string();
    assert!(
        err.contains("good.safetensors") && err.contains("not an image-teacher checkpoint"),
        "{err}"
    );

    // A damaged metadata field is named.
    let mut file = crate::store::tensor_file::TensorFile::read(&good).expect("read");
    file.metadata
        .insert("unet".into(), "channels = \"many\"".into());
    let damaged = dir.path().join("damaged.safetensors");
    file.write(&damaged).expect("write");
    let err = load_image_teacher(&damaged, &device)
        .expect_err("damaged")
        .to_string();
    assert!(
        err.contains("damaged.safetensors") && err.contains("metadata `unet`"),
        "{err}"
    );
    assert!(err.contains("train-image-teacher"), "{err}");
    let mut file = crate::store::tensor_file::TensorFile::read(&good).expect("read");
    file.metadata.remove("sigma_data");
    file.write(&damaged).expect("write");
    let err = load_image_teacher(&damaged, &device)
        .expect_err("missing")
        .to_string();
    assert!(
        err.contains("damaged.safetensors") && err.contains("`sigma_data` is missing"),
        "{err}"
    );
}

#[test]
fn batches_depend_on_seed_and_step_only_and_flips_mirror_rows() {
    let set = digits(30);
    let plain = tiny_settings(true, 24);
    let a = TrainingBatch::draw(&set, &plain, 10, 5);
    assert_eq!(a, TrainingBatch::draw(&set, &plain, 10, 5));
    assert_ne!(a, TrainingBatch::draw(&set, &plain, 10, 6));
    assert_eq!(
        (a.x0.len(), a.noise.len(), a.sigma.len()),
        (24 * 64, 24 * 64, 24)
    );
    assert!(a.labels.len() == 24 && a.labels.iter().all(|&l| l < 10));
    assert!(TrainingBatch::draw(&set, &plain, 0, 5).labels.is_empty());
    // With flips the same images are drawn (indices come first); each is kept or mirrored.
    let flipped = ImageTeacherSettings {
        hflip: true,
        ..plain
    };
    let b = TrainingBatch::draw(&set, &flipped, 10, 5);
    let mirror = |img: &[f32]| -> Vec<f32> {
        img.chunks_exact(8)
            .flat_map(|row| row.iter().rev().copied())
            .collect()
    };
    let mut mirrored = 0;
    for (orig, got) in a.x0.chunks_exact(64).zip(b.x0.chunks_exact(64)) {
        if got != orig {
            assert_eq!(got, mirror(orig).as_slice());
            mirrored += 1;
        }
    }
    assert_eq!(a.labels, b.labels);
    assert!((4..=20).contains(&mirrored), "{mirrored} of 24 mirrored");
}
