//! GUI behaviour against the real engine on the CPU backend (egui_kittest): start, pause, a
//! live learning-rate change with its marker, a two-variant race, a malformed preset, and the
//! teacher | student grids of a class-conditional image run.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use eframe::egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use sim_engine::config::RunConfig;
use sim_engine::device::{BackendChoice, Probe};
use sim_engine::distill::objective::Weighting;
use sim_engine::protocol::Tweak;
use sim_workbench::gui::{
    Action, GuiOptions, RunRecord, RunStatus, WorkbenchApp, band, seed_groups, weight_text,
};

pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The default preset, shortened for tests; never finishes on its own.
pub(crate) fn config() -> RunConfig {
    RunConfig::load(
        &repo().join("presets/default.toml"),
        &[
            "eval.samples=1000".into(),
            "eval.every=10".into(),
            "iterations=1000000".into(),
        ],
    )
    .expect("default preset")
}

pub(crate) fn harness(runs: &Path) -> Harness<'static, WorkbenchApp> {
    harness_with(runs, config())
}

pub(crate) fn harness_with(runs: &Path, config: RunConfig) -> Harness<'static, WorkbenchApp> {
    let options = GuiOptions {
        autostart: false,
        quit_after: None,
        runs_dir: runs.to_owned(),
        presets_dir: repo().join("presets"),
        // Shared by all tests: the teacher fit is computed once.
        cache_dir: Some(Path::new(env!("CARGO_TARGET_TMPDIR")).join("fit-cache")),
        config: Some(config),
        backend: BackendChoice::Cpu,
        probe: Probe::InProcess,
        fresh: true,
    };
    Harness::builder()
        .with_size([1400.0, 900.0])
        .build_eframe(move |cc| WorkbenchApp::new(cc, options))
}

/// Steps frames (real time passes) until `done` holds, at most three minutes.
pub(crate) fn wait_until(
    h: &mut Harness<'static, WorkbenchApp>,
    what: &str,
    done: impl Fn(&WorkbenchApp) -> bool,
) {
    let start = Instant::now();
    while !done(h.state()) {
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
        h.step();
    }
}

/// Steps frames until a widget whose label contains `label` is on screen (a new window takes a
/// sizing frame before it is shown); panics after 20 frames.
pub(crate) fn step_until_shown(h: &mut Harness<'static, WorkbenchApp>, label: &str) {
    for _ in 0..20 {
        if h.query_by_label_contains(label).is_some() {
            return;
        }
        h.step();
    }
    panic!("{label:?} never appeared");
}

/// Lets the window lay out, then presses Start.
pub(crate) fn press_start(h: &mut Harness<'static, WorkbenchApp>) {
    h.step();
    h.get_by_label("Start").click();
    h.step();
}

/// Presses Pause and waits until the engine has paused.
pub(crate) fn pause(h: &mut Harness<'static, WorkbenchApp>) {
    h.get_by_label("Pause").click();
    wait_until(h, "the pause", |a| {
        a.runs()
            .active()
            .is_some_and(|r| r.engine.status == RunStatus::Paused)
    });
}

/// Applies an export action and waits for its notice, "`what` written to PATH"; returns PATH.
pub(crate) fn export(
    h: &mut Harness<'static, WorkbenchApp>,
    action: Action,
    what: &str,
) -> PathBuf {
    let ctx = h.ctx.clone();
    h.state_mut().apply(action, &ctx);
    let prefix = format!("{what} written to ");
    wait_until(h, "the export", |a| {
        a.runs()
            .notice
            .as_deref()
            .is_some_and(|n| n.starts_with(&prefix))
    });
    let notice = h.state().runs().notice.clone().expect("notice");
    PathBuf::from(notice.trim_start_matches(&prefix))
}

pub(crate) fn active_step(app: &WorkbenchApp) -> u64 {
    app.runs().active().map_or(0, |r| r.engine.step)
}

#[test]
fn start_then_pause_stops_iterations() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut h = harness(tmp.path());
    press_start(&mut h);
    wait_until(&mut h, "iterations to advance", |a| active_step(a) >= 5);
    pause(&mut h);
    let paused_at = active_step(h.state());
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(15));
        h.step();
    }
    assert_eq!(
        active_step(h.state()),
        paused_at,
        "no iterations while paused"
    );
    // Space resumes.
    h.key_press(eframe::egui::Key::Space);
    h.step();
    wait_until(&mut h, "resume by Space", |a| active_step(a) > paused_at);
}

