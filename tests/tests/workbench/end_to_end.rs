//! The default preset end to end through the engine protocol, and exact resume.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sim_engine::config::RunConfig;
use sim_engine::device::BackendChoice;
use sim_engine::metrics::ToyMetrics;
use sim_engine::protocol::{Command, Event, Tweak};
use sim_engine::run::{Run, RunOptions};
use sim_engine::session::{Launch, Session};

/// The default preset (smaller evaluations, so the suite stays fast).
fn default_config(overrides: &[&str]) -> RunConfig {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../presets/default.toml"
    ))
    .expect("default preset");
    let mut all: Vec<String> = vec!["eval.samples=2000".into()];
    all.extend(overrides.iter().map(|s| s.to_string()));
    RunConfig::parse(&text, "default.toml", &all).expect("valid")
}

/// Run options; the teacher-fit cache is shared by every test (the fit is paid once).
fn options(runs: &Path) -> RunOptions {
    RunOptions {
        runs_dir: Some(runs.to_owned()),
        cache_dir: Some(Path::new(env!("CARGO_TARGET_TMPDIR")).join("fit-cache")),
        backend: BackendChoice::Cpu,
        ..RunOptions::default()
    }
}

/// Drives a session until `Finished`, returning every evaluation and the run folder.
fn drive(
    session: &Session,
    mut on_event: impl FnMut(&Event, &Session),
) -> (Vec<(u64, ToyMetrics)>, Option<PathBuf>) {
    let mut evals = Vec::new();
    let mut dir = None;
    loop {
        let event = session
            .recv_timeout(Duration::from_secs(600))
            .expect("engine keeps reporting");
        on_event(&event, session);
        match event {
            Event::Ready(info) => {
                dir = info.dir;
                session.send(Command::Resume);
            }
            Event::Evaluated { step, metrics, .. } => {
                evals.push((step, metrics.toy().cloned().expect("a toy run's metrics")));
            }
            Event::Failed(m) => panic!("engine failed: {m}"),
            Event::Diverged { reason, .. } => panic!("diverged: {reason}"),
            Event::Finished { .. } => return (evals, dir),
            _ => {}
        }
    }
}

#[test]
fn default_preset_improves_exact_inception_score_in_200_iterations() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = default_config(&["iterations=200", "eval.every=100"]);
    let session = Session::spawn(
        Launch::New(Box::new(config)),
        options(&tmp.path().join("runs")),
        None,
    )
    .expect("spawn");
    let (evals, dir) = drive(&session, |_, _| {});
    session.shutdown();
    let first = evals.first().expect("initial evaluation");
    let last = evals.last().expect("final evaluation");
    // Ten times as often in the first interval (`eval.early`), where the curves move most.
    let steps: Vec<u64> = evals.iter().map(|e| e.0).collect();
    let want: Vec<u64> = (0..10).map(|k| 10 * k).chain([100, 200]).collect();
    assert_eq!(steps, want);
    assert_eq!(first.0, 0);
    assert_eq!(last.0, 200);
    let (is0, is1) = (first.1.is.expect("exact IS"), last.1.is.expect("exact IS"));
    assert!(is1 > is0 + 0.5, "exact IS must improve: {is0} → {is1}");
    assert!(is1 <= 8.0 + 1e-9);
    // The initial generator D(z; t*) maps to the middle of the ring: no mode covered.
    assert!(
        last.1.fd < 0.2 * first.1.fd,
        "FD must fall: {} → {}",
        first.1.fd,
        last.1.fd
    );
    assert!(last.1.mode_coverage > first.1.mode_coverage);
    // The run folder holds what docs/run-folder.md promises.
    let dir = dir.expect("run folder");
    assert!(dir.join("config.toml").is_file());
    let metrics = std::fs::read_to_string(dir.join("metrics.jsonl")).expect("metrics");
    let lines: Vec<serde_json::Value> = metrics
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let steps = lines
        .iter()
        .filter(|l| l.get("loss_generator").is_some())
        .count();
    assert_eq!(steps, 200);
    for key in [
        "step",
        "wall_s",
        "loss_generator",
        "loss_fake",
        "grad_norm_generator",
    ] {
        assert!(lines[1].get(key).is_some(), "metrics.jsonl lacks `{key}`");
    }
    assert!(lines.iter().any(|l| l.get("is").is_some()
        && l.get("fd").is_some()
        && l.get("mode_coverage").is_some()));
    assert!(dir.join("checkpoints/step-000200.safetensors").is_file());
    assert!(dir.join("samples/step-000200.png").is_file());
}

/// Loss values per step from a metrics file.
fn losses(dir: &Path) -> Vec<(u64, f64, f64)> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .expect("metrics")
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            Some((
                v.get("step")?.as_u64()?,
                v.get("loss_generator")?.as_f64()?,
                v.get("loss_fake")?.as_f64()?,
            ))
        })
        .collect()
}

