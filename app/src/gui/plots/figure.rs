//! Figures drawn off-screen: a UI closure laid out in an egui context of its own, at a given
//! size, tessellated by egui and rasterized here on the CPU — the curves PNG, with no window,
//! no screenshot and no GPU. (The CPU renderers on crates.io are built against older egui
//! versions; egui's meshes need only a triangle filler.)

use std::collections::HashMap;

use eframe::egui::{
    self, Color32, ColorImage, ImageData, Pos2, RawInput, Rect, TextureId, TexturesDelta, epaint,
};

/// A laid-out figure: egui's triangles and the textures they sample (fonts), ready to be
/// rasterized on any thread.
pub struct Figure {
    size: [usize; 2],
    pixels_per_point: f32,
    background: Color32,
    primitives: Vec<epaint::ClippedPrimitive>,
    textures: HashMap<TextureId, ColorImage>,
}

/// Lays out `draw` in a `points` sized area at `pixels_per_point`, styled as `like` (the
/// window's context). Three passes: egui sizes some widgets on the first, and a plot's view
/// (which places its marker labels) is the one its previous pass fitted to the data.
pub fn layout(
    like: &egui::Context,
    points: egui::Vec2,
    pixels_per_point: f32,
    mut draw: impl FnMut(&mut egui::Ui),
) -> Figure {
    let ctx = egui::Context::default();
    ctx.options_mut(|o| *o = like.options(|o| o.clone()));
    let input = RawInput {
        screen_rect: Some(Rect::from_min_size(Pos2::ZERO, points)),
        ..RawInput::default()
    };
    let mut textures = HashMap::new();
    let mut output = None;
    for _ in 0..3 {
        ctx.set_pixels_per_point(pixels_per_point);
        let mut out = ctx.run_ui(input.clone(), |ui| {
            egui::CentralPanel::default().show(ui, &mut draw);
        });
        apply(&mut textures, &out.textures_delta);
        out.textures_delta.clear();
        output = Some(out);
    }
    let output = output.expect("the passes ran");
    let background = ctx.global_style().visuals.panel_fill;
    Figure {
        size: [
            (points.x * pixels_per_point).round() as usize,
            (points.y * pixels_per_point).round() as usize,
        ],
        pixels_per_point,
        background,
        primitives: ctx.tessellate(output.shapes, pixels_per_point),
        textures,
    }
}

/// Keeps the textures up to date with a pass's changes (a whole image, or a patch of one).
fn apply(textures: &mut HashMap<TextureId, ColorImage>, delta: &TexturesDelta) {
    for (id, changes) in &delta.set {
        for change in changes {
            let ImageData::Color(image) = &change.image;
            match change.pos {
                None => {
                    textures.insert(*id, ColorImage::clone(image));
                }
                Some([x0, y0]) => {
                    let Some(whole) = textures.get_mut(id) else {
                        continue;
                    };
                    let [w, h] = image.size;
                    for y in 0..h {
                        for x in 0..w {
                            let at = (y0 + y) * whole.size[0] + x0 + x;
                            if let Some(p) = whole.pixels.get_mut(at) {
                                *p = image.pixels[y * w + x];
                            }
                        }
                    }
                }
            }
        }
    }
}

impl Figure {
    /// The figure's pixels: every mesh's triangles filled (top-left rule, so shared edges are
    /// drawn once), vertex colour times texture sample, blended over the panel's colour.
    pub fn rasterize(&self) -> ColorImage {
        let [w, h] = self.size;
        let mut pixels = vec![self.background; w * h];
        for clipped in &self.primitives {
            let epaint::Primitive::Mesh(mesh) = &clipped.primitive else {
                continue;
            };
            let Some(texture) = self.textures.get(&mesh.texture_id) else {
                continue;
            };
            let clip = clipped.clip_rect * self.pixels_per_point;
            let clip = clip.intersect(Rect::from_min_size(
                Pos2::ZERO,
                egui::vec2(w as f32, h as f32),
            ));
            for triangle in mesh.indices.chunks_exact(3) {
                let corner = |i: u32| {
                    let v = mesh.vertices[i as usize];
                    epaint::Vertex {
                        pos: (v.pos.to_vec2() * self.pixels_per_point).to_pos2(),
                        ..v
                    }
                };
                fill(
                    &mut pixels,
                    w,
                    clip,
                    [
                        corner(triangle[0]),
                        corner(triangle[1]),
                        corner(triangle[2]),
                    ],
                    texture,
                );
            }
        }
        ColorImage::new([w, h], pixels)
    }
}

/// Twice the signed area of (a, b, p): positive when p is left of a → b (y down: clockwise).
fn edge(a: Pos2, b: Pos2, p: Pos2) -> f32 {
    (b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x)
}

