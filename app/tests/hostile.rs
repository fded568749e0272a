//! The hostile-input suite: the CLI binary against presets, `--set` values, flags, teacher /
//! classifier / checkpoint files, run folders, caches and data files made hostile on purpose,
//! one test per class of failure (docs/hostile-input.md), several cases each. Every case asserts
//! the exit code, that the message names the file or field, and that nothing was written or
//! lost. All files are generated here (from the shipped assets), none is committed.
//!
//! It lives beside the binary it drives: Cargo gives the path of a package's binary
//! (`CARGO_BIN_EXE_…`) to that package's own integration tests only.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use safetensors::tensor::{Dtype, TensorView};

/// Exit code of bad input.
const BAD_INPUT: i32 = 2;
/// Exit code of a training that diverged.
const DIVERGED: i32 = 3;
/// No case may take longer: a hang is a failure, not a slow test.
const DEADLINE: Duration = Duration::from_secs(120);

/// What one command did.
#[derive(Debug)]
struct Outcome {
    args: Vec<String>,
    code: Option<i32>,
    stdout: String,
    stderr: String,
    seconds: f64,
}

/// The repository root: presets and assets are found relative to it, as a user runs them.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the app crate sits in the repository")
        .to_path_buf()
}

/// The CLI with `args`, run from the repository root with its cache in `cache`, one thread,
/// and the exit check on (no thread of ours may outlive `main`).
fn command(cache: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sim-workbench"));
    command
        .args(args)
        .current_dir(root())
        .env("SIM_WORKBENCH_CACHE", cache)
        .env("SIM_WORKBENCH_EXIT_CHECK", "1")
        .env("RAYON_NUM_THREADS", "1")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    command
}

/// Runs [`command`]; kills it (and fails) past [`DEADLINE`].
fn cli(cache: &Path, args: &[&str]) -> Outcome {
    let started = Instant::now();
    let child = command(cache, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(DEADLINE) {
        Ok(output) => output.expect("wait"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("sim-workbench {args:?} hung for {DEADLINE:?}");
        }
    };
    Outcome {
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// Asserts that `o` was refused as bad input (exit 2, an `error:` line, no panic) with a
/// message holding every one of `needles`.
#[track_caller]
fn refused(o: &Outcome, needles: &[&str]) {
    assert_eq!(o.code, Some(BAD_INPUT), "exit code: {o:#?}");
    assert!(o.stderr.contains("error: "), "no error line: {o:#?}");
    assert!(!o.stderr.contains("panicked"), "panicked: {o:#?}");
    for needle in needles {
        assert!(
            o.stderr.contains(needle),
            "message lacks {needle:?}: {o:#?}"
        );
    }
}

/// The files under `dir`, recursively (nothing written means none).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        match path.is_dir() {
            true => out.extend(files_under(&path)),
            false => out.push(path),
        }
    }
    out
}

/// The tensors (name, shape, little-endian f32 bytes) and metadata of a safetensors file.
type Parts = (Vec<(String, Vec<usize>, Vec<u8>)>, HashMap<String, String>);

fn read_parts(path: &Path) -> Parts {
    let bytes = std::fs::read(path).expect("read");
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).expect("header");
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("safetensors");
    let mut tensors: Vec<_> = st
        .tensors()
        .into_iter()
        .map(|(name, view)| (name, view.shape().to_vec(), view.data().to_vec()))
        .collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    (tensors, header.metadata().clone().unwrap_or_default())
}

fn write_parts(path: &Path, (tensors, metadata): &Parts) {
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(name, shape, data)| {
            let view = TensorView::new(Dtype::F32, shape.clone(), data).expect("view");
            (name.clone(), view)
        })
        .collect();
    let bytes = safetensors::serialize(views, Some(metadata.clone())).expect("serialize");
    std::fs::write(path, bytes).expect("write");
}

/// The shipped digits teacher, edited by `edit`, written to `dir/name`.
fn edited(source: &str, dir: &Path, name: &str, edit: impl FnOnce(&mut Parts)) -> PathBuf {
    let mut parts = read_parts(&root().join(source));
    edit(&mut parts);
    let path = dir.join(name);
    write_parts(&path, &parts);
    path
}

const TEACHER: &str = "assets/teachers/digits-cond.safetensors";
const CLASSIFIER: &str = "assets/classifiers/digits-cnn.safetensors";

