//! `sim-workbench train-classifier`: the CNN whose features and softmax give an image data set's
//! FID and IS (e.g. "FID (digits-CNN)"), trained and saved as safetensors.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use sim_engine::data::images::{ImageSource, Split};
use sim_engine::device::select;
use sim_engine::metrics::classifier::{ClassifierInfo, TrainedClassifier};
use sim_engine::metrics::train_classifier::{
    ClassifierTraining, DEFAULT_TEST_FRACTION, accuracy, load_splits, train_classifier,
};
use sim_engine::nets::classifier::ClassifierConfig;

use super::run::BackendArg;

#[derive(Args, Debug)]
pub struct TrainClassifierArgs {
    /// Data set: digits, fashion-mnist, idx:DIR (MNIST-format files) or cifar10:DIR.
    #[arg(long, value_name = "SPEC")]
    data: String,
    /// Output safetensors file.
    #[arg(long)]
    out: PathBuf,
    /// Passes over the training images.
    #[arg(long, default_value_t = 30)]
    epochs: usize,
    /// Seed of the initialisation, shuffles and shifts.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Images per Adam step.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Peak learning rate (cosine decay to 0).
    #[arg(long, default_value_t = 2e-3)]
    lr: f64,
    /// Random shifts of up to ± this many pixels (default: 1 below 16 px, else 2; 0 = off).
    #[arg(long)]
    shift: Option<usize>,
    /// Pad images to SIZE×SIZE first (e.g. 32 for 28×28 data that a model sees padded).
    #[arg(long, value_name = "SIZE")]
    pad: Option<usize>,
    /// Channels of the two convolution blocks, e.g. `--widths 16 32`.
    #[arg(long, value_names = ["W0", "W1"], num_args = 2, default_values_t = [32, 64])]
    widths: Vec<usize>,
    /// Width of the feature (penultimate) layer.
    #[arg(long, default_value_t = 128)]
    features: usize,
    /// Held-out fraction for data sets without a test split (digits).
    #[arg(long, default_value_t = DEFAULT_TEST_FRACTION)]
    test_fraction: f64,
    /// Seed of that split.
    #[arg(long, default_value_t = 0)]
    split_seed: u64,
    /// Feature-network name quoted with the scores (default: from the data, e.g. digits-CNN).
    #[arg(long)]
    name: Option<String>,
    /// Backend.
    #[arg(long, value_enum, default_value_t)]
    backend: BackendArg,
}

pub fn run(args: TrainClassifierArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let (source, default_name) = parse_data(&args.data)?;
    let mut splits = load_splits(&source, args.test_fraction, args.split_seed)
        .with_context(|| format!("--data {}", args.data))?;
    if let Some(size) = args.pad {
        splits.train = splits.train.pad_to(size)?;
        splits.test = splits.test.pad_to(size)?;
    }
    let (train, test) = (&splits.train, &splits.test);
    let &[w0, w1] = args.widths.as_slice() else {
        bail!("--widths takes two numbers, got {:?}", args.widths);
    };
    let config = ClassifierConfig {
        widths: [w0, w1],
        features: args.features,
        ..ClassifierConfig::new(train.channels, train.height, train.width, train.classes)
    };
    let settings = ClassifierTraining {
        epochs: args.epochs,
        batch: args.batch,
        lr: args.lr,
        seed: args.seed,
        max_shift: args.shift.unwrap_or(if train.height < 16 { 1 } else { 2 }),
    };
    settings
        .validate()
        .map_err(|e| super::flag_error(e, &[("max_shift", "shift")]))?;
    let selected = select(args.backend.into(), &sim_workbench::probe::adapter_probe())?;
    println!(
        "train-classifier: {} ({}×{}×{}, {} classes) on {}; {}",
        args.data,
        train.channels,
        train.height,
        train.width,
        train.classes,
        selected.description,
        splits.description
    );
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "[{elapsed_precise}] {bar:30} {pos}/{len} steps {per_sec} eta {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut smoothed: Option<f64> = None;
    let mut diverged = None;
    let net = train_classifier(&config, train, &settings, &selected.device, &mut |p| {
        if !p.loss.is_finite() {
            diverged = Some((p.step, p.loss));
            return false;
        }
        let s = smoothed.map_or(p.loss, |s| 0.98 * s + 0.02 * p.loss);
        smoothed = Some(s);
        if p.step == 1 {
            bar.set_length(p.steps);
        }
        if p.step % 10 == 0 || p.step == p.steps {
            bar.set_position(p.step);
            bar.set_message(format!("epoch {} loss {s:.4}", p.epoch + 1));
        }
        true
    })?;
    if let Some((step, loss)) = diverged {
        bar.abandon();
        return Ok(super::diverged(step, loss, &args.out, args.lr));
    }
    bar.finish();
    let train_seconds = started.elapsed().as_secs_f64();
    let test_accuracy = accuracy(&net, test)?;
    let train_accuracy = accuracy(&net, train)?;
    let pad = args
        .pad
        .map_or(String::new(), |s| format!(", padded to {s}×{s}"));
    let classifier = TrainedClassifier {
        net,
        info: ClassifierInfo {
            name: args.name.unwrap_or(default_name),
            data: format!("{}{pad}", args.data),
            split: splits.description.clone(),
            test_accuracy,
            train_seconds,
            command: command_line(),
        },
    };
    classifier.save(&args.out)?;
    let bytes = std::fs::metadata(&args.out)
        .with_context(|| format!("{}", args.out.display()))?
        .len();
    println!(
        "{}: test accuracy {:.2} % ({} images), train accuracy {:.2} %, wall {train_seconds:.1} s; \
         saved {} ({:.1} KiB)",
        classifier.info.name,
        100.0 * test_accuracy,
        test.len(),
        100.0 * train_accuracy,
        args.out.display(),
        bytes as f64 / 1024.0
    );
    Ok(ExitCode::SUCCESS)
}

