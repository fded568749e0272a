//! Plot axes that can be read at any zoom: ticks at 1, 2, 2.5 or 5 × 10ᵏ, as many as fit
//! apart, never fewer than [`MIN_TICKS`] labelled ones; labels with exactly the digits the tick
//! spacing needs (so neighbours never read the same), in powers of ten on a log axis.

use std::ops::RangeInclusive;

use eframe::egui::{FontId, Rangef, TextStyle};
use egui_plot::{AxisHints, GridInput, GridMark, Plot};

/// Fewest labelled ticks on an axis.
pub const MIN_TICKS: usize = 3;

/// The smallest plot area the curves give a plot (width, height), in points: what the tick
/// guarantees are checked at.
pub const MIN_PLOT: [f64; 2] = [300.0, 100.0];

/// Height a y tick label wants, in points (small text).
pub const LABEL_HEIGHT: f64 = 18.0;

/// Width an x tick label of `chars` characters wants, in points (small text, with a gap).
pub fn label_width(chars: usize) -> f64 {
    10.0 + 6.5 * chars as f64
}

/// The grid's minimum spacing given to egui_plot, in points: its spacer input is this many
/// points in plot units, from which the spacer recovers the axis length.
const GRID_MIN: f32 = 4.0;

/// Tick spacing and values on `[lo, hi]` for an axis `length` points long: the finest
/// 1-2-2.5-5 step whose ticks are at least `room(step, values)` apart, coarsened only as far as
/// keeps [`MIN_TICKS`] of them in range (then they sit closer). Empty for an empty or
/// non-finite range.
pub fn ticks(lo: f64, hi: f64, length: f64, room: impl Fn(f64, &[f64]) -> f64) -> (f64, Vec<f64>) {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0 && length > 0.0) {
        return (0.0, Vec::new());
    }
    let values_at = |step: f64| -> Vec<f64> {
        let (first, last) = ((lo / step).ceil() as i64, (hi / step).floor() as i64);
        (first..=last)
            .map(|i| i as f64 * step)
            .filter(|v| (lo..=hi).contains(v))
            .collect()
    };
    let top = span.log10().floor() as i32;
    let steps = (top - 4..=top + 1).flat_map(|k| [1.0, 2.0, 2.5, 5.0].map(|m| m * 10f64.powi(k)));
    // Ascending: the first roomy one, else the coarsest with three ticks.
    let mut chosen = (0.0, Vec::new());
    for step in steps {
        let values = values_at(step);
        if values.len() < MIN_TICKS {
            break;
        }
        let roomy = step * length / span >= room(step, &values);
        chosen = (step, values);
        if roomy {
            break;
        }
    }
    chosen
}

/// The digits after the point that multiples of `step` need (2.5e-2 → 3).
fn decimals(step: f64) -> usize {
    (0..=15)
        .find(|&d| {
            let scaled = step * 10f64.powi(d);
            scaled >= 0.999 && (scaled - scaled.round()).abs() < 1e-6 * scaled
        })
        .unwrap_or(15) as usize
}

/// A linear tick's label: plain with the decimals the spacing needs, or scientific with one
/// exponent for the axis (from `range`) when the numbers are very large or small.
pub fn linear_label(value: f64, step: f64, range: &RangeInclusive<f64>) -> String {
    let value = if value.abs() < 1e-9 * step {
        0.0
    } else {
        value
    };
    let magnitude = range.start().abs().max(range.end().abs());
    if magnitude >= 1e6 || (magnitude > 0.0 && magnitude < 1e-3) {
        let exponent = magnitude.log10().floor() as i32;
        let scale = 10f64.powi(exponent);
        let d = decimals(step / scale);
        format!("{:.d$}e{exponent}", value / scale)
    } else {
        format!("{value:.prec$}", prec = decimals(step))
    }
}