/// The first tensor of rank 4 (a convolution kernel).
fn first_kernel(parts: &mut Parts) -> &mut (String, Vec<usize>, Vec<u8>) {
    parts
        .0
        .iter_mut()
        .find(|(_, shape, _)| shape.len() == 4)
        .expect("a kernel")
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// An edit of a safetensors file's metadata.
type MetadataEdit = fn(&mut HashMap<String, String>);

/// Sets `field` of the TOML table in the metadata `key` of `parts` to `value`.
fn set_toml(parts: &mut Parts, key: &str, field: &str, value: toml::Value) {
    let mut table: toml::Table = toml::from_str(&parts.1[key]).expect("TOML metadata");
    table.insert(field.into(), value);
    parts
        .1
        .insert(key.into(), toml::to_string(&table).expect("TOML"));
}

/// An edit that sets the metadata `sigma_data` to `value`.
fn sigma_data_is(value: &'static str) -> impl FnOnce(&mut Parts) {
    move |p| {
        p.1.insert("sigma_data".into(), value.into());
    }
}

/// Sets every value of the tensor `name` of `parts` to `value`.
fn fill_tensor(parts: &mut Parts, name: &str, value: f32) {
    let (_, _, data) = parts
        .0
        .iter_mut()
        .find(|(n, _, _)| n == name)
        .expect("the tensor");
    for v in data.chunks_exact_mut(4) {
        v.copy_from_slice(&value.to_le_bytes());
    }
}

/// Whether `text` shows a NaN or an infinity as a number.
fn shows_non_finite(text: &str) -> bool {
    text.split(|c: char| c.is_whitespace() || "(),;:%±=".contains(c))
        .map(|word| word.trim_start_matches(['-', '+']))
        .any(|word| word.eq_ignore_ascii_case("nan") || word.eq_ignore_ascii_case("inf"))
}

/// An MLP teacher of the default preset's data, trained for 20 steps into `dir/name`.
fn mlp_teacher(cache: &Path, dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let o = cli(
        cache,
        &[
            "train-teacher",
            "--out",
            path_str(&path),
            "--iterations",
            "20",
            "--batch",
            "64",
        ],
    );
    assert_eq!(o.code, Some(0), "{o:#?}");
    path
}

/// `run` of the default preset with the network teacher in `teacher`, one iteration, into `runs`.
fn run_with_teacher(cache: &Path, runs: &Path, teacher: &Path) -> Outcome {
    let path = format!("teacher.path={}", path_str(teacher));
    cli(
        cache,
        &[
            "run",
            "--out",
            path_str(runs),
            "--iterations",
            "1",
            "--set",
            "teacher.kind=network",
            "--set",
            &path,
        ],
    )
}

/// Class "no resource limit": sizes that ask for terabytes are refused up front, fast, with
/// the field, the value and the limit — never an abort on allocation.
#[test]
fn no_resource_limit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (cache, runs) = (tmp.path().join("cache"), tmp.path().join("runs"));
    let runs_s = path_str(&runs);
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec![
                "run",
                "--out",
                runs_s,
                "--set",
                "distill.batch=1000000000000",
            ],
            vec!["distill.batch", "1000000000000"],
        ),
        (
            vec!["run", "--out", runs_s, "--set", "net.width=100000000"],
            vec!["net.width", "at most 65536"],
        ),
        (
            vec![
                "run",
                "presets/digits_sim.toml",
                "--out",
                runs_s,
                "--set",
                "distill.batch=1000000",
            ],
            vec!["distill.batch", "this machine allows"],
        ),
        (
            vec!["gradcheck", "--samples", "1000000000000000"],
            vec!["--samples", "100000000"],
        ),
        (
            vec!["eval", "--teacher", TEACHER, "--samples", "1000000000000"],
            vec!["--samples", "1000000"],
        ),
        (
            vec!["eval", "--teacher", TEACHER, "--steps", "1", "100000000"],
            vec!["--steps", "10000"],
        ),
        (
            vec![
                "train-teacher",
                "--out",
                "unused.safetensors",
                "--batch",
                "99999999999",
            ],
            vec!["--batch"],
        ),
    ];
    for (args, needles) in cases {
        let o = cli(&cache, &args);
        refused(&o, &needles);
        assert!(o.seconds < 60.0, "{:?} took {:.0} s", o.args, o.seconds);
    }
    // An IDX header that promises 4·10⁹ images of 4096×4096 in a 16-byte file.
    let idx = tmp.path().join("idx");
    std::fs::create_dir_all(&idx).expect("dir");
    let mut header = vec![0, 0, 8, 3];
    for d in [4_000_000_000u32, 4096, 4096] {
        header.extend(d.to_be_bytes());
    }
    std::fs::write(idx.join("train-images-idx3-ubyte"), &header).expect("write");
    let mut labels = vec![0, 0, 8, 1];
    labels.extend(1u32.to_be_bytes());
    labels.push(0);
    std::fs::write(idx.join("train-labels-idx1-ubyte"), labels).expect("write");
    let classifier_out = tmp.path().join("c.safetensors");
    let o = cli(
        &cache,
        &[
            "train-classifier",
            "--data",
            &format!("idx:{}", idx.display()),
            "--out",
            path_str(&classifier_out),
        ],
    );
    refused(&o, &["train-images-idx3-ubyte", "truncated"]);
    assert!(files_under(&runs).is_empty(), "a refused run wrote files");
    assert!(!classifier_out.exists() && !Path::new("unused.safetensors").exists());
}

/// Class "untrusted metadata trusted": a file's own shapes and metadata are checked against
/// what its kind implies.
#[test]
fn untrusted_metadata() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (cache, dir) = (tmp.path().join("cache"), tmp.path());
    let reshaped = edited(TEACHER, dir, "reshaped.safetensors", |p| {
        let (_, shape, _) = first_kernel(p);
        *shape = vec![shape.iter().product()];
    });
    let extra = edited(TEACHER, dir, "extra.safetensors", |p| {
        p.0.push(("stray.weight".into(), vec![1], 0f32.to_le_bytes().to_vec()));
    });
    let missing = edited(TEACHER, dir, "missing.safetensors", |p| {
        let name = first_kernel(p).0.clone();
        p.0.retain(|(n, _, _)| *n != name);
    });
    let format = edited(TEACHER, dir, "format.safetensors", |p| {
        p.1.insert("format".into(), "pytorch state dict".into());
    });
    let sigma = edited(TEACHER, dir, "sigma.safetensors", |p| {
        p.1.insert("sigma_data".into(), "-0.5".into());
    });
    let no_classes = edited(TEACHER, dir, "classes.safetensors", |p| {
        let unet = p.1["unet"].replace("classes = 10", "classes = 0");
        p.1.insert("unet".into(), unet);
        p.1.insert("classes".into(), "0".into());
    });
    let shape_fact = edited(TEACHER, dir, "shape.safetensors", |p| {
        p.1.insert("classes".into(), "3".into());
    });
    let cases = [
        (&reshaped, "has shape"),
        (&extra, "`stray.weight` is not a parameter"),
        (&missing, "is missing"),
        (
            &format,
            "is a `pytorch state dict` file, not an image teacher",
        ),
        (&sigma, "metadata `sigma_data`: is -0.5"),
        (&no_classes, "is not a parameter of this network"),
        (&shape_fact, "metadata `classes`"),
    ];
    for (path, needle) in cases {
        let o = cli(
            &cache,
            &["eval", "--teacher", path_str(path), "--samples", "10"],
        );
        refused(&o, &[path_str(path), needle]);
    }
    // A classifier with a stray tensor.
    let classifier = edited(CLASSIFIER, dir, "cnn.safetensors", |p| {
        p.0.push(("head.extra".into(), vec![2], vec![0; 8]));
    });
    let o = cli(
        &cache,
        &[
            "eval",
            "--teacher",
            TEACHER,
            "--classifier",
            path_str(&classifier),
            "--samples",
            "10",
        ],
    );
    refused(&o, &["cnn.safetensors", "`head.extra`"]);
}

