//! What the screen shows is what the run does, driven as a user would (egui_kittest, the real
//! engine on the CPU): values typed into every live numeric control are taken exactly when the
//! engine's check takes them and refused where they were typed otherwise; the panel, the run
//! and the next run agree; exports hold their data; runs of two kinds of data never share axes;
//! a stopped run reads "stopped" and a paused one's clock stands still.

use std::time::Duration;

use eframe::egui::accesskit::Role;
use eframe::egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use sim_engine::config::RunConfig;
use sim_engine::diffusion::sigma::SigmaDistribution;
use sim_engine::distill::config::DistillConfig;
use sim_engine::distill::distance::Distance;
use sim_engine::distill::objective::Objective;
use sim_engine::protocol::Tweak;
use sim_workbench::gui::{Action, RunStatus, WorkbenchApp};

use crate::gui::{
    active_step, digits_config, export, harness, pause, press_start, step_until_shown, wait_until,
};

type Gui = Harness<'static, WorkbenchApp>;

/// Types `text` into the box labelled `label` as a user does: focus, select all, type, Enter.
fn type_into(h: &mut Gui, label: &str, text: &str) {
    h.get_by_role_and_label(Role::TextInput, label)
        .scroll_to_me();
    h.step();
    h.get_by_role_and_label(Role::TextInput, label).focus();
    h.step();
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.step();
    h.get_by_role_and_label(Role::TextInput, label)
        .type_text(text);
    h.step();
    h.key_press(Key::Enter);
    h.step();
    h.step();
}

/// Applies a live change through the app and waits until the engine has answered it.
fn tweak_and_wait(h: &mut Gui, tweak: Tweak) {
    let ctx = h.ctx.clone();
    h.state_mut().apply(Action::Tweak(tweak.clone()), &ctx);
    wait_until(h, "the engine to apply the change", |a| {
        a.runs()
            .active()
            .is_some_and(|r| r.pending.is_empty() && r.engine.config.distill == a.config().distill)
    });
}

/// The setting a typed text would make, checked as the engine checks it: `None` where it is not
/// a number of the control's kind, else the engine's verdict on the changed config.
type Proposal = fn(&DistillConfig, &str) -> Option<Tweak>;

/// Every numeric live control: a change that makes it appear, its label, what its box would
/// send for a text, and texts to type (out of range, negative, zero, not a number, and valid).
fn controls() -> Vec<(Option<Tweak>, &'static str, Proposal, Vec<&'static str>)> {
    vec![
        (
            None,
            "lr θ (generator)",
            |_, t| t.parse().ok().map(Tweak::LrGenerator),
            vec!["-1e-3", "0", "abc", "1e400", "2e-3"],
        ),
        (
            None,
            "lr ψ (fake denoiser)",
            |_, t| t.parse().ok().map(Tweak::LrFake),
            vec!["-0.5", "0", " ", "3e-4"],
        ),
        (
            None,
            "k_ψ (fake steps per θ step)",
            |_, t| t.parse().ok().map(Tweak::KFake),
            vec!["0", "-1", "2.5", "x", "4294967296", "3"],
        ),
        (
            None,
            "c",
            |_, t| {
                t.parse()
                    .ok()
                    .map(|c| Tweak::Distance(Distance::PseudoHuber { c }))
            },
            vec!["-0.03", "0", "NaN", "inf", "0.5"],
        ),
        (
            Some(Tweak::Distance(Distance::Huber { delta: 0.1 })),
            "δ",
            |_, t| {
                t.parse()
                    .ok()
                    .map(|delta| Tweak::Distance(Distance::Huber { delta }))
            },
            vec!["-1", "0", "one", "0.25"],
        ),
        (
            Some(Tweak::Distance(Distance::ExpPower {
                alpha: 2,
                beta: 0.5,
            })),
            "β",
            |d, t| {
                let Distance::ExpPower { alpha, .. } = d.distance else {
                    return None;
                };
                t.parse()
                    .ok()
                    .map(|beta| Tweak::Distance(Distance::ExpPower { alpha, beta }))
            },
            vec!["-2", "0", "b", "1.5"],
        ),
        (
            None,
            "α (even)",
            |d, t| {
                let Distance::ExpPower { beta, .. } = d.distance else {
                    return None;
                };
                t.parse()
                    .ok()
                    .map(|alpha| Tweak::Distance(Distance::ExpPower { alpha, beta }))
            },
            vec!["3", "0", "-2", "q", "6"],
        ),
        (
            Some(Tweak::GeneratorSigma(SigmaDistribution::LogNormal {
                p_mean: -2.0,
                p_std: 2.0,
            })),
            "P_std (σ for θ (p_G))",
            |d, t| {
                let SigmaDistribution::LogNormal { p_mean, .. } = d.generator_sigma else {
                    return None;
                };
                t.parse().ok().map(|p_std| {
                    Tweak::GeneratorSigma(SigmaDistribution::LogNormal { p_mean, p_std })
                })
            },
            vec!["-1", "nan", "s", "0", "1.5"],
        ),
        (
            None,
            "P_mean (σ for θ (p_G))",
            |d, t| {
                let SigmaDistribution::LogNormal { p_std, .. } = d.generator_sigma else {
                    return None;
                };
                t.parse().ok().map(|p_mean| {
                    Tweak::GeneratorSigma(SigmaDistribution::LogNormal { p_mean, p_std })
                })
            },
            vec!["inf", "m", "-1.5"],
        ),
        (
            Some(Tweak::Objective(Objective::Sid { alpha: 1.2 })),
            "SiD α",
            |_, t| {
                t.parse()
                    .ok()
                    .map(|alpha| Tweak::Objective(Objective::Sid { alpha }))
            },
            vec!["NaN", "-inf", "a", "-1", "0.7"],
        ),
    ]
}