#[test]
fn learning_rate_change_is_acknowledged_with_a_marker() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut h = harness(tmp.path());
    press_start(&mut h);
    wait_until(&mut h, "iterations", |a| active_step(a) >= 3);
    let ctx = h.ctx.clone();
    h.state_mut()
        .apply(Action::Tweak(Tweak::LrGenerator(2e-3)), &ctx);
    wait_until(&mut h, "the marker", |a| {
        a.runs()
            .active()
            .is_some_and(|r| !r.history.markers.is_empty())
    });
    let run = h.state().runs().active().expect("active run");
    let marker = &run.history.markers[0];
    assert!(marker.step >= 3, "acknowledged at step {}", marker.step);
    assert!(marker.label.contains("lr θ"), "{}", marker.label);
    assert_eq!(run.engine.config.distill.lr_generator, 2e-3);
    assert_eq!(h.state().config().distill.lr_generator, 2e-3);
}

#[test]
fn two_variant_race_draws_two_curves() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut h = harness(tmp.path());
    h.step();
    h.get_by_label("Race…").click();
    h.step();
    step_until_shown(&mut h, "Start race (2)");
    h.get_by_label("Start race (2)").click();
    h.step();
    wait_until(&mut h, "both racers to progress", |a| {
        a.runs().records.len() == 2
            && a.runs()
                .records
                .iter()
                .all(|r| r.history.progress.len() >= 5 && !r.history.evals.is_empty())
    });
    let runs = &h.state().runs().records;
    assert!(
        runs.iter()
            .all(|r| r.view.visible && r.label.starts_with("race"))
    );
    assert_ne!(
        runs[0].engine.config.distill.distance,
        runs[1].engine.config.distill.distance
    );
    assert_eq!(runs[0].engine.config.seed, runs[1].engine.config.seed);
    let labels = [runs[0].label.clone(), runs[1].label.clone()];
    // Each racer is named in the runs panel, which is the curves' legend (its colour and tick).
    h.step();
    for label in &labels {
        assert!(
            h.query_all_by_label(label).count() >= 1,
            "{label} is not named on screen"
        );
    }
}

#[test]
fn malformed_preset_shows_an_error_and_keeps_working() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "[distill]\nlr_genrator = 1e-4\n").expect("write");
    let mut h = harness(tmp.path());
    h.step();
    let before = h.state().config().clone();
    let ctx = h.ctx.clone();
    h.state_mut().apply(Action::LoadPreset(bad), &ctx);
    step_until_shown(&mut h, "Dismiss");
    let error = h.state().error().expect("an error is shown").to_owned();
    assert!(
        error.contains("lr_genrator") && error.contains("bad.toml"),
        "{error}"
    );
    assert!(
        h.query_by_label_contains("lr_genrator").is_some(),
        "the message is on screen"
    );
    assert_eq!(
        h.state().config(),
        &before,
        "the edited config is untouched"
    );
    h.get_by_label("Dismiss").click();
    h.step();
    assert!(h.state().error().is_none());
}

/// The class-conditional digits preset with the shipped teacher and classifier, evaluated on
/// 40 samples every 2 iterations, batch 4: image runs at test speed.
pub(crate) fn digits_config() -> RunConfig {
    let at = |p: &str| repo().join(p).display().to_string();
    RunConfig::load(
        &repo().join("presets/digits_sim.toml"),
        &[
            format!(
                "teacher.path=\"{}\"",
                at("assets/teachers/digits-cond.safetensors")
            ),
            format!(
                "eval.classifier=\"{}\"",
                at("assets/classifiers/digits-cnn.safetensors")
            ),
            "eval.samples=40".into(),
            "eval.every=2".into(),
            "eval.teacher_metrics=false".into(),
            "distill.batch=4".into(),
            "iterations=1000000".into(),
        ],
    )
    .expect("digits preset")
}