#[test]
fn resume_continues_the_same_curve_bit_for_bit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // One run straight through 30 iterations, checkpointing every 10.
    let config = default_config(&["iterations=30", "checkpoint.every=10", "eval.every=10"]);
    let straight = Session::spawn(
        Launch::New(Box::new(config.clone())),
        options(&tmp.path().join("a")),
        None,
    )
    .expect("spawn");
    let (_, dir_a) = drive(&straight, |_, _| {});
    straight.shutdown();
    let full = losses(&dir_a.expect("folder"));

    // The same run stopped at 20 — then resumed from its folder to 30.
    let stopped = Session::spawn(
        Launch::New(Box::new(config)),
        options(&tmp.path().join("b")),
        None,
    )
    .expect("spawn");
    let mut dir_b = None;
    loop {
        match stopped
            .recv_timeout(Duration::from_secs(600))
            .expect("events")
        {
            Event::Ready(info) => {
                dir_b = info.dir;
                stopped.send(Command::Step(20));
            }
            Event::Paused { step: 20 } => break,
            Event::Failed(m) => panic!("{m}"),
            _ => {}
        }
    }
    stopped.shutdown(); // writes the step-20 checkpoint
    let dir_b = dir_b.expect("folder");
    let resumed = Session::spawn(
        Launch::Resume(dir_b.clone(), None),
        options(&tmp.path().join("b")),
        None,
    )
    .expect("spawn");
    drive(&resumed, |_, _| {});
    resumed.shutdown();
    let continued = losses(&dir_b);
    assert_eq!(continued.len(), 30);
    assert_eq!(full, continued, "resumed curve must equal the straight one");
}

#[test]
fn tweak_is_acknowledged_at_a_step_and_logged() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = default_config(&["iterations=20", "eval.every=10"]);
    let session = Session::spawn(
        Launch::New(Box::new(config)),
        options(&tmp.path().join("runs")),
        None,
    )
    .expect("spawn");
    let mut applied = None;
    let mut sent = false;
    let (_, dir) = drive(&session, |event, s| match event {
        Event::Progress { step: 5, .. } if !sent => {
            sent = s.send(Command::Tweak(Tweak::LrGenerator(3e-4)));
        }
        Event::Applied { step, tweak } => applied = Some((*step, tweak.clone())),
        _ => {}
    });
    session.shutdown();
    let (step, tweak) = applied.expect("tweak acknowledged");
    assert!((5..20).contains(&step), "{step}");
    assert_eq!(tweak, Tweak::LrGenerator(3e-4));
    let dir = dir.expect("folder");
    let text = std::fs::read_to_string(dir.join("metrics.jsonl")).expect("metrics");
    assert!(text.contains("\"event\":\"tweak\""));
    let config = RunConfig::load(&dir.join("config.toml"), &[]).expect("resolved config");
    assert_eq!(config.distill.lr_generator, 3e-4);
}

/// A run folder reproduces its run: a replay starts from its `start.toml` and applies its two
/// live tweaks at the iterations they took effect; the curve is the same bit for bit, and the
/// replay's own folder records the same tweaks at the same steps.
#[test]
fn a_run_folder_replays_its_run_tweaks_included() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runs = tmp.path().join("runs");
    let config = default_config(&["iterations=30", "eval.every=10"]);
    let session =
        Session::spawn(Launch::New(Box::new(config)), options(&runs), None).expect("spawn");
    let mut sent = 0;
    let (_, dir) = drive(&session, |event, s| match event {
        Event::Progress { step: 5, .. } if sent == 0 => {
            sent += usize::from(s.send(Command::Tweak(Tweak::LrGenerator(3e-4))));
        }
        Event::Progress { step: 17, .. } if sent == 1 => {
            sent += usize::from(s.send(Command::Tweak(Tweak::KFake(2))));
        }
        _ => {}
    });
    session.shutdown();
    let dir = dir.expect("folder");
    let replay = Session::spawn(
        Launch::Replay(dir.clone()),
        options(&tmp.path().join("replays")),
        None,
    )
    .expect("spawn");
    let (_, replayed) = drive(&replay, |_, _| {});
    replay.shutdown();
    let replayed = replayed.expect("the replay's folder");
    assert_ne!(replayed, dir);
    let tweaks = |dir: &Path| -> Vec<(u64, Tweak)> {
        sim_engine::run::log::read_metrics(&dir.join("metrics.jsonl"))
            .expect("metrics")
            .lines
            .into_iter()
            .filter_map(|l| match l {
                sim_engine::run::log::MetricsLine::Tweak { step, tweak, .. } => Some((step, tweak)),
                _ => None,
            })
            .collect()
    };
    let original = tweaks(&dir);
    assert_eq!(original.len(), 2, "{original:?}");
    assert_eq!(tweaks(&replayed), original);
    assert_eq!(losses(&dir).len(), 30);
    assert_eq!(
        losses(&replayed),
        losses(&dir),
        "the replay's curve is the run's"
    );
    // start.toml is the config as started; config.toml as it ended.
    let start = RunConfig::load(&dir.join("start.toml"), &[]).expect("start.toml");
    let end = RunConfig::load(&dir.join("config.toml"), &[]).expect("config.toml");
    assert_eq!(
        (start.distill.lr_generator, start.distill.k_fake),
        (1e-4, 1)
    );
    assert_eq!((end.distill.lr_generator, end.distill.k_fake), (3e-4, 2));
}

