//! Seeds with error bars: the runs of one race variant on different seeds, aligned by
//! iteration, as a mean with a min–max band (the curves), and a final value as mean ± standard
//! error (the runs panel).

use std::collections::BTreeMap;

use crate::gui::state::run_list::RunRecord;

/// One iteration that every seed reached.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BandPoint {
    /// Iterations done.
    pub step: u64,
    /// The seeds' mean training seconds then.
    pub wall_s: f64,
    /// Mean over the seeds.
    pub mean: f64,
    /// Lowest of the seeds.
    pub min: f64,
    /// Highest of the seeds.
    pub max: f64,
}

/// The seeds' series — `(step, wall_s, value)` each, as the curves read them — at the steps
/// where all of them have a finite value, in step order.
pub fn band(members: &[Vec<(u64, f64, f64)>]) -> Vec<BandPoint> {
    let mut at: BTreeMap<u64, (usize, f64, f64, f64, f64)> = BTreeMap::new();
    for member in members {
        for &(step, wall_s, v) in member.iter().filter(|p| p.2.is_finite()) {
            let e = at
                .entry(step)
                .or_insert((0, 0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY));
            *e = (e.0 + 1, e.1 + wall_s, e.2 + v, e.3.min(v), e.4.max(v));
        }
    }
    let n = members.len();
    at.into_iter()
        .filter(|(_, e)| e.0 == n && n > 0)
        .map(|(step, (_, wall, sum, min, max))| BandPoint {
            step,
            wall_s: wall / n as f64,
            mean: sum / n as f64,
            min,
            max,
        })
        .collect()
}

/// The runs that are seeds of one race variant, by variant, where there are two or more.
pub fn seed_groups<'a>(runs: &[&'a RunRecord]) -> Vec<(String, Vec<&'a RunRecord>)> {
    let mut groups: Vec<(String, Vec<&RunRecord>)> = Vec::new();
    for run in runs {
        let Some(group) = &run.group else { continue };
        match groups.iter_mut().find(|(g, _)| g == group) {
            Some((_, members)) => members.push(run),
            None => groups.push((group.clone(), vec![run])),
        }
    }
    groups.retain(|(_, members)| members.len() >= 2);
    groups
}

/// Mean and standard error (sample standard deviation / √n) of `values`; the error is NaN for
/// fewer than two values.
pub fn mean_se(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, f64::NAN);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_band_keeps_the_steps_every_seed_reached() {
        let a = vec![(10, 1.0, 1.0), (20, 2.0, 3.0), (30, 3.0, 5.0)];
        let b = vec![(10, 3.0, 2.0), (20, 4.0, f64::NAN)];
        let c = vec![(10, 2.0, 6.0), (20, 3.0, 1.0)];
        let band = band(&[a, b, c]);
        // Step 20 has a NaN, step 30 one seed only.
        assert_eq!(band.len(), 1);
        assert_eq!(
            band[0],
            BandPoint {
                step: 10,
                wall_s: 2.0,
                mean: 3.0,
                min: 1.0,
                max: 6.0
            }
        );
        assert!(super::band(&[]).is_empty());
    }

    #[test]
    fn mean_and_standard_error_by_hand() {
        // Mean 2, sample variance 1, s.e. = 1/√3.
        let (mean, se) = mean_se(&[1.0, 2.0, 3.0]);
        assert!((mean - 2.0).abs() < 1e-12 && (se - 1.0 / 3f64.sqrt()).abs() < 1e-12);
        assert!(mean_se(&[4.0]).1.is_nan());
    }
}