/// Fills one triangle into `pixels` (`width` wide) inside `clip`: the pixels whose centres it
/// covers, each blended (premultiplied "over") with the interpolated colour times the
/// nearest texel.
fn fill(
    pixels: &mut [Color32],
    width: usize,
    clip: Rect,
    [a, b, c]: [epaint::Vertex; 3],
    texture: &ColorImage,
) {
    let area = edge(a.pos, b.pos, c.pos);
    if area.abs() < 1e-9 {
        return;
    }
    // One winding for all: counter-clockwise on screen (y down) is positive area.
    let (a, b, c) = if area > 0.0 { (a, b, c) } else { (a, c, b) };
    let area = area.abs();
    let lo = a.pos.min(b.pos).min(c.pos).max(clip.min);
    let hi = a.pos.max(b.pos).max(c.pos).min(clip.max);
    if lo.x >= hi.x || lo.y >= hi.y {
        return;
    }
    // Top-left rule: a pixel centre exactly on an edge belongs to one of the two triangles.
    let top_left = |from: Pos2, to: Pos2| (from.y == to.y && to.x < from.x) || to.y < from.y;
    let inside = |e: f32, from: Pos2, to: Pos2| e > 0.0 || (e == 0.0 && top_left(from, to));
    let [tw, th] = texture.size;
    for y in (lo.y.floor() as usize)..(hi.y.ceil() as usize) {
        for x in (lo.x.floor() as usize)..(hi.x.ceil() as usize) {
            let p = Pos2::new(x as f32 + 0.5, y as f32 + 0.5);
            if !clip.contains(p) {
                continue;
            }
            let (ea, eb, ec) = (
                edge(b.pos, c.pos, p),
                edge(c.pos, a.pos, p),
                edge(a.pos, b.pos, p),
            );
            if !(inside(ea, b.pos, c.pos) && inside(eb, c.pos, a.pos) && inside(ec, a.pos, b.pos)) {
                continue;
            }
            let (wa, wb, wc) = (ea / area, eb / area, ec / area);
            let mix = |f: fn(&epaint::Vertex) -> f32| wa * f(&a) + wb * f(&b) + wc * f(&c);
            let u = mix(|v| v.uv.x);
            let v = mix(|v| v.uv.y);
            let tx = ((u * tw as f32) as usize).min(tw - 1);
            let ty = ((v * th as f32) as usize).min(th - 1);
            let texel = texture.pixels[ty * tw + tx].to_array();
            let colour = [
                mix(|v| v.color.r() as f32),
                mix(|v| v.color.g() as f32),
                mix(|v| v.color.b() as f32),
                mix(|v| v.color.a() as f32),
            ];
            let src: [f32; 4] = std::array::from_fn(|k| colour[k] * texel[k] as f32 / 255.0);
            let dst = &mut pixels[y * width + x];
            let under = dst.to_array();
            let keep = 1.0 - src[3] / 255.0;
            let out: [u8; 4] = std::array::from_fn(|k| {
                (src[k] + under[k] as f32 * keep).round().clamp(0.0, 255.0) as u8
            });
            *dst = Color32::from_rgba_premultiplied(out[0], out[1], out[2], out[3]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rectangle of two triangles covers exactly its pixels, each once (the shared diagonal
    /// is not blended twice), in its colour; text leaves coverage where the glyphs are.
    #[test]
    fn meshes_fill_exactly_their_pixels() {
        let mut mesh = epaint::Mesh::default();
        let half_red = Color32::from_rgba_premultiplied(128, 0, 0, 128);
        mesh.add_colored_rect(
            Rect::from_min_max(Pos2::new(2.0, 1.0), Pos2::new(6.0, 4.0)),
            half_red,
        );
        let white = ColorImage::new([1, 1], vec![Color32::WHITE]);
        let mut pixels = vec![Color32::BLACK; 8 * 6];
        let clip = Rect::from_min_size(Pos2::ZERO, egui::vec2(8.0, 6.0));
        for t in mesh.indices.chunks_exact(3) {
            let v = |i: u32| mesh.vertices[i as usize];
            fill(&mut pixels, 8, clip, [v(t[0]), v(t[1]), v(t[2])], &white);
        }
        for y in 0..6 {
            for x in 0..8 {
                let inside = (2..6).contains(&x) && (1..4).contains(&y);
                let expected = if inside {
                    Color32::from_rgba_premultiplied(128, 0, 0, 255)
                } else {
                    Color32::BLACK
                };
                assert_eq!(pixels[y * 8 + x], expected, "pixel ({x}, {y})");
            }
        }

        let like = egui::Context::default();
        let figure = layout(&like, egui::vec2(120.0, 40.0), 1.0, |ui| {
            ui.label("FID 12.5");
        });
        let image = figure.rasterize();
        assert_eq!(image.size, [120, 40]);
        let background = figure.background;
        let inked = image.pixels.iter().filter(|p| **p != background).count();
        assert!((40..2400).contains(&inked), "{inked} text pixels");
    }
}
