//! Where the labels of live-change markers go inside a plot: each beside its line (left of it
//! when the right would leave the plot), stacked into rows so that no two overlap. A label that
//! finds no free row keeps its line, and is read on hover.

/// Points between a label and its line, and between two labels of a row.
const GAP: f32 = 3.0;

/// A placed label.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placement {
    /// Row from the top of the plot, 0 first.
    pub row: usize,
    /// Left edge, in points from the plot's left edge.
    pub left: f32,
}

/// Places labels given as `(x of the line, label width)` in points from the plot's left edge,
/// in a plot `width` wide with `rows` rows, in order of x; `None` for a label without room.
pub fn stack(labels: &[(f32, f32)], width: f32, rows: usize) -> Vec<Option<Placement>> {
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by(|&a, &b| labels[a].0.total_cmp(&labels[b].0));
    // The right end of each row's last label.
    let mut row_end = vec![f32::NEG_INFINITY; rows];
    let mut placed = vec![None; labels.len()];
    for i in order {
        let (x, w) = labels[i];
        let left = if x + GAP + w <= width {
            x + GAP
        } else {
            x - GAP - w
        };
        if left < 0.0 || left + w > width {
            continue;
        }
        if let Some(row) = row_end.iter().position(|&end| end + GAP <= left) {
            row_end[row] = left + w;
            placed[i] = Some(Placement { row, left });
        }
    }
    placed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Crowded markers (the case that printed `…@22[1]4@4720`) never overlap, stay inside the
    /// plot, and each placed label touches its own line's side.
    #[test]
    fn labels_never_overlap_and_stay_inside() {
        let labels: Vec<(f32, f32)> = (0..40)
            .map(|i| {
                (
                    (i * 37 % 400) as f32 + 0.5 * i as f32,
                    40.0 + (i % 5) as f32 * 17.0,
                )
            })
            .collect();
        let width = 420.0;
        let placed = stack(&labels, width, 3);
        let mut boxes: Vec<(usize, f32, f32)> = Vec::new();
        for (p, &(x, w)) in placed.iter().zip(&labels) {
            let Some(p) = p else { continue };
            assert!(p.left >= 0.0 && p.left + w <= width, "{p:?} {w}");
            assert!(p.row < 3);
            let beside = (p.left - (x + GAP)).abs() < 1e-3 || (p.left + w - (x - GAP)).abs() < 1e-3;
            assert!(beside, "{p:?} for a line at {x}");
            for &(row, l, r) in &boxes {
                assert!(
                    row != p.row || r <= p.left || p.left + w <= l,
                    "overlap in row {row}"
                );
            }
            boxes.push((p.row, p.left, p.left + w));
        }
        assert!(boxes.len() >= 9, "{} placed", boxes.len());
        // A line at the right edge gets its label on its left; one at the left, on its right.
        let edge = stack(&[(415.0, 60.0), (2.0, 60.0)], width, 1);
        assert_eq!(
            edge[0],
            Some(Placement {
                row: 0,
                left: 352.0
            })
        );
        assert_eq!(edge[1], Some(Placement { row: 0, left: 5.0 }));
        // A label wider than the plot has no place.
        assert_eq!(stack(&[(10.0, 500.0)], width, 2), vec![None]);
    }
}