#[test]
fn conditional_digits_show_teacher_and_student_grids_one_row_per_class() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = digits_config();
    let mut h = harness_with(tmp.path(), config);
    press_start(&mut h);
    wait_until(&mut h, "the first grids", |a| {
        a.runs()
            .active()
            .and_then(|r| r.history.samples.as_ref())
            .is_some_and(|v| v.step >= 2 && !v.teacher.is_empty())
    });
    let view = h
        .state()
        .runs()
        .active()
        .and_then(|r| r.history.samples.clone());
    let view = view.expect("a view");
    assert_eq!(view.image_shape, Some([1, 8, 8]));
    assert_eq!(view.columns, 10);
    // Same seeds and labels on both sides: 10 rows (one per class) of 10 images each.
    assert_eq!(view.teacher.len(), 100 * 64);
    assert_eq!(view.student.len(), view.teacher.len());
    let labels = view.labels.expect("conditional labels");
    assert_eq!(labels.len(), 100);
    assert!(labels.iter().enumerate().all(|(i, &y)| y == i / 10));
    h.step();
    step_until_shown(&mut h, "one row per class");
    step_until_shown(&mut h, "FID (digits-CNN)");
    // Toy-only plots are left out for an image run.
    assert!(h.query_by_label_contains("mode coverage").is_none());

    // Export → Samples writes the same teacher | student grids as the run folder's snapshots
    // (10 rows of 10 + blank + 10 tiles of 8×8, 4× with 2 px gaps), not a 384×384 scatter.
    let path = export(&mut h, Action::ExportSamples, "samples");
    let png = std::fs::read(&path).expect("the exported PNG");
    let be = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
    assert_eq!(
        (be(16), be(20)),
        (21 * 34 + 2, 10 * 34 + 2),
        "{}",
        path.display()
    );
}

/// A run folder of the previous format (`tests/fixtures/run-v1/`) loads into the runs list as it
/// was recorded: its `teacher_eval` line is the teacher's score (the reference line of the
/// curves), not an iteration at step 0 with NaN losses.
#[test]
fn a_previous_run_folder_loads_with_its_teacher_score() {
    let run = RunRecord::load(&repo().join("tests/fixtures/run-v1"), 0).expect("loads");
    assert_eq!(run.engine.status, RunStatus::Loaded);
    let steps: Vec<u64> = run.history.progress.iter().map(|p| p.step).collect();
    assert_eq!(steps, [1, 2, 3]);
    assert!(
        run.history
            .progress
            .iter()
            .all(|p| p.stats.loss_generator.is_finite() && p.stats.loss_fake.is_finite())
    );
    assert_eq!(run.history.evals.len(), 3);
    let teacher = run.engine.teacher.as_ref().expect("the teacher's score");
    assert_eq!(teacher.nfe, 7);
    assert!(teacher.metrics.image().is_some_and(|m| m.fid > 300.0));
    assert_eq!(run.history.markers.len(), 1);
    assert_eq!(run.history.markers[0].step, 2);
    assert_eq!(run.engine.step, 3);
}

/// A live setting changed in the experiment panel takes the one edit path: the panel returns a
/// tweak, the draft changes, and the engine acknowledges it with a marker.
#[test]
fn a_panel_change_reaches_the_draft_and_the_engine() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut h = harness(tmp.path());
    press_start(&mut h);
    wait_until(&mut h, "iterations", |a| active_step(a) >= 2);
    h.get_by_label("weighting w(σ)").click();
    for _ in 0..3 {
        h.step();
    }
    h.get_by_label("sidwgt (SiD)").click();
    h.step();
    wait_until(&mut h, "the marker", |a| {
        a.runs()
            .active()
            .is_some_and(|r| r.history.markers.iter().any(|m| m.label == "w = Sid"))
    });
    assert_eq!(h.state().config().distill.weighting, Weighting::Sid);
    let run = h.state().runs().active().expect("active run");
    assert_eq!(run.engine.config.distill.weighting, Weighting::Sid);
}

/// The redraw interval starts on `auto` (a test harness has no wgpu adapter, so the GPU
/// default) and a pick in the status bar reaches the run list that paces the engine's redraws.
#[test]
fn the_refresh_picker_starts_on_auto_and_sets_the_redraw_interval() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut h = harness(tmp.path());
    h.step();
    assert_eq!(h.state().runs().refresh(), Duration::from_millis(500));
    h.get_by_role_and_label(Role::ComboBox, "refresh").click();
    for _ in 0..3 {
        h.step();
    }
    h.get_by_label("5.00 s").click();
    h.step();
    assert_eq!(h.state().runs().refresh(), Duration::from_millis(5000));
}

