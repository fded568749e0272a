//! The shipped 8×8 digits teachers (`assets/teachers/`): they load, sample finite images of the
//! right shape, and their samples resemble the data (mean image; for the conditional teacher,
//! the class asked for, by nearest class mean).

use std::path::PathBuf;

use burn::prelude::*;
use sim_engine::data::images::{ImageSet, ImageSource};
use sim_engine::run::image::{ImageJudge, score_teacher};
use sim_engine::teacher::image::{ImageTeacher, load_image_teacher, sample_images};

fn shipped(name: &str) -> ImageTeacher {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../assets/teachers")
        .join(name);
    load_image_teacher(&path, &Device::flex()).expect("shipped teacher loads")
}

/// Mean image of the rows of `pixels` (`[n, 64]`) whose label is `class` (all rows for None).
fn mean_image(pixels: &[f32], labels: &[usize], class: Option<usize>) -> Vec<f64> {
    let mut sum = vec![0.0f64; 64];
    let mut n = 0.0;
    for (row, &label) in pixels.chunks_exact(64).zip(labels) {
        if class.is_none_or(|c| c == label) {
            for (s, &v) in sum.iter_mut().zip(row) {
                *s += f64::from(v);
            }
            n += 1.0;
        }
    }
    sum.iter().map(|s| s / n).collect()
}

fn distance(a: &[f64], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(a, &b)| (a - f64::from(b)).powi(2))
        .sum::<f64>()
        .sqrt()
}

fn digits() -> (ImageSet, Vec<usize>) {
    let set = ImageSource::Digits.load().expect("digits");
    let labels = set.labels.iter().map(|&l| usize::from(l)).collect();
    (set, labels)
}

#[test]
fn shipped_unconditional_digits_teacher_samples_digit_like_images() {
    let teacher = shipped("digits-uncond.safetensors");
    let info = &teacher.info;
    assert_eq!(info.data_name, "sklearn digits");
    assert_eq!(
        (
            info.unet.image_channels,
            info.unet.image_size,
            info.unet.classes
        ),
        (1, 8, 0)
    );
    assert_eq!(info.sigma_data, 0.5);
    assert!(info.steps >= 1000, "{}", info.steps);
    let n = 100;
    let images = sample_images(&teacher.net, n, 18, None, 1).expect("sample");
    assert_eq!(images.len(), n * 64);
    assert!(images.iter().all(|v| v.is_finite()));
    let inside = images.iter().filter(|v| v.abs() <= 1.1).count() as f64 / images.len() as f64;
    let (set, labels) = digits();
    let data_mean = mean_image(&set.pixels, &labels, None);
    let sample_mean: Vec<f32> = mean_image(&images, &vec![0; n], None)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let gap = distance(&data_mean, &sample_mean) / 8.0;
    println!("uncond: {inside:.3} of values in [-1.1, 1.1]; RMS mean-image gap {gap:.3}");
    assert!(inside > 0.95, "{inside}");
    assert!(gap < 0.08, "{gap}");
}

#[test]
fn shipped_conditional_digits_teacher_draws_the_class_asked_for() {
    let teacher = shipped("digits-cond.safetensors");
    assert_eq!(teacher.info.unet.classes, 10);
    assert!(teacher.info.training.conditional);
    let per_class = 10;
    let asked: Vec<usize> = (0..10).flat_map(|k| vec![k; per_class]).collect();
    let images = sample_images(&teacher.net, asked.len(), 18, Some(&asked), 2).expect("sample");
    assert_eq!(images.len(), asked.len() * 64);
    assert!(images.iter().all(|v| v.is_finite()));
    // Nearest class mean of the data (a crude classifier: ~90% right on the data itself).
    let (set, labels) = digits();
    let centroids: Vec<Vec<f64>> = (0..10)
        .map(|k| mean_image(&set.pixels, &labels, Some(k)))
        .collect();
    let classify = |row: &[f32]| {
        (0..10)
            .min_by(|&a, &b| distance(&centroids[a], row).total_cmp(&distance(&centroids[b], row)))
            .unwrap_or(0)
    };
    let on_data = set
        .pixels
        .chunks_exact(64)
        .zip(&labels)
        .filter(|(row, l)| classify(row) == **l)
        .count() as f64
        / set.len() as f64;
    let on_samples = images
        .chunks_exact(64)
        .zip(&asked)
        .filter(|(row, l)| classify(row) == **l)
        .count() as f64
        / asked.len() as f64;
    println!("nearest-class-mean accuracy: data {on_data:.3}, conditional samples {on_samples:.3}");
    assert!(on_samples > 0.8, "{on_samples}");
}

/// The shipped conditional teacher's FID (digits-CNN) falls from 1 to 8 to 18 Heun steps, as
/// `sim-workbench eval --teacher … --steps 1 8 18` reports it (300 samples here; assets/README.md's
/// table uses 1,000). Two Heun steps are *not* in the chain: one trapezoid from σ = 80 to 0.002
/// leaves half the initial noise, so that FID is worse than one Euler step's.
#[test]
fn shipped_conditional_teacher_fid_falls_with_heun_steps() {
    let teacher = shipped("digits-cond.safetensors");
    let classifier = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../assets/classifiers/digits-cnn.safetensors");
    let judge =
        ImageJudge::for_teacher(Some(&classifier), &teacher, None, &Device::flex()).expect("judge");
    let fid = |steps| {
        let m = score_teacher(&teacher.net, &judge, 300, steps, 0).expect("score");
        assert_eq!((m.samples, m.feature_net.as_str()), (300, "digits-CNN"));
        m.fid
    };
    let (one, eight, eighteen) = (fid(1), fid(8), fid(18));
    assert!(
        eighteen < eight && eight < 0.5 * one,
        "FID at 1, 8, 18 steps: {one:.1}, {eight:.1}, {eighteen:.1}"
    );
    assert!(eighteen < 30.0, "FID at 18 steps: {eighteen:.1}");
}

/// The shipped Fashion-MNIST teacher loads as a 10-class 1×32×32 U-Net (28×28 padded) trained on
/// Fashion-MNIST, and samples finite images in the pixel range's neighbourhood (the data itself
/// is not needed).
#[test]
fn shipped_fashion_mnist_teacher_loads_and_samples() {
    let teacher = shipped("fashion-mnist-cond.safetensors");
    let unet = &teacher.info.unet;
    assert_eq!(
        (unet.classes, unet.image_channels, unet.image_size),
        (10, 1, 32)
    );
    assert_eq!(teacher.info.data_name, "Fashion-MNIST train");
    assert_eq!(teacher.info.steps, 1000);
    let labels: Vec<usize> = (0..10).collect();
    let pixels = sample_images(&teacher.net, 10, 18, Some(&labels), 0).expect("sample");
    assert_eq!(pixels.len(), 10 * 32 * 32);
    assert!(pixels.iter().all(|v| v.is_finite() && v.abs() < 3.0));
    // Padding: the 2-pixel border of a Fashion-MNIST teacher's sample is background (−1).
    let border_mean = pixels
        .chunks_exact(32 * 32)
        .flat_map(|img| img[..64].iter().copied())
        .sum::<f32>()
        / (10.0 * 64.0);
    assert!(border_mean < -0.9, "top border mean {border_mean}");
}
