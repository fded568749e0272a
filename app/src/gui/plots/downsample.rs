//! Min/max downsampling of a long curve: what a plot of it draws stays fast, and no spike drops
//! out (a stride would skip it).

/// At most `max` points of `points` (in x order): split into `max / 2` runs of equal length, each
/// kept as its lowest and its highest point, in the order they occur. Curves of at most `max`
/// points come back as they are.
pub fn min_max(points: &[[f64; 2]], max: usize) -> Vec<[f64; 2]> {
    let buckets = (max / 2).max(1);
    if points.len() <= max {
        return points.to_vec();
    }
    let size = points.len().div_ceil(buckets);
    let mut out = Vec::with_capacity(2 * buckets);
    for run in points.chunks(size) {
        let by_y = |a: &&[f64; 2], b: &&[f64; 2]| a[1].total_cmp(&b[1]);
        let (Some(low), Some(high)) = (run.iter().min_by(by_y), run.iter().max_by(by_y)) else {
            continue;
        };
        let (first, second) = if low[0] <= high[0] {
            (low, high)
        } else {
            (high, low)
        };
        out.push(*first);
        if second != first {
            out.push(*second);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::min_max;

    #[test]
    fn short_curves_are_kept_and_long_ones_keep_their_extremes_in_order() {
        let short: Vec<[f64; 2]> = (0..10).map(|i| [i as f64, 1.0]).collect();
        assert_eq!(min_max(&short, 10), short);

        // 10 000 points of a gentle ramp with one spike and one dip that a stride would skip.
        let mut long: Vec<[f64; 2]> = (0..10_000).map(|i| [i as f64, i as f64 * 1e-4]).collect();
        long[4_321][1] = 50.0;
        long[8_765][1] = -50.0;
        let drawn = min_max(&long, 200);
        assert!(drawn.len() <= 200, "{}", drawn.len());
        assert!(drawn.contains(&[4_321.0, 50.0]));
        assert!(drawn.contains(&[8_765.0, -50.0]));
        assert!(drawn.windows(2).all(|w| w[0][0] < w[1][0]), "x order");
        assert_eq!(drawn.first(), Some(&[0.0, 0.0]));
    }
}