/// The experiment as one string: "Copy preset" puts the draft on the clipboard, a pasted preset
/// replaces the draft, and a malformed one is refused with the place of the error, the draft
/// kept.
#[test]
fn a_preset_string_is_copied_and_pasted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut h = harness(tmp.path());
    h.step();
    h.get_by_label("Copy preset").click();
    h.step();
    let notice = h.state().runs().notice.clone().unwrap_or_default();
    assert!(notice.contains("copied"), "{notice}");

    let mut shared = h.state().config().clone();
    shared.name = "shared-by-a-friend".into();
    shared.distill.lr_generator = 3e-4;
    let ctx = h.ctx.clone();
    h.state_mut()
        .apply(Action::PastePreset(shared.to_toml()), &ctx);
    assert_eq!(*h.state().config(), shared);

    // Typed into the box and used by its button, as a user would.
    let mut typed = shared.clone();
    typed.name = "typed-into-the-box".into();
    h.get_by_role(Role::MultilineTextInput).click();
    h.step();
    h.get_by_role(Role::MultilineTextInput)
        .type_text(&typed.to_toml());
    h.step();
    h.get_by_label("Use pasted").click();
    h.step();
    assert_eq!(*h.state().config(), typed);
    h.state_mut()
        .apply(Action::PastePreset(shared.to_toml()), &ctx);

    h.state_mut().apply(
        Action::PastePreset("[distill]\nbatch = \"big\"\n".into()),
        &ctx,
    );
    let error = h.state().error().expect("an error").to_owned();
    assert!(
        error.contains("pasted preset") && error.contains("batch"),
        "{error}"
    );
    assert_eq!(*h.state().config(), shared);
}

/// Every experiment control says what it is in the paper's words: hovering the distance picker
/// shows its equation and what it does.
#[test]
fn hovering_a_setting_tells_what_it_is_in_the_papers_words() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut h = harness(tmp.path());
    h.step();
    h.get_by_label("distance d").hover();
    for _ in 0..40 {
        h.step();
        if h.query_by_label_contains("(Eq. 3.7)").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(
        h.query_by_label_contains("Pseudo-Huber (Eq. 3.8) normalises the update")
            .is_some(),
        "no tooltip on the distance picker"
    );
}

/// The diagnostics view of a run shows its σ bins with the weights of its distance:
/// pseudo-Huber's fall where |y| is large, L2's are 2 in every bin.
#[test]
fn the_diagnostics_view_shows_weights_that_follow_the_distance() {
    for (distance, pseudo_huber) in [
        ("{ kind = \"pseudo_huber\", c = 0.03 }", true),
        ("{ kind = \"l2\" }", false),
    ] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let config = RunConfig::load(
            &repo().join("presets/default.toml"),
            &[
                "eval.samples=1000".into(),
                "eval.every=10".into(),
                "eval.diagnostics_every=5".into(),
                "iterations=1000000".into(),
                format!("distill.distance={distance}"),
            ],
        )
        .expect("default preset");
        let mut h = harness_with(tmp.path(), config);
        press_start(&mut h);
        h.get_by_label("Diagnostics").click();
        wait_until(&mut h, "diagnostics", |a| {
            a.runs()
                .active()
                .is_some_and(|r| r.history.diagnostics.is_some())
        });
        h.get_by_label("Pause").click();
        h.step();
        h.step();
        let bins = h
            .state()
            .runs()
            .active()
            .and_then(|r| r.history.diagnostics.clone())
            .expect("diagnostics")
            .1
            .bins;
        assert_eq!(bins.len(), 8);
        step_until_shown(&mut h, "share of gradient");
        // Every bin's weight is on screen as the view writes it.
        for bin in &bins {
            let shown = weight_text(bin.mean_weight);
            assert!(
                h.query_all_by_label(&shown).count() > 0,
                "weight {shown} not shown"
            );
        }
        let by_norm = |pick_max: bool| {
            let cmp = |a: &&sim_engine::distill::diagnostics::SigmaBin,
                       b: &&sim_engine::distill::diagnostics::SigmaBin| {
                a.mean_norm_y.total_cmp(&b.mean_norm_y)
            };
            let bin = if pick_max {
                bins.iter().max_by(cmp)
            } else {
                bins.iter().min_by(cmp)
            };
            bin.expect("a bin").mean_weight
        };
        let weights: Vec<f64> = bins.iter().map(|b| b.mean_weight).collect();
        let (lowest, highest) = weights
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(l, h), &w| (l.min(w), h.max(w)));
        if pseudo_huber {
            // d'(y) = y / sqrt(|y|² + c²) weighs each sample less as its |y| grows. The bins are σ
            // bins, whose |y| overlap, so two neighbouring bins' means need not be in order (a
            // run showed 0.166 → 7.08 and 0.171 → 7.53); the bins of the smallest and the largest
            // mean |y| are far apart, and their weights are in the distance's order.
            assert!(by_norm(true) < 0.5 * by_norm(false), "{bins:?}");
            assert!(highest > 2.0 * lowest, "{weights:?}");
        } else {
            assert!(
                weights.iter().all(|w| (w - 2.0).abs() < 1e-5),
                "{weights:?}"
            );
            assert_eq!(h.query_all_by_label("2.000").count(), 8);
        }
    }
}

