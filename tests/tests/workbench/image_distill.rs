//! Image distillation through the same engine: a tiny random U-Net teacher on the shipped 8×8
//! digits, a few iterations, evaluation and view, exact resume, and the errors that keep toy
//! teachers and image data apart.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use sim_engine::config::RunConfig;
use sim_engine::data::images::ImageSource;
use sim_engine::device::BackendChoice;
use sim_engine::distill::iteration::IterationStats;
use sim_engine::metrics::Metrics;
use sim_engine::nets::unet::{UNetConfig, UNetDenoiser};
use sim_engine::optim::params::map_params;
use sim_engine::rng::{Stream, normal, rng_for};
use sim_engine::run::{Run, RunOptions};
use sim_engine::teacher::image::{ImageTeacherInfo, ImageTeacherSettings, save_image_teacher};

/// Writes a tiny random 8×8 digits teacher (8 channels; `classes` = 0 or 10) with every
/// parameter perturbed, so that its output depends on its input, σ and the class.
fn tiny_teacher(dir: &Path, classes: usize) -> PathBuf {
    let device = Device::flex();
    let unet = UNetConfig {
        channels: 8,
        channel_mult: vec![1, 2],
        attention: false,
        noise_frequencies: 4,
        classes,
        ..UNetConfig::default()
    };
    let mut rng = rng_for(11, 0, Stream::Other(2));
    let net = UNetDenoiser::new(&unet, 0.5, &mut rng, &device).expect("U-Net");
    let net = map_params(net, None, |_, value, _| {
        let n = value.dims()[0];
        value.add(Tensor::<1>::from_data(
            TensorData::new(normal(&mut rng, n, 0.05), [n]),
            &device,
        ))
    });
    let info = ImageTeacherInfo {
        unet: unet.clone(),
        sigma_data: 0.5,
        data_name: "sklearn digits".into(),
        training: ImageTeacherSettings {
            conditional: classes > 0,
            unet,
            ..ImageTeacherSettings::default()
        },
        steps: 0,
        wall_time_s: 0.0,
        command: "test".into(),
    };
    let path = dir.join(format!("tiny-{classes}.safetensors"));
    save_image_teacher(&path, &net, &info).expect("save teacher");
    path
}

/// The shipped digits classifier (tests run in `tests/`, not the repository root).
fn digits_cnn() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/classifiers/digits-cnn.safetensors")
}

fn config(teacher: &Path, overrides: &[&str]) -> RunConfig {
    let text = format!(
        "name = \"tiny-digits\"\n[data]\nkind = \"digits\"\n[teacher]\nkind = \"network\"\n\
         path = \"{}\"\n[distill]\nbatch = 4\n[eval]\nsamples = 64\nclassifier = \"{}\"\n",
        teacher.display(),
        digits_cnn().display()
    );
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    RunConfig::parse(&text, "tiny.toml", &overrides).expect("valid image config")
}

fn options(runs: Option<&Path>) -> RunOptions {
    RunOptions {
        runs_dir: runs.map(Path::to_owned),
        cache_dir: None,
        backend: BackendChoice::Cpu,
        ..RunOptions::default()
    }
}

/// A run on a tiny conditional teacher written to `dir`, with its run folder in `dir/runs`.
fn conditional_run(dir: &Path) -> Run {
    let teacher = tiny_teacher(dir, 10);
    let options = options(Some(&dir.join("runs")));
    Run::start(config(&teacher, &[]), &options, &mut |_, _| {}).expect("image run starts")
}

/// A diagnosed image iteration shows its first samples (all 4 of the batch) as rows of 8×8.
#[test]
fn an_image_iteration_shows_its_samples_in_the_diagnostics() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let teacher = tiny_teacher(tmp.path(), 0);
    let config = config(&teacher, &["eval.diagnostics_every=1"]);
    let mut run = Run::start(config, &options(None), &mut |_, _| {}).expect("image run starts");
    run.step().expect("step");
    let d = run.take_diagnostics().expect("diagnostics");
    let rows = d.rows.expect("image rows");
    assert_eq!((rows.count, rows.sigma.len()), (4, 4));
    for part in [&rows.x0, &rows.teacher, &rows.fake, &rows.d_prime] {
        assert_eq!(part.len(), 4 * 64);
        assert!(part.iter().all(|v| v.is_finite()));
    }
    let sigma: Vec<f32> = d.samples.iter().map(|s| s.sigma).collect();
    assert_eq!(rows.sigma, sigma);
    assert_eq!(d.bins.len(), 1);
}