/// Class "non-finite values": NaN / ±inf in a file or a number is refused at load.
#[test]
fn non_finite_values() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (cache, dir) = (tmp.path().join("cache"), tmp.path());
    for (name, bad) in [
        ("nan.safetensors", f32::NAN),
        ("inf.safetensors", f32::INFINITY),
        ("ninf.safetensors", f32::NEG_INFINITY),
    ] {
        let path = edited(TEACHER, dir, name, |p| {
            first_kernel(p).2[4..8].copy_from_slice(&bad.to_le_bytes());
        });
        let o = cli(&cache, &["eval", "--teacher", path_str(&path)]);
        refused(&o, &[name, &format!("holds {bad} at index 1")]);
    }
    let classifier = edited(CLASSIFIER, dir, "cnn-nan.safetensors", |p| {
        first_kernel(p).2[..4].copy_from_slice(&f32::NAN.to_le_bytes());
    });
    let o = cli(
        &cache,
        &[
            "eval",
            "--teacher",
            TEACHER,
            "--classifier",
            path_str(&classifier),
        ],
    );
    refused(&o, &["cnn-nan.safetensors", "holds NaN at index 0"]);
    let runs = dir.join("runs");
    let out = dir.join("t.safetensors");
    let cases: Vec<Vec<&str>> = vec![
        vec![
            "run",
            "--out",
            path_str(&runs),
            "--set",
            "distill.lr_generator=nan",
        ],
        vec![
            "run",
            "--out",
            path_str(&runs),
            "--set",
            "distill.lr_fake=inf",
        ],
        vec![
            "run",
            "--out",
            path_str(&runs),
            "--set",
            "distill.t_star=-inf",
        ],
        vec![
            "run",
            "--out",
            path_str(&runs),
            "--set",
            "distill.lr_fake=1e999",
        ],
        vec!["gradcheck", "--sigma", "nan"],
        vec!["gradcheck", "--mu-q", "inf"],
        vec!["train-teacher", "--out", path_str(&out), "--lr", "nan"],
        vec![
            "train-classifier",
            "--data",
            "digits",
            "--out",
            path_str(&out),
            "--lr",
            "inf",
        ],
    ];
    let names = [
        "distill.lr_generator",
        "distill.lr_fake",
        "distill.t_star",
        "distill.lr_fake",
        "--sigma",
        "--mu-q",
        "--lr",
        "--lr",
    ];
    for (args, name) in cases.iter().zip(names) {
        refused(&cli(&cache, args), &[name]);
    }
    assert!(files_under(&runs).is_empty() && !out.exists());
}

/// Class "unclear or inconsistent errors": every subcommand's flags are checked and named as
/// flags; a training that diverges exits 3 and writes nothing.
#[test]
fn every_flag_is_checked_and_divergence_is_not_success() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cache = tmp.path().join("cache");
    let out = tmp.path().join("out.safetensors");
    let out_s = path_str(&out);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["train-teacher", "--out", out_s, "--batch", "0"],
            "--batch: must be in 1..=",
        ),
        (
            vec!["train-teacher", "--out", out_s, "--iterations", "0"],
            "--iterations",
        ),
        (
            vec![
                "train-image-teacher",
                "--data",
                "digits",
                "--out",
                out_s,
                "--sample-steps",
                "0",
            ],
            "--sample-steps",
        ),
        (
            vec![
                "train-image-teacher",
                "--data",
                "digits",
                "--out",
                out_s,
                "--batch",
                "0",
            ],
            "batch",
        ),
        (
            vec![
                "train-image-teacher",
                "--data",
                "digits",
                "--out",
                out_s,
                "--lr=-1",
            ],
            "lr",
        ),
        (
            vec![
                "train-classifier",
                "--data",
                "digits",
                "--out",
                out_s,
                "--epochs",
                "0",
            ],
            "--epochs",
        ),
        (
            vec![
                "train-classifier",
                "--data",
                "digits",
                "--out",
                out_s,
                "--shift",
                "99999",
            ],
            "--shift",
        ),
        (
            vec![
                "train-classifier",
                "--data",
                "digits",
                "--out",
                out_s,
                "--widths",
                "0",
                "8",
            ],
            "widths",
        ),
        (
            vec![
                "train-classifier",
                "--data",
                "digits",
                "--out",
                out_s,
                "--test-fraction",
                "1.5",
            ],
            "test",
        ),
        (
            vec!["gradcheck", "--samples", "1"],
            "--samples: must be in 2..=",
        ),
        (vec!["gradcheck", "--s-q", "0"], "--s-q"),
        (
            vec!["gradcheck", "--distance", "pseudo-huber", "--c=-1"],
            "--c",
        ),
        (
            vec!["gradcheck", "--distance", "alpha-power", "--alpha", "3"],
            "--alpha",
        ),
        (vec!["bench", "--rounds", "0"], "--rounds"),
        (vec!["bench", "--iterations", "0"], "--iterations"),
        (
            vec!["eval", "--teacher", TEACHER, "--samples", "1"],
            "--samples",
        ),
        (
            vec!["eval", "--teacher", TEACHER, "--steps", "0"],
            "--steps",
        ),
        (vec!["--quit-after", "nan"], "--quit-after"),
        (vec!["--quit-after", "inf"], "--quit-after"),
    ];
    for (args, needle) in cases {
        refused(&cli(&cache, &args), &[needle]);
        assert!(!out.exists(), "{args:?} wrote {out_s}");
    }
    // Diverging on purpose: a learning rate of 1e30 turns the loss non-finite at once.
    let o = cli(
        &cache,
        &[
            "train-teacher",
            "--out",
            out_s,
            "--lr",
            "1e30",
            "--iterations",
            "200",
            "--batch",
            "64",
        ],
    );
    assert_eq!(o.code, Some(DIVERGED), "{o:#?}");
    assert!(o.stderr.contains("training diverged at step"), "{o:#?}");
    assert!(!out.exists(), "a diverged teacher was saved");
}