/// Ticks of a log₁₀ axis over `[lo, hi]` (in decades) `length` points long, as (log₁₀ value,
/// gap to the nearest neighbour in decades): round values, the densest set whose closest two
/// are [`LABEL_HEIGHT`] apart — 1-2-2.5-5 steps of the values themselves on a narrow axis, then
/// 1…9, 1-2-5, 1-3 or 1 per decade, then every 2nd, 5th, 10th… decade; never fewer than
/// [`MIN_TICKS`] (closer, then).
pub fn log_ticks(lo: f64, hi: f64, length: f64) -> Vec<(f64, f64)> {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0 && length > 0.0) {
        return Vec::new();
    }
    let (lo_v, hi_v) = (10f64.powf(lo), 10f64.powf(hi));
    let mut candidates: Vec<Vec<f64>> = Vec::new();
    // The values' own round steps (a narrow axis: a few tenths of a decade).
    let top = (hi_v - lo_v).log10().floor() as i32;
    for k in top - 4..=top {
        for m in [1.0, 2.0, 2.5, 5.0] {
            let step = m * 10f64.powi(k);
            let (first, last) = ((lo_v / step).ceil() as i64, (hi_v / step).floor() as i64);
            if last - first < 2 || last - first > 1000 {
                continue;
            }
            candidates.push((first..=last).map(|i| (i as f64 * step).log10()).collect());
        }
    }
    // Mantissas per decade, then whole decades at growing strides.
    let (d0, d1) = (lo.floor() as i64, hi.ceil() as i64);
    if d1 - d0 <= 400 {
        let sets: [&[f64]; 4] = [
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
            &[1.0, 2.0, 5.0],
            &[1.0, 3.0],
            &[1.0],
        ];
        for mantissas in sets {
            candidates.push(
                (d0..=d1)
                    .flat_map(|d| mantissas.iter().map(move |m: &f64| m.log10() + d as f64))
                    .collect(),
            );
        }
    }
    for stride in [2, 5, 10, 20, 50, 100] {
        let first = (lo / stride as f64).ceil() as i64 * stride;
        candidates.push(
            (0..)
                .map(|i| (first + i * stride) as f64)
                .take_while(|v| *v <= hi)
                .collect(),
        );
    }
    let scale = length / span;
    let mut chosen: Vec<f64> = Vec::new();
    for mut values in candidates {
        values.retain(|v| (lo - 1e-12..=hi + 1e-12).contains(v));
        if values.len() < MIN_TICKS {
            continue;
        }
        let closest = values
            .windows(2)
            .map(|w| w[1] - w[0])
            .fold(f64::INFINITY, f64::min);
        chosen = values;
        if closest * scale >= LABEL_HEIGHT {
            break;
        }
    }
    let gap = |i: usize| {
        let before = i.checked_sub(1).map(|j| chosen[i] - chosen[j]);
        let after = chosen.get(i + 1).map(|v| v - chosen[i]);
        before
            .into_iter()
            .chain(after)
            .fold(f64::INFINITY, f64::min)
    };
    (0..chosen.len()).map(|i| (chosen[i], gap(i))).collect()
}

/// A log₁₀ tick's label: the value it stands for (ticks sit on round values), in plain
/// notation, or as "2e-5" when that would be long.
pub fn log_label(exponent: f64) -> String {
    // Round away the error of 10^log₁₀: ten significant digits.
    let value: f64 = format!("{:.9e}", 10f64.powf(exponent))
        .parse()
        .unwrap_or(f64::NAN);
    if (1e-3..1e6).contains(&value) {
        format!("{value}")
    } else {
        format!("{value:e}")
    }
}

/// The tick marks of one axis (`axis`: 0 = x, 1 = y; `log`: y holds log₁₀ values) for
/// egui_plot's spacer input.
fn marks(input: GridInput, axis: usize, log: bool) -> Vec<GridMark> {
    let (lo, hi) = input.bounds;
    let length = (hi - lo) * GRID_MIN as f64 / input.base_step_size;
    if log {
        return log_ticks(lo, hi, length)
            .into_iter()
            .map(|(value, step_size)| GridMark { value, step_size })
            .collect();
    }
    let range = lo..=hi;
    let (step, values) = match axis {
        0 => ticks(lo, hi, length, |step, values| {
            let widest = values
                .iter()
                .map(|v| linear_label(*v, step, &range).chars().count())
                .max();
            label_width(widest.unwrap_or(0))
        }),
        _ => ticks(lo, hi, length, |_, _| LABEL_HEIGHT),
    };
    values
        .into_iter()
        .map(|value| GridMark {
            value,
            step_size: step,
        })
        .collect()
}