/// A target drawn on the canvas (two clicks, a stroke, a click that makes a mode heavier)
/// becomes an exact mixture in the draft; saved as a preset and loaded back, it is the same.
#[test]
fn a_drawn_target_is_saved_and_reloaded_as_the_same_mixture() {
    use eframe::egui::{Event, Modifiers, PointerButton, Pos2};
    use sim_engine::data::DataConfig;
    use sim_engine::data::toy::ToyData;
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut h = harness(tmp.path());
    h.step();
    h.get_by_role_and_label(Role::ComboBox, "data").click();
    step_until_shown(&mut h, "draw your own");
    h.get_by_label("draw your own (mixture)").click();
    h.step();
    h.step();
    h.get_by_label("Clear").click();
    h.step();
    h.step();
    // Cleared, the target is still an exact mixture (empty, to be drawn).
    assert_eq!(
        h.state().config().teacher,
        sim_engine::teacher::TeacherConfig::Exact
    );
    let rect = h.get_by_label("target canvas").rect();
    // The canvas shows [-2, 2]²: data (x, y) is at these screen points.
    let at = |x: f32, y: f32| {
        Pos2::new(
            rect.left() + (x / 2.0 + 1.0) * 0.5 * rect.width(),
            rect.top() + (1.0 - (y / 2.0 + 1.0) * 0.5) * rect.height(),
        )
    };
    let press = |h: &mut Harness<'static, WorkbenchApp>, pos: Pos2, pressed: bool| {
        h.event(Event::PointerButton {
            pos,
            button: PointerButton::Primary,
            pressed,
            modifiers: Modifiers::default(),
        });
        h.step();
    };
    let moved = |h: &mut Harness<'static, WorkbenchApp>, pos: Pos2| {
        h.event(Event::PointerMoved(pos));
        h.step();
    };
    for (x, y) in [(-1.0, 1.0), (1.0, 1.0)] {
        moved(&mut h, at(x, y));
        press(&mut h, at(x, y), true);
        press(&mut h, at(x, y), false);
    }
    // A stroke from (-1, -1) to (1, -1): modes every 1.5 widths (0.12) along it.
    moved(&mut h, at(-1.0, -1.0));
    press(&mut h, at(-1.0, -1.0), true);
    for i in 1..=40 {
        moved(&mut h, at(-1.0 + 2.0 * i as f32 / 40.0, -1.0));
    }
    press(&mut h, at(1.0, -1.0), false);
    // A second click on the first mode: twice the weight.
    moved(&mut h, at(-1.0, 1.0));
    press(&mut h, at(-1.0, 1.0), true);
    press(&mut h, at(-1.0, 1.0), false);
    h.step();
    let DataConfig::Toy(ToyData::Mixture { components }) = h.state().config().data.clone() else {
        panic!(
            "the draft's data is a drawn mixture: {:?}",
            h.state().config().data
        );
    };
    assert!(
        (components[0].mean[0] + 1.0).abs() < 0.05 && (components[0].mean[1] - 1.0).abs() < 0.05,
        "{components:?}"
    );
    assert_eq!(components[0].weight, 2.0);
    let stroke = components
        .iter()
        .filter(|c| (c.mean[1] + 1.0).abs() < 0.05)
        .count();
    assert!(
        (12..=18).contains(&stroke),
        "{stroke} modes along a stroke of 2 at 0.12 apart: {components:?}"
    );
    assert!(components.iter().all(|c| c.std == 0.08));
    assert!(h.state().config().validate().is_ok());

    let path = tmp.path().join("drawn.toml");
    let ctx = h.ctx.clone();
    h.state_mut().apply(Action::SavePreset(path.clone()), &ctx);
    h.step();
    let saved = RunConfig::load(&path, &[]).expect("the saved preset loads");
    assert_eq!(saved.data, h.state().config().data);
    // Another data set, then the file again: the same mixture.
    h.get_by_role_and_label(Role::ComboBox, "data").click();
    step_until_shown(&mut h, "two moons");
    h.get_by_label("two moons").click();
    h.step();
    assert!(!matches!(
        h.state().config().data,
        DataConfig::Toy(ToyData::Mixture { .. })
    ));
    h.state_mut().apply(Action::LoadPreset(path), &ctx);
    h.step();
    assert_eq!(
        h.state().config().data,
        DataConfig::Toy(ToyData::Mixture { components })
    );
}