/// Each numeric live control, typed into during a run with values out of range, negative, zero
/// and not numbers: a value is taken exactly when the engine's own check (`Tweak::apply`) takes
/// it — then the run uses it and the panel shows it — and otherwise refused where it was typed,
/// with the engine's reason, changing nothing (no command sent, no marker, the draft as it was).
#[test]
fn typed_values_are_taken_exactly_when_the_engine_takes_them() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut h = harness(tmp.path());
    press_start(&mut h);
    wait_until(&mut h, "iterations", |a| active_step(a) >= 3);
    let mut refused = 0;
    let mut taken = 0;
    for (setup, label, proposal, texts) in controls() {
        if let Some(tweak) = setup {
            tweak_and_wait(&mut h, tweak);
        }
        for text in texts {
            let before = h.state().config().clone();
            let markers = h
                .state()
                .runs()
                .active()
                .map_or(0, |r| r.history.markers.len());
            let verdict = proposal(&before.distill, text)
                .map(|tweak| tweak.apply(&mut before.distill.clone()).map(|()| tweak));
            type_into(&mut h, label, text);
            match verdict {
                Some(Ok(tweak)) => {
                    wait_until(&mut h, "the engine to apply a typed value", |a| {
                        a.runs().active().is_some_and(|r| {
                            r.pending.is_empty()
                                && r.history.markers.len() == markers + 1
                                && r.engine.config.distill == a.config().distill
                        })
                    });
                    let mut expected = before.distill.clone();
                    tweak.apply(&mut expected).expect("checked");
                    assert_eq!(h.state().config().distill, expected, "{label} ← {text}");
                    assert!(h.query_by_label_contains("refused").is_none());
                    taken += 1;
                }
                verdict => {
                    for _ in 0..5 {
                        h.step();
                    }
                    let run = h.state().runs().active().expect("active run");
                    assert_eq!(*h.state().config(), before, "{label} ← {text}: changed");
                    assert!(run.pending.is_empty(), "{label} ← {text}: sent");
                    assert_eq!(
                        run.history.markers.len(),
                        markers,
                        "{label} ← {text}: applied"
                    );
                    assert_eq!(run.engine.config.distill, before.distill);
                    let reason = match verdict {
                        Some(Err(e)) => e.to_string(),
                        _ => "is not".to_owned(),
                    };
                    assert!(
                        h.query_by_label_contains(&reason).is_some(),
                        "{label} ← {text}: no “{reason}” under the box"
                    );
                    refused += 1;
                }
            }
            // The box shows the value in use once it is not being edited.
            let shown = h
                .get_by_role_and_label(Role::TextInput, label)
                .value()
                .unwrap_or_default();
            let parsed: f64 = shown.parse().expect("the box shows a number");
            let in_use = match label {
                "lr θ (generator)" => h.state().config().distill.lr_generator,
                "lr ψ (fake denoiser)" => h.state().config().distill.lr_fake,
                "k_ψ (fake steps per θ step)" => f64::from(h.state().config().distill.k_fake),
                _ => parsed,
            };
            assert_eq!(parsed, in_use, "{label} shows {shown}");
        }
    }
    assert!(
        refused >= 30 && taken >= 10,
        "{refused} refused, {taken} taken"
    );
}

