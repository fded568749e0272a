//! The runs panel: every run of the session and runs loaded from `runs/`; tick to overlay,
//! click to make active; the race starts here.

use eframe::egui;

use crate::gui::action::Action;
use crate::gui::plots::band::{mean_se, seed_groups};
use crate::gui::state::run_list::{RunList, RunRecord, RunStatus, inception};

/// Draws the list; ticks and clicks come back as actions.
pub fn ui(ui: &mut egui::Ui, runs: &RunList) -> Vec<Action> {
    let mut out = Vec::new();
    ui.heading("Runs");
    ui.horizontal(|ui| {
        if ui
            .button("Load runs/")
            .on_hover_text("read the run folders written by the CLI or earlier sessions")
            .clicked()
        {
            out.push(Action::LoadRuns);
        }
        if ui
            .button("Race…")
            .on_hover_text("2–4 variants of this config differing in one setting, side by side")
            .clicked()
        {
            out.push(Action::OpenRace);
        }
    });
    ui.separator();
    seed_scores(ui, runs);
    let active = runs.active;
    egui::ScrollArea::vertical().show(ui, |ui| {
        for (i, run) in runs.records.iter().enumerate() {
            run_row(ui, i, run, active == Some(i), &mut out);
            ui.small(format!("   {}", run_line(run)));
        }
    });
    out
}

/// Each race variant run on several seeds: its colour and final scores, mean ± s.e.
fn seed_scores(ui: &mut egui::Ui, runs: &RunList) {
    let all: Vec<&RunRecord> = runs.records.iter().collect();
    let groups = seed_groups(&all);
    if !groups.is_empty() {
        ui.strong("Seeds: final scores, mean ± s.e.");
        for (name, members) in &groups {
            ui.horizontal_wrapped(|ui| {
                let (dot, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
                ui.painter()
                    .circle_filled(dot.center(), 4.5, members[0].color);
                ui.label(seed_summary(name, members));
            });
        }
        ui.separator();
    }
}

/// A run's row: its overlay tick, colour and name (a click makes it the active run).
fn run_row(ui: &mut egui::Ui, i: usize, run: &RunRecord, active: bool, out: &mut Vec<Action>) {
    ui.horizontal(|ui| {
        let mut visible = run.view.visible;
        if ui
            .checkbox(&mut visible, "")
            .on_hover_text(format!("overlay {}", run.label))
            .changed()
        {
            out.push(Action::SetVisible(i, visible));
        }
        let (dot, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
        ui.painter().circle_filled(dot.center(), 4.5, run.color);
        let text = egui::RichText::new(&run.label);
        let text = if active { text.strong() } else { text };
        if ui.selectable_label(active, text).clicked() {
            out.push(Action::Activate(i));
        }
    });
}

/// The line under a run's name: where it stands, at which iteration, and its latest scores.
fn run_line(run: &RunRecord) -> String {
    let state = match &run.engine.status {
        RunStatus::Preparing(m, f) => format!("{m} {:.0}%", f * 100.0),
        RunStatus::Running => format!("running · {}", run.engine.step),
        RunStatus::Paused => format!("paused · {}", run.engine.step),
        RunStatus::Diverged { step, .. } => format!("diverged at {step}"),
        RunStatus::Finished => format!("finished · {}", run.engine.step),
        RunStatus::Stopped => format!("stopped · {}", run.engine.step),
        RunStatus::Failed(_) => "failed".into(),
        RunStatus::Loaded => format!("from disk · {}", run.engine.step),
    };
    let last = run
        .history
        .evals
        .last()
        .and_then(|e| {
            let is = inception(&e.metrics).map(|is| format!(" · IS {is:.2}"));
            let fid = e.metrics.image().map(|i| format!(" · FID {:.1}", i.fid));
            is.map(|is| is + &fid.unwrap_or_default())
        })
        .unwrap_or_default();
    format!("{state}{last}")
}

/// A variant's final scores over its seeds (each seed's latest evaluation): IS, then FID
/// (images) or FD (toys), as mean ± standard error, with the number of seeds evaluated.
pub fn seed_summary(name: &str, members: &[&RunRecord]) -> String {
    let last: Vec<_> = members
        .iter()
        .filter_map(|m| m.history.evals.last())
        .collect();
    if last.is_empty() {
        return format!("{name}: {} seeds, not evaluated yet", members.len());
    }
    let score = |label: &str, f: &dyn Fn(&sim_engine::metrics::Metrics) -> Option<f64>| {
        let values: Vec<f64> = last.iter().filter_map(|e| f(&e.metrics)).collect();
        if values.is_empty() {
            return None;
        }
        let (mean, se) = mean_se(&values);
        Some(format!("{label} {} ± {}", short(mean), short(se)))
    };
    let scores: Vec<String> = [
        score("IS", &inception),
        score("FID", &|m| m.image().map(|i| i.fid)),
        score("FD", &|m| m.toy().map(|t| t.fd)),
    ]
    .into_iter()
    .flatten()
    .collect();
    format!(
        "{name}: {}, {} of {} seeds",
        scores.join(", "),
        last.len(),
        members.len()
    )
}

/// Three significant digits.
fn short(v: f64) -> String {
    if !v.is_finite() {
        "?".into()
    } else if v == 0.0 || (0.01..1000.0).contains(&v.abs()) {
        let decimals = (2 - v.abs().max(1e-300).log10().floor() as i32).clamp(0, 4) as usize;
        format!("{v:.decimals$}")
    } else {
        format!("{v:.2e}")
    }
}
