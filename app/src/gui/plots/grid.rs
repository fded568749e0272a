//! An image grid drawn as one texture: the samples view's teacher and student grids and the
//! diagnostics' rows.

use std::hash::{Hash, Hasher};

use eframe::egui::{self, Color32, vec2};

/// An image grid: rows of `columns` tiles, pixels mapped from [−1, 1] to 0..255, drawn as a
/// texture `side` points wide (nearest-neighbour, so 8×8 digits stay crisp).
pub fn grid(
    ui: &mut egui::Ui,
    name: &str,
    pixels: &[f32],
    shape: [usize; 3],
    columns: usize,
    side: f32,
) {
    let [channels, h, w] = shape;
    let dim = channels * h * w;
    let count = pixels.len() / dim.max(1);
    let columns = columns.max(1);
    let rows = count.div_ceil(columns);
    if count == 0 {
        return;
    }
    let (width, height) = (columns * (w + 1) + 1, rows * (h + 1) + 1);
    // The texture is uploaded once per new view, not every frame.
    let key = {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (shape, columns).hash(&mut hasher);
        pixels.iter().for_each(|v| v.to_bits().hash(&mut hasher));
        hasher.finish()
    };
    let id = egui::Id::unique(("sample-grid", name));
    let cached = ui.data(|d| d.get_temp::<(u64, egui::TextureHandle)>(id));
    let texture = match cached {
        Some((k, texture)) if k == key => texture,
        _ => {
            let texture = grid_texture(ui, name, pixels, shape, columns, [width, height]);
            ui.data_mut(|d| d.insert_temp(id, (key, texture.clone())));
            texture
        }
    };
    let scale = side / width as f32;
    ui.image((texture.id(), vec2(side, height as f32 * scale)));
}

/// The grid as a texture: tiles of `shape` in `columns` columns, 1-pixel dark gaps.
fn grid_texture(
    ui: &egui::Ui,
    name: &str,
    pixels: &[f32],
    shape: [usize; 3],
    columns: usize,
    [width, height]: [usize; 2],
) -> egui::TextureHandle {
    let [channels, h, w] = shape;
    let dim = channels * h * w;
    let mut image = egui::ColorImage::filled([width, height], Color32::from_gray(60));
    let byte = |v: f32| ((v.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8;
    for (k, sample) in pixels.chunks_exact(dim).enumerate() {
        let (r0, c0) = ((k / columns) * (h + 1) + 1, (k % columns) * (w + 1) + 1);
        for i in 0..h {
            for j in 0..w {
                let at = |c: usize| byte(sample[c * h * w + i * w + j]);
                let color = if channels >= 3 {
                    Color32::from_rgb(at(0), at(1), at(2))
                } else {
                    Color32::from_gray(at(0))
                };
                image.pixels[(r0 + i) * width + c0 + j] = color;
            }
        }
    }
    ui.ctx()
        .load_texture(name, image, egui::TextureOptions::NEAREST)
}