fn finite(stats: &IterationStats) -> bool {
    [
        stats.loss_generator,
        stats.loss_fake,
        stats.grad_norm_generator,
        stats.grad_norm_fake,
    ]
    .iter()
    .all(|v| v.is_finite())
}

#[test]
fn conditional_image_run_steps_evaluates_and_draws_grids() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut run = conditional_run(tmp.path());
    for _ in 0..3 {
        let stats = run.step().expect("step");
        assert!(finite(&stats), "{stats:?}");
        assert!(stats.grad_norm_generator > 0.0 && stats.grad_norm_fake > 0.0);
        assert_eq!((stats.dropped_samples, stats.sanitized_grads), (0, 0));
    }
    assert!(
        run.take_diagnostics().is_none(),
        "diagnostics every 50 iterations"
    );
    let (metrics, view) = run.evaluate().expect("evaluate");
    let Metrics::Image(m) = &metrics else {
        panic!("an image run reports image metrics: {metrics:?}");
    };
    assert!(m.fid.is_finite() && m.fid > 0.0, "{m:?}");
    assert!((1.0..=10.0).contains(&m.is), "{m:?}");
    assert_eq!((m.samples, m.feature_net.as_str()), (64, "digits-CNN"));
    assert_eq!(metrics.describe().split(' ').next(), Some("FID"));
    assert_eq!(view.image_shape, Some([1, 8, 8]));
    assert_eq!((view.dim, view.columns), (64, 10));
    // One row per class: 10 classes × 10 columns, the same labels on both sides.
    let labels = view.labels.clone().expect("conditional view has labels");
    assert_eq!(labels.len(), 100);
    assert_eq!((labels[0], labels[9], labels[10], labels[99]), (0, 0, 1, 9));
    assert_eq!(view.student.len(), 100 * 64);
    assert_eq!(view.teacher.len(), 100 * 64);
    assert!(
        view.student
            .iter()
            .chain(&view.teacher)
            .all(|v| v.is_finite())
    );
    let png = run.snapshot(&view).expect("snapshot").expect("run folder");
    let (w, h) = image_size(&png);
    // 21 tiles (10 teacher, a blank, 10 student) of 8×4 pixels plus 2-pixel gaps; 10 rows.
    assert_eq!((w, h), (21 * 34 + 2, 10 * 34 + 2));
    let checkpoint = run.checkpoint().expect("checkpoint").expect("path");
    assert!(checkpoint.is_file());
    let lines = std::fs::read_to_string(run.dir().expect("dir").join("metrics.jsonl"))
        .expect("metrics.jsonl");
    let eval: serde_json::Value = lines
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["event"] == "eval")
        .expect("an eval line");
    assert!(
        eval["fid"].is_f64() && eval["feature_net"].is_string(),
        "{eval}"
    );
}

/// PNG width and height from its IHDR chunk.
fn image_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).expect("png");
    let be = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    (be(16), be(20))
}

#[test]
fn image_resume_is_bit_exact() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let teacher = tiny_teacher(tmp.path(), 10);
    let cfg = config(&teacher, &[]);
    let mut straight = Run::start(cfg.clone(), &options(None), &mut |_, _| {}).expect("start");
    let full: Vec<IterationStats> = (0..4).map(|_| straight.step().expect("step")).collect();

    let runs = tmp.path().join("runs");
    let mut first = Run::start(cfg, &options(Some(&runs)), &mut |_, _| {}).expect("start");
    for _ in 0..2 {
        first.step().expect("step");
    }
    first.checkpoint().expect("checkpoint");
    let dir = first.dir().expect("dir").to_owned();
    drop(first);
    let mut resumed = Run::resume(&dir, None, &options(Some(&runs))).expect("resume");
    assert_eq!(resumed.step_index(), 2);
    let rest: Vec<IterationStats> = (0..2).map(|_| resumed.step().expect("step")).collect();
    assert_eq!(
        &full[2..],
        &rest[..],
        "resumed iterations must equal the straight ones"
    );
}