/// A race of two variants on two seeds each: four runs on seeds 0 and 1, one colour per
/// variant; the curves' band of each variant spans its seeds, and the runs panel shows the
/// final scores as mean ± s.e. of both seeds.
#[test]
fn a_two_seed_race_draws_a_band_and_reports_mean_and_error() {
    use sim_engine::distill::distance::Distance;
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut h = harness(tmp.path());
    h.step();
    let base = h.state().config().clone();
    let mut l2 = base.clone();
    l2.distill.distance = Distance::L2;
    let variants = vec![
        ("race: SIM pseudo-Huber".to_owned(), base.clone()),
        ("race: SIM L2".to_owned(), l2),
    ];
    let ctx = h.ctx.clone();
    h.state_mut()
        .apply(Action::Race { variants, seeds: 2 }, &ctx);
    wait_until(&mut h, "two evaluations of every seed", |a| {
        a.runs().records.len() == 4 && a.runs().records.iter().all(|r| r.history.evals.len() >= 2)
    });
    for run in &h.state().runs().records {
        run.send(sim_engine::protocol::Command::Pause);
    }
    h.step();
    let runs: Vec<&RunRecord> = h.state().runs().records.iter().collect();
    let seeds: Vec<u64> = runs.iter().map(|r| r.engine.config.seed).collect();
    assert_eq!(seeds, [base.seed, base.seed + 1, base.seed, base.seed + 1]);
    let groups = seed_groups(&runs);
    assert_eq!(groups.len(), 2);
    for (name, members) in &groups {
        assert_eq!(members.len(), 2, "{name}");
        assert_eq!(members[0].color, members[1].color, "one colour per variant");
        // The band of the exact IS at the evaluations both seeds made: min ≤ mean ≤ max, and
        // the seeds differ somewhere.
        let is: Vec<Vec<(u64, f64, f64)>> = members
            .iter()
            .map(|m| {
                m.history
                    .evals
                    .iter()
                    .filter_map(|e| {
                        e.metrics
                            .toy()
                            .and_then(|t| t.is)
                            .map(|v| (e.step, e.wall_s, v))
                    })
                    .collect()
            })
            .collect();
        let points = band(&is);
        assert!(points.len() >= 2, "{name}: {points:?}");
        assert!(points.iter().all(|p| p.min <= p.mean && p.mean <= p.max));
        assert!(
            points.iter().any(|p| p.max > p.min),
            "{name}: two seeds, one curve? {points:?}"
        );
    }
    assert_ne!(groups[0].1[0].color, groups[1].1[0].color);
    step_until_shown(&mut h, "Seeds: final scores");
    assert_eq!(h.query_all_by_label_contains("of 2 seeds").count(), 2);
    assert!(h.query_by_label_contains("race: SIM L2: IS").is_some());
}

