//! A run's values as the lines a plot draws: x = iteration or wall time, log₁₀ y, smoothed
//! over the raw values, downsampled; a race variant's seeds as a mean and a min–max band; the
//! range a plot needs where its data span none.

use eframe::egui::Color32;

use super::series::Series;
use crate::gui::plots::band::{BandPoint, band};
use crate::gui::plots::downsample::min_max;
use crate::gui::plots::smoothing::debiased_ema;
use crate::gui::state::run_list::RunRecord;

/// A curve's plot points.
pub type Curve = Vec<[f64; 2]>;

/// Most points drawn per curve (longer series are downsampled to their extremes).
const MAX_POINTS: usize = 1500;

/// Most quads of a seed band.
const BAND_QUADS: usize = 300;

/// A race variant on several seeds, as drawn: its mean and the quads of its min–max band.
pub struct SeedBand {
    /// The variant, and its number of seeds.
    pub label: String,
    /// Its colour.
    pub color: Color32,
    /// The mean over its seeds.
    pub mean: Curve,
    /// The min–max band, as convex quads.
    pub quads: Vec<[[f64; 2]; 4]>,
}

/// The seeds of each race variant (`groups`, from `seed_groups`), drawn as their mean and
/// min–max band.
pub fn seed_bands(
    series: &Series,
    groups: &[(String, Vec<&RunRecord>)],
    smoothing: f64,
    log: bool,
    wall: bool,
) -> Vec<SeedBand> {
    groups
        .iter()
        .map(|(name, members)| {
            let values: Vec<Vec<(u64, f64, f64)>> = members
                .iter()
                .map(|m| smoothed(&(series.values)(m), smoothing))
                .collect();
            let y = |v: f64| if log { v.log10() } else { v };
            let at: Vec<(f64, BandPoint)> = band(&values)
                .into_iter()
                .filter(|p| !log || p.min > 0.0)
                .map(|p| (if wall { p.wall_s } else { p.step as f64 }, p))
                .collect();
            let mean: Curve = at.iter().map(|(x, p)| [*x, y(p.mean)]).collect();
            // One quad per stretch between two kept points: each is convex, as egui fills them.
            let stride = at.len().div_ceil(BAND_QUADS).max(1);
            let kept: Vec<&(f64, BandPoint)> = at.iter().step_by(stride).chain(at.last()).collect();
            let quads = kept
                .windows(2)
                .filter(|w| w[0].0 < w[1].0)
                .map(|w| {
                    let ((x0, a), (x1, b)) = (w[0], w[1]);
                    [
                        [*x0, y(a.min)],
                        [*x1, y(b.min)],
                        [*x1, y(b.max)],
                        [*x0, y(a.max)],
                    ]
                })
                .collect();
            SeedBand {
                label: format!("{name} (mean of {} seeds)", members.len()),
                color: members[0].color,
                mean: min_max(&mean, MAX_POINTS),
                quads,
            }
        })
        .collect()
}

/// A run's curve as drawn from its `(step, wall_s, value)` series: smoothed (debiased EMA of
/// weight `smoothing`) with the raw curve to draw faint underneath, or raw alone at 0; on the
/// x axis the step or the wall time, log₁₀ values with `log` (non-positive ones left out);
/// downsampled to [`MAX_POINTS`]. The series itself is never changed.
pub fn drawn(
    values: &[(u64, f64, f64)],
    smoothing: f64,
    log: bool,
    wall: bool,
) -> (Curve, Option<Curve>) {
    let points = |ys: &[f64]| -> Curve {
        let all: Curve = values
            .iter()
            .zip(ys)
            .filter(|&(_, &v)| v.is_finite() && (!log || v > 0.0))
            .map(|(&(step, wall_s, _), &v)| {
                [
                    if wall { wall_s } else { step as f64 },
                    if log { v.log10() } else { v },
                ]
            })
            .collect();
        min_max(&all, MAX_POINTS)
    };
    let raw: Vec<f64> = values.iter().map(|&(_, _, v)| v).collect();
    if smoothing > 0.0 {
        let smooth: Vec<f64> = smoothed(values, smoothing).iter().map(|p| p.2).collect();
        (points(&smooth), Some(points(&raw)))
    } else {
        (points(&raw), None)
    }
}