/// A typed learning rate: after the engine's `Applied`, the panel, the run and the run's log
/// agree, and the next run starts with it (its `config.toml`).
#[test]
fn the_panel_the_run_and_the_next_run_agree() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut h = harness(tmp.path());
    press_start(&mut h);
    wait_until(&mut h, "iterations", |a| active_step(a) >= 3);
    type_into(&mut h, "lr θ (generator)", "2.5e-3");
    wait_until(&mut h, "the change to apply", |a| {
        a.runs()
            .active()
            .is_some_and(|r| r.engine.config.distill.lr_generator == 2.5e-3)
    });
    assert_eq!(h.state().config().distill.lr_generator, 2.5e-3);
    let run = h.state().runs().active().expect("the run");
    assert_eq!(
        run.history.markers.last().map(|m| m.label.as_str()),
        Some("lr θ = 2.5e-3")
    );
    let shown = h
        .get_by_role_and_label(Role::TextInput, "lr θ (generator)")
        .value();
    assert_eq!(shown.as_deref(), Some("0.0025"));
    press_start(&mut h);
    wait_until(&mut h, "the second run's folder", |a| {
        a.runs().records.len() == 2 && a.runs().records[1].engine.dir.is_some()
    });
    let dir = h.state().runs().records[1].engine.dir.clone().expect("dir");
    let next = RunConfig::load(&dir.join("config.toml"), &[]).expect("config.toml");
    assert_eq!(next.distill.lr_generator, 2.5e-3);
}

/// Export → Metrics (CSV) holds every column `metrics.jsonl` logs, evaluations included, each on
/// the row of its iteration, with the same values.
#[test]
fn the_csv_holds_every_logged_value_on_its_row() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut h = harness(tmp.path());
    press_start(&mut h);
    wait_until(&mut h, "three evaluations", |a| {
        a.runs()
            .active()
            .is_some_and(|r| r.history.evals.len() >= 4)
    });
    pause(&mut h);
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(20));
        h.step();
    }
    let path = export(&mut h, Action::ExportCsv, "metrics");
    let csv = std::fs::read_to_string(&path).expect("the CSV");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let cell = |step: u64, column: &str| -> String {
        let c = header
            .iter()
            .position(|h| *h == column)
            .unwrap_or_else(|| panic!("no column {column}"));
        let row = rows
            .iter()
            .find(|r| r[0] == step.to_string())
            .unwrap_or_else(|| panic!("no row for step {step}"));
        row[c].to_owned()
    };
    let jsonl = std::fs::read_to_string(path.with_file_name("metrics.jsonl")).expect("jsonl");
    let mut evals = 0;
    for line in jsonl.lines() {
        let value: serde_json::Value = serde_json::from_str(line).expect("json");
        let kind = value["event"].as_str().unwrap_or_default();
        if kind != "eval" && kind != "iteration" {
            continue;
        }
        let step = value["step"].as_u64().expect("step");
        for (key, logged) in value.as_object().expect("object") {
            if matches!(key.as_str(), "event" | "step" | "wall_s") {
                continue;
            }
            // Numbers compared as numbers: serde_json's reader may round the last bit.
            let csv = cell(step, key);
            match (logged.as_f64(), csv.parse::<f64>()) {
                (Some(a), Ok(b)) => {
                    assert!(
                        (a - b).abs() <= 4.0 * f64::EPSILON * a.abs(),
                        "{key} at {step}: {a} vs {b}"
                    )
                }
                _ => assert_eq!(csv, logged.to_string(), "{key} at step {step}"),
            }
        }
        evals += usize::from(kind == "eval");
    }
    assert!(evals >= 4, "{evals} evaluations");
    // Rows that hold no evaluation leave its cells empty (not zero).
    let fd = header.iter().position(|h| *h == "fd").expect("fd");
    assert!(rows.iter().any(|r| r[fd].is_empty()));
}