/// The image source of a `--data` spec and the default feature-network name.
fn parse_data(spec: &str) -> Result<(ImageSource, String)> {
    let split = Split::Train;
    let dir_name = |dir: &str| {
        PathBuf::from(dir)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "idx".into())
    };
    Ok(match spec.split_once(':') {
        None if spec == "digits" => (ImageSource::Digits, "digits-CNN".into()),
        None if spec == "fashion-mnist" => (
            ImageSource::FashionMnist { split },
            "fashion-mnist-CNN".into(),
        ),
        Some(("idx", dir)) if !dir.is_empty() => (
            ImageSource::Idx {
                dir: dir.into(),
                split,
            },
            format!("{}-CNN", dir_name(dir)),
        ),
        Some(("cifar10", dir)) if !dir.is_empty() => (
            ImageSource::Cifar10 {
                dir: dir.into(),
                split,
            },
            "cifar10-CNN".into(),
        ),
        _ => bail!(
            "--data {spec}: expected digits, fashion-mnist, idx:DIR (MNIST-format IDX files) \
             or cifar10:DIR (CIFAR-10 binary batches)"
        ),
    })
}

/// This process's command line, with the program called `sim-workbench`.
fn command_line() -> String {
    std::iter::once("sim-workbench".to_owned())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: TrainClassifierArgs,
    }

    #[test]
    fn flags_parse() {
        let parse = |extra: &[&str]| {
            let base = ["x", "--data", "digits", "--out", "o.safetensors"];
            Wrapper::try_parse_from(base.iter().chain(extra)).map(|w| w.args)
        };
        let args = parse(&[]).expect("defaults");
        assert_eq!(
            (args.widths, args.epochs, args.shift),
            (vec![32, 64], 30, None)
        );
        let args = parse(&["--widths", "16", "32", "--shift", "0"]).expect("widths");
        assert_eq!((args.widths, args.shift), (vec![16, 32], Some(0)));
        assert!(parse(&["--widths", "16"]).is_err());
    }

    #[test]
    fn data_specs_parse() {
        assert_eq!(
            parse_data("digits").expect("digits"),
            (ImageSource::Digits, "digits-CNN".into())
        );
        assert_eq!(
            parse_data("idx:/data/mnist").expect("idx").1,
            "mnist-CNN".to_owned()
        );
        assert!(matches!(
            parse_data("cifar10:c").expect("cifar").0,
            ImageSource::Cifar10 { .. }
        ));
        let err = parse_data("mnist").expect_err("unknown");
        assert!(err.to_string().contains("expected digits"), "{err}");
        assert!(parse_data("idx:").is_err());
    }
}