/// Class "hang": what is not a regular file is refused before it is opened.
#[test]
fn nothing_hangs_on_a_fifo() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cache = tmp.path().join("cache");
    let fifo = tmp.path().join("teacher.safetensors");
    let made = Command::new("mkfifo").arg(&fifo).status();
    assert!(
        made.is_ok_and(|s| s.success()),
        "this test needs `mkfifo` (coreutils) to make a FIFO"
    );
    let o = cli(&cache, &["eval", "--teacher", path_str(&fifo)]);
    refused(
        &o,
        &["teacher.safetensors", "is not a regular file (a FIFO)"],
    );
    let preset = tmp.path().join("preset.toml");
    Command::new("mkfifo")
        .arg(&preset)
        .status()
        .expect("mkfifo");
    let o = cli(
        &cache,
        &["run", path_str(&preset), "--out", path_str(tmp.path())],
    );
    refused(&o, &["preset.toml", "a FIFO"]);
    let o = cli(&cache, &["eval", "--teacher", path_str(tmp.path())]);
    refused(&o, &["a directory"]);
}

/// Class "panic": absurd sizes that overflowed an integer or indexed an empty list are errors.
#[test]
fn absurd_sizes_do_not_panic() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cache = tmp.path().join("cache");
    let out = tmp.path().join("c.safetensors");
    let o = cli(
        &cache,
        &[
            "train-classifier",
            "--data",
            "digits",
            "--out",
            path_str(&out),
            "--pad",
            "4611686018427387904",
        ],
    );
    refused(&o, &["padding to 4611686018427387904", "at most 4096"]);
    let o = cli(&cache, &["bench", "--rounds", "0", "--iterations", "1"]);
    refused(&o, &["--rounds"]);
    assert!(!out.exists());
}

/// Settings of a short toy run: a 20-step fit, checkpoints and evaluations every 5 iterations.
const SMALL_RUN: [&str; 8] = [
    "--set",
    "init.iterations=20",
    "--set",
    "checkpoint.every=5",
    "--set",
    "eval.every=5",
    "--set",
    "eval.samples=256",
];

/// A [`SMALL_RUN`] of `iterations` in `runs`.
fn small_run(cache: &Path, runs: &Path, iterations: &str) -> Outcome {
    let mut args = vec!["run", "--out", path_str(runs), "--iterations", iterations];
    args.extend(SMALL_RUN);
    cli(cache, &args)
}

/// The one run folder under `runs`.
fn run_folder(runs: &Path) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(runs)
        .expect("runs")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.remove(0)
}