/// A stopped run reads "stopped", not "finished"; while paused, training time and speed stand
/// still (the clock does not count the pause).
#[test]
fn a_paused_run_stands_still_and_a_stopped_one_says_so() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut h = harness(tmp.path());
    press_start(&mut h);
    wait_until(&mut h, "iterations", |a| active_step(a) >= 5);
    pause(&mut h);
    let wall = |a: &WorkbenchApp| a.runs().active().map_or(0.0, |r| r.engine.wall_s);
    let paused_at = wall(h.state());
    // Four seconds paused: the clock may add the iteration and evaluation in flight when the
    // pause came, never the pause.
    std::thread::sleep(Duration::from_millis(4000));
    h.step();
    step_until_shown(&mut h, ": paused");
    assert_eq!(wall(h.state()), paused_at, "elapsed moved while paused");
    h.key_press(Key::Space);
    h.step();
    wait_until(&mut h, "an iteration after the pause", |a| {
        wall(a) > paused_at
    });
    let resumed = wall(h.state());
    assert!(
        resumed - paused_at < 2.0,
        "the 4 s pause was counted: {paused_at} → {resumed}"
    );
    h.get_by_label("Stop").click();
    wait_until(&mut h, "the stop", |a| {
        a.runs()
            .active()
            .is_some_and(|r| r.engine.status == RunStatus::Stopped)
    });
    h.step();
    step_until_shown(&mut h, "stopped ·");
    assert!(h.query_by_label_contains("finished").is_none());
}

/// A toy run and a digits run: the curves show one kind of data at a time (the active run's,
/// or the tab picked), with titles naming only what is drawn; the curves PNG is drawn
/// off-screen and holds the shown kind's plots.
#[test]
fn runs_of_two_kinds_of_data_never_share_axes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut h = harness(tmp.path());
    press_start(&mut h);
    wait_until(&mut h, "the toy run", |a| active_step(a) >= 3);
    let ctx = h.ctx.clone();
    h.state_mut()
        .apply(Action::EditDraft(Box::new(digits_config())), &ctx);
    for _ in 0..3 {
        h.step();
    }
    // A batch below the slider's range (4 < 16) stays what the config says, in the draft and
    // in the run: a slider's range is never the value's.
    assert_eq!(h.state().config().distill.batch, 4);
    press_start(&mut h);
    wait_until(&mut h, "the digits run's evaluations", |a| {
        a.runs()
            .active()
            .is_some_and(|r| r.history.evals.len() >= 2)
    });
    assert_eq!(
        h.state()
            .runs()
            .active()
            .map(|r| r.engine.config.distill.batch),
        Some(4)
    );
    h.step();
    step_until_shown(&mut h, "FID (digits-CNN)");
    assert!(
        h.query_by_label_contains("Inception Score (digits-CNN)")
            .is_some()
    );
    for toy_only in ["mode coverage", "exact posterior", "toys", "FD (raw 2-D)"] {
        assert!(
            h.query_by_label_contains(toy_only).is_none(),
            "{toy_only} shown with digits"
        );
    }
    h.get_by_label_contains("2-D toy (1)").click();
    h.step();
    step_until_shown(&mut h, "mode coverage");
    assert!(
        h.query_by_label_contains("Inception Score (exact posterior)")
            .is_some()
    );
    assert!(
        h.query_by_label_contains("FID (digits-CNN)").is_none(),
        "FID shown with the toy"
    );

    // Export → Curves (PNG): drawn off-screen, no window needed.
    let path = export(&mut h, Action::ExportPlot, "curves");
    let png = std::fs::read(&path).expect("the curves PNG");
    let be = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
    let (width, height) = (be(16), be(20));
    // 1,100 points at 1.5 pixels per point; seven toy plots in two columns, four rows.
    assert_eq!(width, 1650);
    assert!(height >= 4 * 300, "{width}×{height}");
    assert!(png.len() > 20_000, "{} bytes: an empty figure?", png.len());
}
