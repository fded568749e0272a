//! Exports: samples (PNG, the engine's own view writer), metrics (CSV), curves (PNG, drawn
//! off-screen by `plots::figure`). Files are rasterized, encoded and written on a thread of
//! their own, never on the UI thread; `poll` hands back what finished.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, unbounded};
use eframe::egui::{self, ColorImage};
use sim_engine::run::view::write_view;
use sim_engine::write_atomic;

use super::run_list::RunRecord;

type Done = Result<String, String>;

/// Export state: the results of writes in flight.
pub struct Exporter {
    results: Sender<Done>,
    finished: Receiver<Done>,
    ctx: egui::Context,
    /// The writes' threads, joined once finished, and all of them at exit.
    writers: Vec<JoinHandle<()>>,
}

impl Exporter {
    /// An exporter that wakes `ctx` when a write finishes.
    pub fn new(ctx: egui::Context) -> Self {
        let (results, finished) = unbounded();
        Self {
            results,
            finished,
            ctx,
            writers: Vec::new(),
        }
    }

    /// Runs `write` on a thread of its own; its message comes back through [`Exporter::poll`].
    fn spawn(&mut self, write: impl FnOnce() -> Done + Send + 'static) {
        let (results, ctx) = (self.results.clone(), self.ctx.clone());
        let started = std::thread::Builder::new()
            .name("sim-export".into())
            .spawn(move || {
                let _ = results.send(write());
                ctx.request_repaint();
            });
        match started {
            Ok(writer) => self.writers.push(writer),
            Err(e) => {
                let _ = self
                    .results
                    .send(Err(format!("cannot start the export: {e}")));
            }
        }
    }

    /// Waits for the writes in flight (at exit: a file being written is finished, not lost).
    pub fn finish(&mut self) {
        for writer in self.writers.drain(..) {
            let _ = writer.join();
        }
    }

    /// Writes the active run's teacher and student samples as a PNG: points for a 2-D run,
    /// teacher | student grids for an image run (as the run folder's snapshots).
    pub fn samples(&mut self, run: &RunRecord, dir: PathBuf) {
        let Some(view) = run.history.samples.clone() else {
            let _ = self
                .results
                .send(Err("no samples yet: wait for the first evaluation".into()));
            return;
        };
        let path = dir.join(format!("export-samples-step-{:06}.png", view.step));
        self.spawn(move || {
            write_view(&path, &view)
                .map(|()| format!("samples written to {}", path.display()))
                .map_err(|e| e.to_string())
        });
    }

    /// Writes the run's metrics as CSV ([`metrics_csv`]).
    pub fn csv(&mut self, run: &RunRecord, dir: PathBuf) {
        let text = metrics_csv(run);
        let path = dir.join("export-metrics.csv");
        self.spawn(move || {
            write_atomic(&path, text.as_bytes())
                .map(|()| format!("metrics written to {}", path.display()))
                .map_err(|e| e.to_string())
        });
    }

    /// Rasterizes a laid-out figure of the curves (`rasterize`, run on the writer's thread)
    /// and writes it as a PNG.
    pub fn plot(&mut self, rasterize: impl FnOnce() -> ColorImage + Send + 'static, path: PathBuf) {
        self.spawn(move || {
            save_png(&path, &rasterize())?;
            Ok(format!("curves written to {}", path.display()))
        });
    }

    /// A finished export's message, once.
    pub fn poll(&mut self) -> Option<Done> {
        let (done, running): (Vec<_>, Vec<_>) =
            self.writers.drain(..).partition(JoinHandle::is_finished);
        self.writers = running;
        for writer in done {
            let _ = writer.join();
        }
        self.finished.try_recv().ok()
    }
}