/// `plot` with readable axes: [`ticks`] on both, labelled in small text by [`linear_label`]
/// (x, and y unless `log_y`) or [`log_label`] (y values that are log₁₀ of the data).
pub fn readable<'a>(plot: Plot<'a>, log_y: bool) -> Plot<'a> {
    let font = FontId::new(11.0, TextStyle::Small.resolve(&Default::default()).family);
    let x = AxisHints::new_x()
        .label_spacing(1.0..=2.0)
        .tick_label_font(font.clone())
        .formatter(|mark, range| linear_label(mark.value, mark.step_size, range));
    let y = AxisHints::new_y()
        .label_spacing(1.0..=2.0)
        .tick_label_font(font)
        .formatter(move |mark, range| match log_y {
            true => log_label(mark.value),
            false => linear_label(mark.value, mark.step_size, range),
        });
    plot.custom_x_axes(vec![x])
        .custom_y_axes(vec![y])
        .grid_spacing(Rangef::new(GRID_MIN, 2.0 * GRID_MIN))
        .x_grid_spacer(|input| marks(input, 0, false))
        .y_grid_spacer(move |input| marks(input, 1, log_y))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every range, from a hair to many decades, at the smallest plot sizes drawn, gets at
    /// least three ticks in range, labelled distinctly; and they are as far apart as their
    /// labels need (so egui_plot draws every one) down to a hundredth of the values' size.
    #[test]
    fn every_zoom_gets_three_distinct_labelled_ticks() {
        let mut checked = 0;
        for &centre in &[0.0, 1e-6, 0.0123, 9.93, 100.0, 12_345.0, 3e7, -42.0] {
            for exp in -9..=9 {
                for &mantissa in &[1.0, 1.7, 3.3, 7.1] {
                    let span = mantissa * 10f64.powi(exp);
                    let (lo, hi) = (centre - 0.3 * span, centre + 0.7 * span);
                    if hi - lo <= 1e-12 * centre.abs() {
                        continue; // below f64's resolution at this centre
                    }
                    let range = lo..=hi;
                    let sane = span >= 1e-2 * centre.abs();
                    let x = ticks(lo, hi, MIN_PLOT[0], |step, values| {
                        let widest = values
                            .iter()
                            .map(|v| linear_label(*v, step, &range).chars().count());
                        label_width(widest.max().unwrap_or(0))
                    });
                    let y = ticks(lo, hi, MIN_PLOT[1], |_, _| LABEL_HEIGHT);
                    for (axis, (step, values)) in [x, y].into_iter().enumerate() {
                        assert!(values.len() >= MIN_TICKS, "{lo}..{hi}: {values:?}");
                        assert!(values.iter().all(|v| range.contains(v)));
                        let labels: Vec<String> = values
                            .iter()
                            .map(|v| linear_label(*v, step, &range))
                            .collect();
                        let mut unique = labels.clone();
                        unique.dedup();
                        assert_eq!(
                            unique.len(),
                            labels.len(),
                            "{lo}..{hi} step {step}: {labels:?}"
                        );
                        let gap = step * MIN_PLOT[axis] / (hi - lo);
                        let widest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
                        let room = [label_width(widest), LABEL_HEIGHT][axis];
                        assert!(
                            !sane || gap >= room,
                            "{lo}..{hi} {labels:?}: {gap} pt apart"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 1000, "{checked}");
    }

    /// On a log axis the same holds for any width in decades; the ticks sit on round values
    /// (so the labels are short), and the labels read back as the values.
    #[test]
    fn log_axes_label_round_values_at_any_zoom() {
        for &(lo, hi) in &[
            (-1.2, -1.1),
            (-3.0, 2.0),
            (0.9, 0.95),
            (-12.0, 4.0),
            (2.0, 2.3),
            (2.25, 2.27),
            (-0.5, 1.5),
            (-40.0, 40.0),
            (1.0, 1.0001),
        ] {
            let ticks = log_ticks(lo, hi, MIN_PLOT[1]);
            assert!(ticks.len() >= MIN_TICKS, "{lo}..{hi}: {ticks:?}");
            let labels: Vec<String> = ticks.iter().map(|(v, _)| log_label(*v)).collect();
            let mut unique = labels.clone();
            unique.dedup();
            assert_eq!(unique.len(), labels.len(), "{labels:?}");
            for ((v, gap), l) in ticks.iter().zip(&labels) {
                let read: f64 = l.parse().expect("a number");
                assert!((read.log10() - v).abs() < 1e-9, "{l} for 10^{v}");
                assert!(l.len() <= 8, "{lo}..{hi}: {labels:?}");
                assert!((lo..=hi).contains(v));
                if hi - lo > 1e-3 {
                    assert!(
                        gap * MIN_PLOT[1] / (hi - lo) >= LABEL_HEIGHT,
                        "{lo}..{hi}: {labels:?}"
                    );
                }
            }
        }
        let labels = |lo, hi| -> Vec<String> {
            log_ticks(lo, hi, 200.0)
                .iter()
                .map(|(v, _)| log_label(*v))
                .collect()
        };
        assert_eq!(
            labels(-3.2, 0.1),
            [
                "0.001", "0.002", "0.005", "0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1"
            ]
        );
        assert_eq!(
            labels(-3.2, 3.1),
            ["0.001", "0.01", "0.1", "1", "10", "100", "1000"]
        );
        let expected: Vec<String> = (178..=186).map(|v| v.to_string()).collect();
        assert_eq!(labels(2.25, 2.27), expected);
        assert_eq!(log_label(-5.0), "1e-5");
        assert_eq!(linear_label(9.9301, 0.0001, &(9.93..=9.9305)), "9.9301");
        assert_eq!(linear_label(250_000.0, 250_000.0, &(0.0..=1.2e6)), "0.25e6");
    }
}
