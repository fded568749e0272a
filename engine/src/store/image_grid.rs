//! Image grids as PNG: sampled (or training) images side by side, upscaled so 8×8 digits can be
//! seen.

use std::path::Path;

use image::{Rgb, RgbImage};

use super::atomic::write_atomic;
use crate::error::{EngineError, Result};

/// Pixels between tiles (and around the grid).
pub const GRID_GAP: u32 = 2;
/// Colour of the gaps: mid grey, distinct from the black (−1) and white (1) ends of the data.
const GAP_COLOUR: Rgb<u8> = Rgb([128, 128, 128]);

/// Width and height in pixels of a grid of `count` images of `height × width`, `columns` per
/// row, each upscaled `scale`×, with [`GRID_GAP`] pixels between and around tiles.
pub fn grid_size(
    count: usize,
    height: usize,
    width: usize,
    columns: usize,
    scale: u32,
) -> (u32, u32) {
    let columns = columns.clamp(1, count.max(1));
    let rows = count.div_ceil(columns).max(1);
    let side =
        |tiles: usize, pixels: usize| tiles as u32 * (pixels as u32 * scale + GRID_GAP) + GRID_GAP;
    (side(columns, width), side(rows, height))
}

/// Writes `images` (`[count, C·H·W]` row-major, NCHW per image, `shape = [C, H, W]` with C = 1
/// or 3) as a PNG grid of `columns` tiles per row, filled row by row, atomically. Values map
/// from `[-1, 1]` to `0..=255` (`(v + 1) / 2 · 255`, rounded, clamped); each pixel becomes a
/// `scale × scale` block (nearest neighbour).
pub fn write_image_grid(
    path: &Path,
    images: &[f32],
    shape: [usize; 3],
    columns: usize,
    scale: u32,
) -> Result<()> {
    let [c, h, w] = shape;
    let bad = |message: String| EngineError::File {
        path: path.to_owned(),
        message,
    };
    let dim = c * h * w;
    if !(c == 1 || c == 3) || dim == 0 || scale == 0 || columns == 0 {
        return Err(bad(format!(
            "cannot draw a grid of {c}×{h}×{w} images, {columns} columns, scale {scale}: \
             need 1 or 3 channels, a non-empty image, at least one column and scale ≥ 1"
        )));
    }
    if !images.len().is_multiple_of(dim) {
        return Err(bad(format!(
            "{} values are not a whole number of {c}×{h}×{w} images",
            images.len()
        )));
    }
    let count = images.len() / dim;
    let (gw, gh) = grid_size(count, h, w, columns, scale);
    let columns = columns.clamp(1, count.max(1));
    let mut img = RgbImage::from_pixel(gw, gh, GAP_COLOUR);
    let level = |v: f32| ((v.clamp(-1.0, 1.0) + 1.0) * 0.5 * 255.0).round() as u8;
    for (i, image) in images.chunks_exact(dim).enumerate() {
        let x0 = GRID_GAP + (i % columns) as u32 * (w as u32 * scale + GRID_GAP);
        let y0 = GRID_GAP + (i / columns) as u32 * (h as u32 * scale + GRID_GAP);
        for y in 0..h {
            for x in 0..w {
                let at = |ch: usize| level(image[(ch * h + y) * w + x]);
                let colour = if c == 1 {
                    Rgb([at(0); 3])
                } else {
                    Rgb([at(0), at(1), at(2)])
                };
                for dy in 0..scale {
                    for dx in 0..scale {
                        img.put_pixel(
                            x0 + x as u32 * scale + dx,
                            y0 + y as u32 * scale + dy,
                            colour,
                        );
                    }
                }
            }
        }
    }
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .map_err(|e| bad(format!("cannot encode PNG: {e}")))?;
    write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_has_the_expected_size_and_pixels() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("grid.png");
        // Five 1×8×8 images, 3 columns, ×4: 2 rows.
        let mut images = vec![-1.0f32; 5 * 64];
        images[64] = 1.0; // image 1, pixel (0, 0): white
        images[2 * 64 + 9] = 0.0; // image 2, pixel (1, 1): mid grey
        write_image_grid(&path, &images, [1, 8, 8], 3, 4).expect("write");
        let png = image::open(&path).expect("decodes").to_rgb8();
        let (w, h) = (
            3 * (32 + GRID_GAP) + GRID_GAP,
            2 * (32 + GRID_GAP) + GRID_GAP,
        );
        assert_eq!(png.dimensions(), (w, h));
        assert_eq!(grid_size(5, 8, 8, 3, 4), (w, h));
        assert_eq!(grid_size(100, 8, 8, 10, 4), (342, 342));
        let tile = |i: u32| (GRID_GAP + (i % 3) * 34, GRID_GAP + (i / 3) * 34);
        let (x, y) = tile(1);
        for (dx, dy) in [(0, 0), (3, 3)] {
            assert_eq!(png.get_pixel(x + dx, y + dy), &Rgb([255; 3]), "×4 block");
        }
        assert_eq!(png.get_pixel(x + 4, y), &Rgb([0; 3]));
        let (x, y) = tile(2);
        assert_eq!(png.get_pixel(x + 4, y + 4), &Rgb([128; 3]));
        assert_eq!(png.get_pixel(0, 0), &GAP_COLOUR);
        // RGB tiles keep their channels apart.
        let mut rgb = vec![-1.0f32; 3 * 4];
        rgb[4] = 1.0; // green plane, pixel (0, 0)
        write_image_grid(&path, &rgb, [3, 2, 2], 1, 1).expect("write rgb");
        let png = image::open(&path).expect("decodes").to_rgb8();
        assert_eq!(png.dimensions(), (2 + 2 * GRID_GAP, 2 + 2 * GRID_GAP));
        assert_eq!(png.get_pixel(GRID_GAP, GRID_GAP), &Rgb([0, 255, 0]));
        assert!(write_image_grid(&path, &rgb[..5], [3, 2, 2], 1, 1).is_err());
    }
}