/// Resume does what it is told or refuses; a damaged checkpoint or a hand-edited config is
/// named; a corrupt cache is discarded with a warning and rebuilt.
#[test]
fn resume_and_caches_trust_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (cache, runs) = (tmp.path().join("cache"), tmp.path().join("runs"));
    let o = small_run(&cache, &runs, "10");
    assert_eq!(o.code, Some(0), "{o:#?}");
    let folder = run_folder(&runs);
    let folder_s = path_str(&folder);
    let config = std::fs::read_to_string(folder.join("config.toml")).expect("config");

    // A new total below the checkpoint is refused; above it, it is honoured and recorded.
    let o = cli(&cache, &["run", "--resume", folder_s, "--iterations", "5"]);
    refused(&o, &["already at iteration 10"]);
    let o = cli(
        &cache,
        &["run", "--resume", folder_s, "--iterations", "15", "--json"],
    );
    assert_eq!(o.code, Some(0), "{o:#?}");
    let line = o.stdout.lines().last().unwrap_or_default();
    let last: serde_json::Value = serde_json::from_str(line).expect("--json");
    assert!(last.is_object(), "{last}");
    // The speed reported is the whole run's, its iterations over its training seconds (the
    // live meter's last window of a 15-iteration run is mostly warm-up).
    let (step, wall_s, it_per_s) = (
        last["step"].as_f64().unwrap_or_default(),
        last["wall_s"].as_f64().unwrap_or_default(),
        last["it_per_s"].as_f64().unwrap_or_default(),
    );
    assert_eq!(step, 15.0, "{last}");
    assert!(wall_s > 0.0, "{last}");
    assert!(
        (it_per_s - step / wall_s).abs() <= 1e-9 * it_per_s,
        "{last}"
    );
    let config_now = std::fs::read_to_string(folder.join("config.toml")).expect("config");
    assert!(config_now.contains("iterations = 15"), "{config_now}");
    assert!(folder.join("checkpoints/step-000015.safetensors").is_file());

    // A hand edit outside the live tweaks is refused, naming the key and both values.
    let edited_config = config_now.replace("seed = 0", "seed = 7");
    assert_ne!(edited_config, config_now, "the config holds `seed = 0`");
    std::fs::write(folder.join("config.toml"), &edited_config).expect("edit");
    let o = cli(&cache, &["run", "--resume", folder_s, "--iterations", "20"]);
    refused(
        &o,
        &[
            "step-000015",
            "`seed` is 7 in config.toml but 0 in the checkpoint",
        ],
    );
    std::fs::write(folder.join("config.toml"), &config_now).expect("restore");
    assert_ne!(config, config_now);

    // A NaN in the newest checkpoint is named; the folder is left as it was.
    let newest = folder.join("checkpoints/step-000015.safetensors");
    let good = std::fs::read(&newest).expect("read");
    let mut parts = read_parts(&newest);
    parts.0[0].2[..4].copy_from_slice(&f32::NAN.to_le_bytes());
    write_parts(&newest, &parts);
    let metrics = std::fs::read(folder.join("metrics.jsonl")).expect("metrics");
    let o = cli(&cache, &["run", "--resume", folder_s, "--iterations", "20"]);
    refused(&o, &["step-000015.safetensors", "holds NaN at index 0"]);
    assert_eq!(
        std::fs::read(folder.join("metrics.jsonl")).expect("metrics"),
        metrics
    );
    // A foreign file under a checkpoint's name is refused by its format tag.
    std::fs::write(&newest, &good).expect("restore");
    let mut foreign = read_parts(&newest);
    foreign
        .1
        .insert("format".into(), "someone else's weights".into());
    write_parts(&newest, &foreign);
    let o = cli(&cache, &["run", "--resume", folder_s, "--iterations", "20"]);
    refused(
        &o,
        &["is a `someone else's weights` file, not a run checkpoint"],
    );
    std::fs::write(&newest, good).expect("restore");

    // A corrupt teacher-fit cache is discarded with a warning and rebuilt.
    let fit = files_under(&cache)
        .into_iter()
        .find(|p| p.to_string_lossy().contains("teacher-fit-"))
        .expect("the fit was cached");
    std::fs::write(&fit, b"not a safetensors file").expect("corrupt");
    let runs2 = tmp.path().join("runs2");
    let o = small_run(&cache, &runs2, "5");
    assert_eq!(o.code, Some(0), "{o:#?}");
    assert!(o.stderr.contains("corrupt teacher-fit cache"), "{o:#?}");
    assert!(
        std::fs::read(&fit).expect("fit").len() > 1000,
        "the cache was rebuilt"
    );
}

/// Disk full: a run on a small file system stops with an error naming the file, its newest
/// checkpoint is still the last complete one, and it resumes once there is space — to the same
/// curve as a run that never ran out. Needs a tmpfs (root); elsewhere an unwritable checkpoint
/// folder stands in for the full disk.
#[test]
fn a_full_disk_loses_nothing_and_resume_works_after() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cache = tmp.path().join("cache");
    // The reference: the same run with space to spare.
    let reference = tmp.path().join("reference");
    assert_eq!(small_run(&cache, &reference, "40").code, Some(0));

    let mount = tmp.path().join("small");
    std::fs::create_dir_all(&mount).expect("dir");
    // Room for the first checkpoint of the toy run (≈ 170 kB each) and little more.
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=400k", "tmpfs", path_str(&mount)])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let _guard = Unmount(mounted.then(|| mount.clone()));
    let runs = mount.join("runs");
    let o = if mounted {
        small_run(&cache, &runs, "40")
    } else {
        // Unprivileged: let the run write its first checkpoints, then refuse every write.
        let o = small_run(&cache, &runs, "10");
        assert_eq!(o.code, Some(0), "{o:#?}");
        let checkpoints = run_folder(&runs).join("checkpoints");
        set_mode(&checkpoints, 0o555);
        // Root ignores the mode: with neither a tmpfs nor a refused write, nothing can fill up.
        let probe = checkpoints.join("probe");
        assert!(
            std::fs::write(&probe, b"x").is_err(),
            "this test needs a full disk to stand in: run it as root where a tmpfs can be \
             mounted, or as a user whose writes a read-only folder refuses"
        );
        cli(
            &cache,
            &[
                "run",
                "--resume",
                path_str(&run_folder(&runs)),
                "--iterations",
                "40",
            ],
        )
    };
    let folder = run_folder(&runs);
    assert_ne!(o.code, Some(0), "the run cannot have finished: {o:#?}");
    assert!(!o.stderr.contains("panicked"), "{o:#?}");
    assert!(
        o.stderr.contains("checkpoints"),
        "the message names the file: {o:#?}"
    );
    let checkpoints = files_under(&folder.join("checkpoints"));
    assert!(
        checkpoints
            .iter()
            .all(|p| !p.to_string_lossy().ends_with(".tmp")),
        "no partial file is left: {checkpoints:?}"
    );
    let newest = checkpoints
        .iter()
        .max()
        .expect("some checkpoint fitted")
        .clone();
    assert!(
        safetensors::SafeTensors::deserialize(&std::fs::read(&newest).expect("read")).is_ok(),
        "{} is complete",
        newest.display()
    );

    // Space returns: the run resumes and ends on the curve of the run that never ran out.
    if mounted {
        let grown = Command::new("mount")
            .args(["-o", "remount,size=64m", path_str(&mount)])
            .status()
            .is_ok_and(|s| s.success());
        assert!(grown, "remount");
    } else {
        set_mode(&folder.join("checkpoints"), 0o755);
    }
    let o = cli(
        &cache,
        &["run", "--resume", path_str(&folder), "--iterations", "40"],
    );
    let metrics = std::fs::read_to_string(folder.join("metrics.jsonl")).unwrap_or_default();
    assert_eq!(o.code, Some(0), "{o:#?}");
    assert_eq!(iteration_lines(&folder).len(), 40, "{metrics}");
    assert_eq!(
        iteration_lines(&folder),
        iteration_lines(&run_folder(&reference))
    );
}

