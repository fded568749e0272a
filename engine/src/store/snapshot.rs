//! Sample snapshots as PNG: teacher samples (grey) and student samples (blue) on one canvas.

use std::path::Path;

use image::{Rgb, RgbImage};

use super::atomic::write_atomic;
use crate::error::{EngineError, Result};

/// Canvas size in pixels.
const SIZE: u32 = 384;

/// Draws two 2-D point sets (`[n, 2]` row-major) over the square that holds the teacher's
/// points with a margin, and writes it atomically as PNG.
pub fn write_scatter_png(path: &Path, teacher: &[f32], student: &[f32]) -> Result<()> {
    let extent = teacher.iter().map(|v| v.abs()).fold(0.5f32, f32::max) * 1.2;
    let mut img = RgbImage::from_pixel(SIZE, SIZE, Rgb([255, 255, 255]));
    let mut plot = |points: &[f32], color: [u8; 3]| {
        for p in points.chunks_exact(2) {
            let to_px = |v: f32| ((v / extent + 1.0) * 0.5 * (SIZE - 1) as f32).round();
            let (x, y) = (to_px(p[0]), to_px(-p[1]));
            if (0.0..SIZE as f32).contains(&x) && (0.0..SIZE as f32).contains(&y) {
                img.put_pixel(x as u32, y as u32, Rgb(color));
            }
        }
    };
    plot(teacher, [170, 170, 170]);
    plot(student, [30, 90, 220]);
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .map_err(|e| EngineError::File {
        path: path.to_owned(),
        message: format!("cannot encode PNG: {e}"),
    })?;
    write_atomic(path, &bytes)
}