#[test]
fn unconditional_teacher_makes_an_unconditional_run() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let teacher = tiny_teacher(tmp.path(), 0);
    let mut run = Run::start(config(&teacher, &[]), &options(None), &mut |_, _| {}).expect("start");
    assert!(finite(&run.step().expect("step")));
    let (_, view) = run.evaluate().expect("evaluate");
    assert_eq!(view.labels, None);
    assert_eq!(view.student.len(), 100 * 64, "a 10 × 10 grid");
}

#[test]
fn toy_teachers_and_image_data_do_not_mix() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // The exact teacher with image data: a config error naming the field and the fix.
    let err = RunConfig::parse("[data]\nkind = \"digits\"\n", "bad.toml", &[])
        .expect_err("exact teacher for images")
        .to_string();
    assert!(
        err.contains("bad.toml") && err.contains("teacher.kind") && err.contains("network"),
        "{err}"
    );

    // An MLP teacher file with image data.
    let mlp = tmp.path().join("mlp.safetensors");
    let device = Device::flex().autodiff();
    let toy = sim_engine::data::toy::ToyData::default();
    let net = sim_engine::nets::mlp::MlpDenoiser::new(
        &Default::default(),
        2,
        0.5,
        &mut rng_for(0, 0, Stream::Init),
        &device,
    );
    sim_engine::teacher::mlp_file::save_network(&mlp, &net, &Default::default(), &toy)
        .expect("save");
    let err = Run::start(config(&mlp, &[]), &options(None), &mut |_, _| {})
        .err()
        .expect("an MLP teacher cannot distil digits")
        .to_string();
    assert!(
        err.contains("teacher.path") && err.contains("train-image-teacher"),
        "{err}"
    );

    // An image teacher with toy data.
    let image = tiny_teacher(tmp.path(), 10);
    let text = format!(
        "[teacher]\nkind = \"network\"\npath = \"{}\"\n",
        image.display()
    );
    let cfg = RunConfig::parse(&text, "toy.toml", &[]).expect("valid config");
    let err = Run::start(cfg, &options(None), &mut |_, _| {})
        .err()
        .expect("an image teacher cannot distil the ring")
        .to_string();
    assert!(err.contains("data.kind") && err.contains("digits"), "{err}");

    // An image teacher trained on other data than the preset's.
    let cfg = config(&image, &["data.kind=fashion_mnist"]);
    assert_eq!(
        cfg.data.image(),
        Some(&ImageSource::FashionMnist {
            split: Default::default()
        })
    );
    let err = Run::start(cfg, &options(None), &mut |_, _| {})
        .err()
        .expect("digits teacher, Fashion-MNIST data")
        .to_string();
    assert!(err.contains("trained on sklearn digits"), "{err}");
}

/// `Run::open` (what `sim-workbench eval --run` uses) scores a saved student exactly as the run
/// did, with another sample count on request, and writes nothing to the run folder.
#[test]
fn opened_checkpoint_scores_like_the_run_and_writes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut run = conditional_run(tmp.path());
    for _ in 0..2 {
        run.step().expect("step");
    }
    run.checkpoint().expect("checkpoint");
    let (metrics, _) = run.evaluate().expect("evaluate");
    let folder = run.dir().expect("dir").to_owned();
    let log = std::fs::read(folder.join("metrics.jsonl")).expect("metrics.jsonl");
    let opened = Run::open(&folder, None, &[], &options(None)).expect("open");
    assert_eq!(opened.step_index(), 2);
    assert_eq!(opened.score().expect("score"), metrics);
    let more = Run::open(
        &folder,
        Some(2),
        &["eval.samples=80".into()],
        &options(None),
    )
    .expect("open at step 2");
    let Metrics::Image(m) = more.score().expect("score") else {
        panic!("image metrics");
    };
    assert_eq!(m.samples, 80);
    assert_eq!(
        std::fs::read(folder.join("metrics.jsonl")).expect("metrics.jsonl"),
        log,
        "scoring must not write to the run folder"
    );
    let Err(missing) = Run::open(&folder, Some(7), &[], &options(None)) else {
        panic!("step 7 has no checkpoint");
    };
    let message = missing.to_string();
    assert!(
        message.contains("no checkpoint of step 7") && message.contains("step 2"),
        "{message}"
    );
}