/// Unmounts the tmpfs at its path when dropped (also when the test fails).
struct Unmount(Option<PathBuf>);

impl Drop for Unmount {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            let _ = Command::new("umount").arg(path).status();
        }
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// kill -9 mid-run: the engine is held at iteration 53 (`SIM_WORKBENCH_HOLD_AT`), past the
/// checkpoint at 50, so the kill always lands mid-run, with three iterations not yet saved. The
/// folder keeps its last complete checkpoint, and a resume ends on the curve of an
/// uninterrupted run.
#[test]
fn kill_9_mid_run_loses_only_the_work_since_the_checkpoint() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cache = tmp.path().join("cache");
    let reference = tmp.path().join("reference");
    assert_eq!(small_run(&cache, &reference, "400").code, Some(0));
    let runs = tmp.path().join("runs");
    let mut args = vec!["run", "--out", path_str(&runs), "--iterations", "400"];
    args.extend(SMALL_RUN);
    let mut child = command(&cache, &args)
        .env("SIM_WORKBENCH_HOLD_AT", "sim-pseudo-huber@53")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start");
    let started = Instant::now();
    let checkpoint_50 = || {
        files_under(&runs)
            .iter()
            .any(|p| p.to_string_lossy().ends_with("step-000050.safetensors"))
    };
    while !checkpoint_50() {
        let ended = child.try_wait().expect("wait");
        assert!(
            ended.is_none() && started.elapsed() < DEADLINE,
            "the run ended ({ended:?}) or took too long before its checkpoint at 50"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("kill -9");
    let _ = child.wait();
    let folder = run_folder(&runs);
    let o = cli(&cache, &["run", "--resume", path_str(&folder)]);
    assert_eq!(o.code, Some(0), "{o:#?}");
    let resumed = iteration_lines(&folder);
    assert_eq!(resumed.len(), 400);
    assert_eq!(resumed, iteration_lines(&run_folder(&reference)));
}

/// Every iteration line of a run folder's `metrics.jsonl` but its wall-clock time.
fn iteration_lines(folder: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(folder.join("metrics.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "iteration")
        .map(|mut v| {
            v.as_object_mut().map(|o| o.remove("wall_s"));
            v
        })
        .collect()
}

/// Class "non-finite output": every number a command prints is finite, or the command fails.
/// Extreme gradcheck settings are refused up front, naming the flag and its range; settings at
/// which the distance overflows f32 are refused after the check, naming the flag to change; a
/// student equal to its teacher (every gradient 0) prints a relative error of 0, not NaN.
#[test]
fn every_number_printed_is_finite_or_the_command_fails() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cache = tmp.path().join("cache");
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["gradcheck", "--sigma", "1e-30"],
            vec!["--sigma: must be a number in [1e-3, 1e3]"],
        ),
        (
            vec!["gradcheck", "--a", "1e30"],
            vec!["--a: must be a number with |a| in [1e-3, 1e3]"],
        ),
        (
            vec!["gradcheck", "--mu-q", "1e300"],
            vec!["--mu-q: must be a number in [-1e4, 1e4]"],
        ),
        (vec!["gradcheck", "--s-q", "1e-20"], vec!["--s-q"]),
        (vec!["gradcheck", "--b=-1e9"], vec!["--b"]),
        (
            vec![
                "gradcheck",
                "--distance",
                "exp-power",
                "--beta",
                "1000",
                "--samples",
                "1000",
            ],
            vec!["--beta: the true gradient ∂/∂a is", "use a smaller beta"],
        ),
        (
            vec![
                "gradcheck",
                "--distance",
                "exp-power",
                "--beta",
                "1000",
                "--samples",
                "1000",
                "--json",
            ],
            vec!["--beta"],
        ),
    ];
    for (args, needles) in cases {
        let o = cli(&cache, &args);
        refused(&o, &needles);
        assert!(!shows_non_finite(&o.stdout), "{o:#?}");
    }
    let o = cli(
        &cache,
        &[
            "gradcheck",
            "--mu-q=-0.4",
            "--s-q",
            "1.5",
            "--samples",
            "1000",
        ],
    );
    assert_eq!(o.code, Some(0), "{o:#?}");
    assert!(!shows_non_finite(&o.stdout), "{o:#?}");
    assert_eq!(o.stdout.matches("   0.00%").count(), 2, "{o:#?}");
}

