//! Exports: samples (PNG, the engine's own view writer), metrics (CSV), curves (PNG, a
//! screenshot of the plot area). Files are encoded and written on a thread of their own, never
//! on the UI thread; `poll` hands back what finished.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, unbounded};
use eframe::egui::{self, ColorImage, Rect};
use sim_engine::run::view::write_view;
use sim_engine::write_atomic;

use super::store::RunRecord;

type Shot = Arc<Mutex<Option<Arc<ColorImage>>>>;

type Done = Result<String, String>;

/// Export state: a pending screenshot, and the results of writes in flight.
pub struct Exporter {
    /// Where the curves were drawn last frame.
    pub plot_rect: Option<Rect>,
    pending_plot: Option<(PathBuf, Shot)>,
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
            plot_rect: None,
            pending_plot: None,
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

    /// Writes the run's per-iteration metrics, with evaluations joined by step, as CSV.
    pub fn csv(&mut self, run: &RunRecord, dir: PathBuf) {
        let mut text = String::from(
            "step,wall_s,loss_generator,loss_fake,grad_norm_generator,grad_norm_fake,is,mode_coverage,fd,fid\n",
        );
        let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        let mut evals = run.history.evals.iter().peekable();
        for p in &run.history.progress {
            let eval = match evals.peek() {
                Some(e) if e.step == p.step => evals.next(),
                _ => None,
            };
            text.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{}\n",
                p.step,
                p.wall_s,
                p.loss_generator,
                p.loss_fake,
                p.grad_norm_generator,
                p.grad_norm_fake,
                opt(eval.and_then(|e| super::store::inception(&e.metrics))),
                opt(eval.and_then(|e| e.metrics.toy().and_then(|t| t.mode_coverage))),
                opt(eval.and_then(|e| e.metrics.toy().map(|t| t.fd))),
                opt(eval.and_then(|e| e.metrics.image().map(|i| i.fid))),
            ));
        }
        let path = dir.join("export-metrics.csv");
        self.spawn(move || {
            write_atomic(&path, text.as_bytes())
                .map(|()| format!("metrics written to {}", path.display()))
                .map_err(|e| e.to_string())
        });
    }

    /// Asks for a screenshot; the curves are cropped from it and saved when it arrives.
    pub fn plot(&mut self, ctx: &egui::Context, dir: PathBuf) {
        let slot: Shot = Arc::default();
        let target = slot.clone();
        let waker = ctx.clone();
        ctx.request_screenshot(move |image| {
            if let Ok(mut s) = target.lock() {
                *s = Some(image);
            }
            waker.request_repaint();
        });
        self.pending_plot = Some((dir.join("export-curves.png"), slot));
    }

    /// A finished export's message, once; starts writing a screenshot that has arrived.
    pub fn poll(&mut self, ctx: &egui::Context) -> Option<Done> {
        let arrived = self
            .pending_plot
            .as_ref()
            .and_then(|(_, slot)| slot.lock().ok().and_then(|mut s| s.take()));
        if let (Some(image), Some((path, _))) = (arrived, self.pending_plot.take()) {
            let cropped = match self.plot_rect {
                Some(rect) => image.region(&rect, Some(ctx.pixels_per_point())),
                None => (*image).clone(),
            };
            self.spawn(move || save_png(&path, &cropped));
        }
        let (done, running): (Vec<_>, Vec<_>) =
            self.writers.drain(..).partition(JoinHandle::is_finished);
        self.writers = running;
        for writer in done {
            let _ = writer.join();
        }
        self.finished.try_recv().ok()
    }
}

fn save_png(path: &std::path::Path, image: &ColorImage) -> Done {
    let [w, h] = image.size;
    let rgba: Vec<u8> = image
        .pixels
        .iter()
        .flat_map(|c| c.to_srgba_unmultiplied())
        .collect();
    let buffer = image::RgbaImage::from_raw(w as u32, h as u32, rgba)
        .ok_or_else(|| "screenshot has an unexpected size".to_string())?;
    let mut bytes = Vec::new();
    buffer
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .map_err(|e| format!("cannot encode PNG: {e}"))?;
    write_atomic(path, &bytes).map_err(|e| e.to_string())?;
    Ok(format!("curves written to {}", path.display()))
}
