//! Exports: samples (PNG), metrics (CSV), curves (PNG, a screenshot of the plot area).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use eframe::egui::{self, ColorImage, Rect};
use sim_engine::store::atomic::write_atomic;
use sim_engine::store::snapshot::write_scatter_png;

use super::store::RunRecord;

type Shot = Arc<Mutex<Option<Arc<ColorImage>>>>;

/// Export state: finished messages, and a pending screenshot.
#[derive(Default)]
pub struct Exporter {
    /// Where the curves were drawn last frame.
    pub plot_rect: Option<Rect>,
    pending_plot: Option<(PathBuf, Shot)>,
    done: Option<Result<String, String>>,
}

impl Exporter {
    /// Writes the active run's teacher and student samples as a PNG.
    pub fn samples(&mut self, run: &RunRecord, dir: PathBuf) {
        self.done = Some(match &run.samples {
            Some(view) => {
                let path = dir.join(format!("export-samples-step-{:06}.png", view.step));
                write_scatter_png(&path, &view.teacher, &view.student)
                    .map(|()| format!("samples written to {}", path.display()))
                    .map_err(|e| e.to_string())
            }
            None => Err("no samples yet: wait for the first evaluation".into()),
        });
    }

    /// Writes the run's per-iteration metrics, with evaluations joined by step, as CSV.
    pub fn csv(&mut self, run: &RunRecord, dir: PathBuf) {
        let mut text = String::from(
            "step,wall_s,loss_generator,loss_fake,grad_norm_generator,grad_norm_fake,is,mode_coverage,fd,fid\n",
        );
        let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        let mut evals = run.evals.iter().peekable();
        for p in &run.progress {
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
        self.done = Some(
            write_atomic(&path, text.as_bytes())
                .map(|()| format!("metrics written to {}", path.display()))
                .map_err(|e| e.to_string()),
        );
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

    /// A finished export's message, once.
    pub fn poll(&mut self, ctx: &egui::Context) -> Option<Result<String, String>> {
        let arrived = self
            .pending_plot
            .as_ref()
            .and_then(|(_, slot)| slot.lock().ok().and_then(|mut s| s.take()));
        if let (Some(image), Some((path, _))) = (arrived, self.pending_plot.take()) {
            let cropped = match self.plot_rect {
                Some(rect) => image.region(&rect, Some(ctx.pixels_per_point())),
                None => (*image).clone(),
            };
            self.done = Some(save_png(&path, &cropped));
        }
        self.done.take()
    }
}

fn save_png(path: &std::path::Path, image: &ColorImage) -> Result<String, String> {
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