/// Class "untrusted metadata", field by field: every metadata field of every file kind is
/// range-checked before it sizes anything — σ_d, layer widths, class counts, accuracies,
/// times — and refused naming the file and the field, with nothing written.
#[test]
fn every_metadata_field_is_range_checked() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (cache, dir) = (tmp.path().join("cache"), tmp.path());
    let big = || toml::Value::Integer(1_000_000_000);

    // The image teacher.
    let teachers = [
        (
            edited(TEACHER, dir, "sigma-nan.safetensors", sigma_data_is("NaN")),
            "metadata `sigma_data`: is NaN; σ_d must be a number in [1e-4, 1e4]",
        ),
        (
            edited(TEACHER, dir, "sigma-zero.safetensors", sigma_data_is("0")),
            "metadata `sigma_data`: is 0;",
        ),
        (
            edited(TEACHER, dir, "sigma-huge.safetensors", sigma_data_is("1e9")),
            "metadata `sigma_data`: is 1000000000;",
        ),
        (
            edited(TEACHER, dir, "wide.safetensors", |p| {
                set_toml(p, "unet", "channels", big());
            }),
            "metadata `unet`: `channels`: channels 1000000000",
        ),
        (
            edited(TEACHER, dir, "classes.safetensors", |p| {
                set_toml(p, "unet", "classes", big());
                p.1.insert("classes".into(), "1000000000".into());
            }),
            "metadata `unet`: `classes`: is 1000000000; at most 1000000 is supported",
        ),
    ];
    for (path, needle) in &teachers {
        let o = cli(
            &cache,
            &["eval", "--teacher", path_str(path), "--samples", "10"],
        );
        refused(&o, &[path_str(path), *needle]);
        assert!(o.seconds < 60.0, "{:?} took {:.0} s", o.args, o.seconds);
    }
    assert!(
        !files_under(&cache)
            .iter()
            .any(|p| p.to_string_lossy().contains("/ref-")),
        "a refused teacher cached statistics"
    );

    // The classifier.
    let classifiers = [
        (
            edited(CLASSIFIER, dir, "cnn-classes.safetensors", |p| {
                set_toml(p, "config", "classes", big());
            }),
            "metadata `config`: classifier: `classes`: is 1000000000; at most 1000000",
        ),
        (
            edited(CLASSIFIER, dir, "cnn-features.safetensors", |p| {
                set_toml(p, "config", "features", big());
            }),
            "metadata `config`: classifier: `features`: is 1000000000; at most 65536",
        ),
        (
            edited(CLASSIFIER, dir, "cnn-accuracy.safetensors", |p| {
                p.1.insert("test_accuracy".into(), "2".into());
            }),
            "metadata `test_accuracy`: is 2; must be a fraction in [0, 1]",
        ),
        (
            edited(CLASSIFIER, dir, "cnn-seconds.safetensors", |p| {
                p.1.insert("train_seconds".into(), "-inf".into());
            }),
            "metadata `train_seconds`: is -inf",
        ),
    ];
    for (path, needle) in &classifiers {
        let o = cli(
            &cache,
            &[
                "eval",
                "--teacher",
                TEACHER,
                "--classifier",
                path_str(path),
                "--samples",
                "10",
            ],
        );
        refused(&o, &[path_str(path), *needle]);
    }

    // The MLP teacher of a toy run (trained here), with a run that would use it.
    let mlp = mlp_teacher(&cache, dir, "mlp.safetensors");
    let mlp_s = path_str(&mlp).to_owned();
    let mlps = [
        (
            edited(&mlp_s, dir, "mlp-sigma.safetensors", sigma_data_is("-0.5")),
            "metadata `sigma_data`: is -0.5; σ_d must be a number in [1e-4, 1e4]",
        ),
        (
            edited(&mlp_s, dir, "mlp-wide.safetensors", |p| {
                set_toml(p, "net", "width", big());
            }),
            "metadata `net`: `width`: is 1000000000; at most 65536 is supported",
        ),
        (
            edited(&mlp_s, dir, "mlp-frequencies.safetensors", |p| {
                set_toml(p, "net", "noise_frequencies", big());
            }),
            "metadata `net`: `noise_frequencies`: is 1000000000",
        ),
        (
            edited(&mlp_s, dir, "mlp-modes.safetensors", |p| {
                set_toml(p, "data", "modes", big());
            }),
            "metadata `data`: `modes`: must be in 1..=1000000, got 1000000000",
        ),
    ];
    let runs = dir.join("runs");
    for (path, needle) in &mlps {
        let o = run_with_teacher(&cache, &runs, path);
        refused(&o, &[path_str(path), *needle]);
        assert!(o.seconds < 60.0, "{:?} took {:.0} s", o.args, o.seconds);
    }
    assert!(files_under(&runs).is_empty(), "a refused run wrote files");

    // A run checkpoint: its wall time is a number of seconds.
    let o = small_run(&cache, &runs, "10");
    assert_eq!(o.code, Some(0), "{o:#?}");
    let folder = run_folder(&runs);
    let newest = folder.join("checkpoints/step-000010.safetensors");
    let mut parts = read_parts(&newest);
    parts.1.insert("wall_s".into(), "NaN".into());
    write_parts(&newest, &parts);
    let metrics = std::fs::read(folder.join("metrics.jsonl")).expect("metrics");
    let o = cli(
        &cache,
        &["run", "--resume", path_str(&folder), "--iterations", "15"],
    );
    refused(
        &o,
        &[
            "step-000010.safetensors",
            "metadata `wall_s` is \"NaN\", not a finite number of seconds",
        ],
    );
    assert_eq!(
        std::fs::read(folder.join("metrics.jsonl")).expect("metrics"),
        metrics
    );
    assert!(!folder.join("checkpoints/step-000015.safetensors").exists());
}