/// Moving the smoothing slider changes what is drawn (a unit test of `curves` checks the line),
/// never the data: the run's per-iteration numbers and its `metrics.jsonl` stay as they were.
#[test]
fn smoothing_leaves_the_logged_data_alone() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut h = harness(tmp.path());
    press_start(&mut h);
    wait_until(&mut h, "iterations", |a| active_step(a) >= 20);
    pause(&mut h);
    let losses = |a: &WorkbenchApp| -> Vec<f64> {
        let run = a.runs().active().expect("active run");
        run.history
            .progress
            .iter()
            .map(|p| p.stats.loss_generator)
            .collect()
    };
    let before = losses(h.state());
    let dir = h
        .state()
        .runs()
        .active()
        .and_then(|r| r.engine.dir.clone())
        .expect("folder");
    let logged = std::fs::read_to_string(dir.join("metrics.jsonl")).expect("metrics");
    for value in [0.0, 0.95] {
        h.get_by_role_and_label(Role::Slider, "smoothing")
            .set_value_accesskit(value);
        h.step();
        h.step();
    }
    assert_eq!(losses(h.state()), before);
    assert_eq!(
        std::fs::read_to_string(dir.join("metrics.jsonl")).expect("metrics"),
        logged
    );
}

/// The paper's preset loads with its EDM teacher chosen; the teacher choice switches between a
/// workbench network and a converted EDM network, keeping the data; and starting without the
/// converted file reports the converter in the run's log instead of running.
#[test]
fn the_cifar10_preset_shows_its_edm_teacher_and_names_the_converter() {
    use sim_engine::teacher::TeacherConfig;
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut h = harness(tmp.path());
    let ctx = h.ctx.clone();
    let preset = repo().join("presets/cifar10_sim_cond.toml");
    h.state_mut().apply(Action::LoadPreset(preset), &ctx);
    step_until_shown(&mut h, "EDM (converted)");
    assert!(matches!(
        h.state().config().teacher,
        TeacherConfig::Edm { .. }
    ));
    h.get_by_label("network").click();
    h.step();
    assert!(matches!(
        h.state().config().teacher,
        TeacherConfig::Network { .. }
    ));
    h.get_by_label("EDM (converted)").click();
    h.step();
    let TeacherConfig::Edm { path } = &h.state().config().teacher else {
        panic!("an EDM teacher again");
    };
    assert_eq!(
        path,
        &PathBuf::new(),
        "a fresh choice starts without a file"
    );
    h.state_mut().apply(
        Action::LoadPreset(repo().join("presets/cifar10_sim_cond.toml")),
        &ctx,
    );
    h.step();
    press_start(&mut h);
    wait_until(&mut h, "the refusal", |a| {
        a.runs().active().is_some_and(|r| {
            r.history
                .log
                .iter()
                .any(|line| line.contains("tools/edm_to_safetensors.py"))
        })
    });
}

/// A panic in one engine of a race (planted after its iteration 3) fails that run with the
/// panic's message, in the runs list and the banner; the other run goes on.
#[test]
fn an_engine_panic_fails_its_run_and_the_race_goes_on() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut h = harness(tmp.path());
    h.step();
    let base = h.state().config().clone();
    let mut doomed = base.clone();
    doomed.name = "gui-doomed".into();
    let mut survivor = base;
    survivor.name = "gui-survivor".into();
    sim_engine::fault::panic_engine_at("gui-doomed", 3);
    let variants = vec![
        ("doomed".to_owned(), doomed),
        ("survivor".to_owned(), survivor),
    ];
    let ctx = h.ctx.clone();
    h.state_mut()
        .apply(Action::Race { variants, seeds: 1 }, &ctx);
    wait_until(&mut h, "one run to fail while the other goes on", |a| {
        let runs = &a.runs().records;
        runs.len() == 2
            && matches!(runs[0].engine.status, RunStatus::Failed(_))
            && runs[1].history.progress.len() >= 20
    });
    let runs = &h.state().runs().records;
    let RunStatus::Failed(message) = &runs[0].engine.status else {
        unreachable!("waited for it")
    };
    assert_eq!(
        message,
        "the engine panicked: injected fault: run gui-doomed stops at iteration 3"
    );
    assert_eq!(runs[0].history.progress.last().map(|p| p.step), Some(3));
    assert_eq!(runs[1].engine.status, RunStatus::Running);
    h.step();
    assert!(
        h.query_by_label_contains("The run failed: the engine panicked")
            .is_some()
    );
}