/// `values` with each value replaced by its debiased EMA of weight `smoothing` (0: as they are).
fn smoothed(values: &[(u64, f64, f64)], smoothing: f64) -> Vec<(u64, f64, f64)> {
    let raw: Vec<f64> = values.iter().map(|&(_, _, v)| v).collect();
    values
        .iter()
        .zip(debiased_ema(&raw, smoothing))
        .map(|(&(step, wall_s, _), v)| (step, wall_s, v))
        .collect()
}

/// For each axis whose `points` span (almost) no extent, a range around them to show instead:
/// one unit on x (an iteration, a second), ±5 % of the value on y (one unit about zero).
/// Without it one point, or two that differ in the last bit, make egui_plot's bounds invalid.
pub fn thin_extents<'a>(points: impl Iterator<Item = &'a [f64; 2]>) -> [Option<[f64; 2]>; 2] {
    let mut range = [[f64::INFINITY, f64::NEG_INFINITY]; 2];
    for p in points {
        for (r, v) in range.iter_mut().zip(p) {
            *r = [r[0].min(*v), r[1].max(*v)];
        }
    }
    let pad = |[lo, hi]: [f64; 2], half: fn(f64) -> f64| {
        let c = 0.5 * (lo + hi);
        (lo <= hi && hi - lo <= 1e-9 * c.abs()).then(|| [c - half(c), c + half(c)])
    };
    [
        pad(range[0], |_| 0.5),
        pad(range[1], |c| if c == 0.0 { 0.5 } else { 0.05 * c.abs() }),
    ]
}

#[cfg(test)]
mod tests {
    use super::{drawn, thin_extents};

    /// Smoothing changes the drawn line, keeps the raw one underneath as it was, and leaves
    /// the series alone.
    #[test]
    fn smoothing_changes_the_drawn_line_not_the_data() {
        let values: Vec<(u64, f64, f64)> = (1..=50)
            .map(|i| (i, 0.1 * i as f64, if i % 2 == 0 { 1.0 } else { 3.0 }))
            .collect();
        let kept = values.clone();
        let (raw, none) = drawn(&values, 0.0, false, false);
        assert!(none.is_none());
        let (smooth, under) = drawn(&values, 0.9, false, false);
        assert_eq!(
            under.as_ref(),
            Some(&raw),
            "the raw curve underneath is the unsmoothed one"
        );
        assert_ne!(smooth, raw);
        // The zig-zag between 1 and 3 is flattened towards its mean 2.
        let last = smooth.last().map_or(0.0, |p| p[1]);
        assert!((last - 2.0).abs() < 0.2, "{last}");
        assert_eq!(values, kept);
        // Wall time on x, log10 on y.
        let (wall_log, _) = drawn(&values, 0.0, true, true);
        assert!((wall_log[0][0] - 0.1).abs() < 1e-12 && (wall_log[1][1] - 0.0).abs() < 1e-12);
    }

    #[test]
    fn a_lone_point_gets_a_range_on_both_axes_and_a_curve_keeps_its_own() {
        // The first iteration's loss, smoothed and raw a bit apart (what broke egui_plot).
        let lone = [[1.0, 0.0560293048620224], [1.0, 0.05602930486202241]];
        let [x, y] = thin_extents(lone.iter());
        assert_eq!(x, Some([0.5, 1.5]));
        let [lo, hi] = y.expect("a thin y range");
        assert!((lo - 0.95 * 0.05602930486202241).abs() < 1e-12 && hi > lo);
        assert_eq!(thin_extents([[0.0, 0.0]].iter())[1], Some([-0.5, 0.5]));
        let curve = [[1.0, 0.2], [2.0, 0.1]];
        assert_eq!(thin_extents(curve.iter()), [None, None]);
        assert_eq!(thin_extents([].iter()), [None, None]);
    }
}
