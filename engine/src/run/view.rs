//! What the samples of a [`SampleView`] look like as a file: the one writer behind the run
//! folder's `samples/step-XXXXXX.png` and the GUI's "Export → Samples".

use std::path::Path;

use crate::error::Result;
use crate::protocol::SampleView;
use crate::store::image_grid::write_image_grid;
use crate::store::snapshot::write_scatter_png;

/// Writes `view` as a PNG (atomically): teacher grey and student blue points for 2-D samples,
/// or teacher | student image grids side by side on the same noise and labels.
pub fn write_view(path: &Path, view: &SampleView) -> Result<()> {
    match view.image_shape {
        Some(shape) => write_grids(path, &view.teacher, &view.student, shape, view.columns),
        None => write_scatter_png(path, &view.teacher, &view.student),
    }
}

/// Each row holds `columns` teacher images, a blank (grey) tile, then the `columns` student
/// images of the same noise and labels.
fn write_grids(
    path: &Path,
    teacher: &[f32],
    student: &[f32],
    shape: [usize; 3],
    columns: usize,
) -> Result<()> {
    let dim: usize = shape.iter().product();
    let blank = vec![0.0f32; dim];
    let mut tiles = Vec::with_capacity(teacher.len() + student.len() + teacher.len() / columns);
    for (t_row, s_row) in teacher
        .chunks(columns * dim)
        .zip(student.chunks(columns * dim))
    {
        tiles.extend_from_slice(t_row);
        tiles.extend_from_slice(&blank);
        tiles.extend_from_slice(s_row);
    }
    write_image_grid(path, &tiles, shape, 2 * columns + 1, 4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::image_grid::grid_size;

    fn size(path: &Path) -> (u32, u32) {
        let image = image::open(path).expect("a PNG");
        (image.width(), image.height())
    }

    /// An image view becomes teacher | student grids, never a scatter of pixel pairs (the GUI's
    /// export once wrote the latter), and a 2-D view a scatter.
    #[test]
    fn image_views_are_grids_and_point_views_scatters() {
        let dir = tempfile::tempdir().expect("tempdir");
        let shape = [1, 8, 8];
        let images = SampleView {
            dim: 64,
            student: vec![0.5; 4 * 64],
            teacher: vec![-0.5; 4 * 64],
            image_shape: Some(shape),
            columns: 2,
            ..SampleView::default()
        };
        let grid = dir.path().join("grid.png");
        write_view(&grid, &images).expect("grid");
        let points = SampleView {
            dim: 2,
            student: vec![0.1, 0.2, 0.3, 0.4],
            teacher: vec![-0.1, 0.2],
            ..SampleView::default()
        };
        let scatter = dir.path().join("scatter.png");
        write_view(&scatter, &points).expect("scatter");
        let (grid_w, grid_h) = size(&grid);
        let (scatter_w, scatter_h) = size(&scatter);
        assert_eq!((scatter_w, scatter_h), (384, 384));
        assert_ne!((grid_w, grid_h), (scatter_w, scatter_h));
        // 2 rows of (2 teacher + blank + 2 student) tiles of 8×8, upscaled 4×.
        assert_eq!((grid_w, grid_h), grid_size(10, 8, 8, 5, 4));
    }
}