fn save_png(path: &std::path::Path, image: &ColorImage) -> Result<(), String> {
    let [w, h] = image.size;
    let rgba: Vec<u8> = image
        .pixels
        .iter()
        .flat_map(|c| c.to_srgba_unmultiplied())
        .collect();
    let buffer = image::RgbaImage::from_raw(w as u32, h as u32, rgba)
        .ok_or_else(|| "the figure has an unexpected size".to_string())?;
    let mut bytes = Vec::new();
    buffer
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .map_err(|e| format!("cannot encode PNG: {e}"))?;
    write_atomic(path, &bytes).map_err(|e| e.to_string())
}

/// A run's metrics as a CSV table, one row per iteration that logged anything: `step`,
/// `wall_s`, `it_per_s`, every field of the iterations' stats and of the evaluations under the
/// names `metrics.jsonl` gives them, the teacher's own scores (`teacher_…`, on the row of step
/// 0) and the live changes that took effect at a step (`tweak`). A value a row has not got is an
/// empty cell; so is a non-finite one.
pub fn metrics_csv(run: &RunRecord) -> String {
    let mut table = Table::default();
    for p in &run.history.progress {
        table.put(p.step, "wall_s", p.wall_s.to_string());
        table.put(p.step, "it_per_s", p.it_per_s.to_string());
        for (key, value) in fields(&p.stats) {
            table.put(p.step, &key, value);
        }
    }
    for e in &run.history.evals {
        if !table.has(e.step, "wall_s") {
            table.put(e.step, "wall_s", e.wall_s.to_string());
        }
        for (key, value) in fields(&e.metrics) {
            table.put(e.step, &key, value);
        }
    }
    if let Some(teacher) = &run.engine.teacher {
        for (key, value) in fields(&teacher.metrics) {
            table.put(0, &format!("teacher_{key}"), value);
        }
        table.put(0, "teacher_nfe", teacher.nfe.to_string());
    }
    let mut tweaks: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
    for m in &run.history.markers {
        tweaks.entry(m.step).or_default().push(&m.label);
    }
    for (step, labels) in tweaks {
        table.put(step, "tweak", labels.join("; "));
    }
    table.csv()
}

/// Cells by step and column, the columns in the order first seen after `step`, `wall_s`,
/// `it_per_s`.
struct Table {
    columns: Vec<String>,
    rows: BTreeMap<u64, BTreeMap<String, String>>,
}

impl Default for Table {
    fn default() -> Self {
        Self {
            columns: ["step", "wall_s", "it_per_s"].map(String::from).to_vec(),
            rows: BTreeMap::new(),
        }
    }
}

impl Table {
    fn put(&mut self, step: u64, column: &str, value: String) {
        if !self.columns.iter().any(|c| c == column) {
            self.columns.push(column.to_owned());
        }
        self.rows
            .entry(step)
            .or_default()
            .insert(column.to_owned(), value);
    }

    fn has(&self, step: u64, column: &str) -> bool {
        self.rows.get(&step).is_some_and(|r| r.contains_key(column))
    }

    fn csv(&self) -> String {
        let header: Vec<String> = self.columns.iter().map(|c| cell(c)).collect();
        let mut text = header.join(",") + "\n";
        for (step, row) in &self.rows {
            let cells: Vec<String> = self
                .columns
                .iter()
                .map(|c| match c.as_str() {
                    "step" => step.to_string(),
                    _ => row.get(c).map(|v| cell(v)).unwrap_or_default(),
                })
                .collect();
            text.push_str(&cells.join(","));
            text.push('\n');
        }
        text
    }
}

/// The fields of a logged value as `metrics.jsonl` writes them (serde), as text; `null` (a
/// non-finite number) and absent options are left out.
fn fields(value: &impl serde::Serialize) -> Vec<(String, String)> {
    let Ok(serde_json::Value::Object(map)) = serde_json::to_value(value) else {
        return Vec::new();
    };
    map.into_iter()
        .filter_map(|(key, value)| match value {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => Some((key, s)),
            other => Some((key, other.to_string())),
        })
        .collect()
}

/// A CSV cell (RFC 4180): quoted when it holds a comma, a quote or a line break.
fn cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}