/// Class "wrong cause": samples that overflow are the teacher's fault, and the message says
/// so, naming the teacher file — never "check the feature extractor's output".
#[test]
fn non_finite_samples_name_the_teacher() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (cache, dir) = (tmp.path().join("cache"), tmp.path());
    // Every weight of the last convolution 1e38 (finite): its sums overflow to inf.
    let image = edited(TEACHER, dir, "overflow.safetensors", |p| {
        fill_tensor(p, "output.weight", 1e38);
    });
    let o = cli(
        &cache,
        &[
            "eval",
            "--teacher",
            path_str(&image),
            "--samples",
            "10",
            "--steps",
            "2",
        ],
    );
    refused(
        &o,
        &[
            path_str(&image),
            "the teacher's samples (2 Heun steps) are not finite: sample ",
            "the teacher's network overflows f32",
        ],
    );
    assert!(!o.stderr.contains("feature extractor"), "{o:#?}");
    // A toy run's MLP teacher whose output layer overflows.
    let mlp = mlp_teacher(&cache, dir, "mlp.safetensors");
    let overflow = edited(path_str(&mlp), dir, "mlp-overflow.safetensors", |p| {
        fill_tensor(p, "output.weight", 1e38);
    });
    let runs = dir.join("runs");
    let o = run_with_teacher(&cache, &runs, &overflow);
    refused(
        &o,
        &[
            path_str(&overflow),
            "the teacher's samples (",
            "Heun steps) are not finite",
        ],
    );
    assert!(!o.stderr.contains("feature extractor"), "{o:#?}");
    assert!(files_under(&runs).is_empty(), "a refused run wrote files");
}

/// The reference statistics of `path` replaced by `dim`-dimensional ones (mean 0, identity
/// covariance, F64) under the same metadata, with `metadata` edits.
fn write_stats(path: &Path, dim: usize, edit: impl FnOnce(&mut HashMap<String, String>)) {
    let (_, mut metadata) = read_parts(path);
    edit(&mut metadata);
    let mean = vec![0u8; 8 * dim];
    let cov: Vec<u8> = (0..dim * dim)
        .flat_map(|i| f64::from(u8::from(i % (dim + 1) == 0)).to_le_bytes())
        .collect();
    let views = vec![
        (
            "mean",
            TensorView::new(Dtype::F64, vec![dim], &mean).expect("mean"),
        ),
        (
            "cov",
            TensorView::new(Dtype::F64, vec![dim, dim], &cov).expect("cov"),
        ),
    ];
    let bytes = safetensors::serialize(views, Some(metadata)).expect("serialize");
    std::fs::write(path, bytes).expect("write");
}

/// Class "corrupt cache", every way: reference statistics of another dimension or under another
/// key, and a teacher fit whose metadata asks for a huge network, are each discarded with a
/// warning and rebuilt — the command succeeds and the cache holds a valid file again.
#[test]
fn every_corrupt_cache_is_rebuilt() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cache = tmp.path().join("cache");
    let eval = || {
        cli(
            &cache,
            &[
                "eval",
                "--teacher",
                TEACHER,
                "--samples",
                "10",
                "--steps",
                "1",
            ],
        )
    };
    let o = eval();
    assert_eq!(o.code, Some(0), "{o:#?}");
    let stats = files_under(&cache)
        .into_iter()
        .find(|p| p.to_string_lossy().contains("/ref-"))
        .expect("the reference statistics were cached");
    let mean_shape = |path: &Path| {
        let (tensors, _) = read_parts(path);
        tensors
            .into_iter()
            .find(|(name, _, _)| name == "mean")
            .map(|(_, shape, _)| shape)
            .expect("mean")
    };
    assert_eq!(mean_shape(&stats), vec![128]);
    let damages: [(&str, MetadataEdit); 2] = [
        (
            "not a mean and covariance of the 128 features of digits-CNN",
            |_| {},
        ),
        ("its hashes are not the ones its name promises", |m| {
            m.insert("classifier_hash".into(), "0123456789abcdef".into());
        }),
    ];
    for (why, edit) in damages {
        write_stats(&stats, 3, edit);
        let o = eval();
        assert_eq!(o.code, Some(0), "{o:#?}");
        assert!(
            o.stderr.contains("corrupt reference-statistics cache"),
            "{o:#?}"
        );
        assert!(o.stderr.contains(why), "{o:#?}");
        assert_eq!(mean_shape(&stats), vec![128], "the cache was rebuilt");
    }

    // A teacher fit whose metadata asks for a network of 10⁹ units a layer.
    let runs = tmp.path().join("runs");
    assert_eq!(small_run(&cache, &runs, "5").code, Some(0));
    let fit = files_under(&cache)
        .into_iter()
        .find(|p| p.to_string_lossy().contains("teacher-fit-"))
        .expect("the fit was cached");
    let mut parts = read_parts(&fit);
    set_toml(
        &mut parts,
        "net",
        "width",
        toml::Value::Integer(1_000_000_000),
    );
    write_parts(&fit, &parts);
    let o = small_run(&cache, &tmp.path().join("runs2"), "5");
    assert_eq!(o.code, Some(0), "{o:#?}");
    assert!(o.stderr.contains("corrupt teacher-fit cache"), "{o:#?}");
    assert!(
        o.stderr.contains("`width`: is 1000000000; at most 65536"),
        "{o:#?}"
    );
    assert!(
        !read_parts(&fit).1["net"].contains("1000000000"),
        "the fit was rebuilt"
    );
}