/// A tweak whose log line cannot be written is refused and leaves the run as it was: its
/// settings and its `config.toml` (applied and logged together, or not at all).
#[test]
fn a_tweak_that_cannot_be_logged_changes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = default_config(&["iterations=20"]);
    let mut run =
        Run::start(config, &options(&tmp.path().join("runs")), &mut |_, _| {}).expect("start");
    run.step().expect("step");
    let dir = run.dir().expect("run folder").to_owned();
    let config_before = std::fs::read_to_string(dir.join("config.toml")).expect("config");
    // A folder where metrics.jsonl should be: appending fails, even for root.
    std::fs::remove_file(dir.join("metrics.jsonl")).expect("remove");
    std::fs::create_dir(dir.join("metrics.jsonl")).expect("block");
    let lr = run.config().distill.lr_generator;
    let err = run
        .apply(&Tweak::LrGenerator(lr * 10.0))
        .expect_err("the log cannot be written");
    assert!(err.contains("metrics.jsonl"), "{err}");
    assert_eq!(run.config().distill.lr_generator, lr);
    let config_after = std::fs::read_to_string(dir.join("config.toml")).expect("config");
    assert_eq!(config_after, config_before);
    // Once the log can be written again, the same tweak applies and is recorded.
    std::fs::remove_dir(dir.join("metrics.jsonl")).expect("unblock");
    run.apply(&Tweak::LrGenerator(lr * 10.0)).expect("applies");
    assert_eq!(run.config().distill.lr_generator, lr * 10.0);
    let text = std::fs::read_to_string(dir.join("metrics.jsonl")).expect("metrics");
    assert!(text.contains("\"event\":\"tweak\""), "{text}");
}

#[test]
fn divergence_is_detected_and_rolled_back() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // An absurd learning rate with a tiny divergence limit trips the guard at once.
    let config = default_config(&["iterations=50", "checkpoint.divergence_limit=1e-9"]);
    let session = Session::spawn(
        Launch::New(Box::new(config)),
        options(&tmp.path().join("runs")),
        None,
    )
    .expect("spawn");
    let mut last_good = None;
    loop {
        match session
            .recv_timeout(Duration::from_secs(600))
            .expect("events")
        {
            Event::Ready(_) => {
                session.send(Command::Resume);
            }
            Event::Diverged {
                step,
                last_good: lg,
                reason,
            } => {
                assert_eq!(step, 1, "{reason}");
                last_good = lg;
                session.send(Command::RollBack);
            }
            Event::Paused { step: 0 } if last_good.is_some() => break,
            Event::Failed(m) => panic!("{m}"),
            Event::Finished { .. } => panic!("must not finish"),
            _ => {}
        }
    }
    let last_good = last_good.expect("a checkpoint from before the divergence");
    assert!(
        last_good.ends_with("step-000000.safetensors"),
        "{}",
        last_good.display()
    );
    session.shutdown();
}

/// A rehearsed iteration (`Run::rehearse`, how a GPU is prepared) leaves the run as it was: the
/// iterations after it are, bit for bit, those of the same run without it.
#[test]
fn a_rehearsal_leaves_the_run_as_it_was() {
    let config = default_config(&["distill.batch=64"]);
    let options = RunOptions {
        runs_dir: None,
        ..options(Path::new("unused"))
    };
    let mut plain = Run::start(config.clone(), &options, &mut |_, _| {}).expect("start");
    let mut rehearsed = Run::start(config, &options, &mut |_, _| {}).expect("start");
    rehearsed.rehearse();
    assert_eq!(rehearsed.step_index(), 0, "a rehearsal is not an iteration");
    for _ in 0..3 {
        let a = plain.step().expect("step");
        let b = rehearsed.step().expect("step");
        assert_eq!(a, b);
        assert!(a.loss_generator.is_finite());
    }
    // On the CPU there is nothing to prepare.
    assert!(!rehearsed.needs_preparation());
    assert_eq!(rehearsed.prepare(), None);
}

/// A preparation (`Launch::Prepare`) on the CPU answers `Prepared { on_gpu: false }` before
/// loading anything, writes no run folder, and its thread ends.
#[test]
fn a_preparation_on_the_cpu_ends_at_once_and_writes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runs = tmp.path().join("runs");
    let session = Session::spawn(
        Launch::Prepare(Box::new(default_config(&[]))),
        options(&runs),
        None,
    )
    .expect("spawn");
    // The first event is the answer: nothing was loaded (no teacher fit, no `Preparing`).
    match session.recv_timeout(Duration::from_secs(600)) {
        Some(Event::Prepared { on_gpu, .. }) => assert!(!on_gpu, "the CPU is not a GPU"),
        other => panic!("expected Prepared at once, got {other:?}"),
    }
    for _ in 0..100 {
        if session.is_finished() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        session.is_finished(),
        "a preparation's thread ends by itself"
    );
    assert!(!runs.exists(), "a preparation writes no run folder");
    session.shutdown();
}
