//! What hovering a plot reads: the nearest curve's value at the pointer's x, with 4
//! significant digits, and the live changes near it.

use egui_plot::{HoverPosition, PlotPoint};

use super::lines::Curve;

/// What hovering a plot reads: near a curve's point that point; elsewhere the value of the
/// curve nearest the pointer at the pointer's x (never the pointer's own position), with the
/// live changes whose line is within `near_x` of it.
pub struct Readout {
    /// The named curves as drawn.
    pub curves: Vec<(String, Curve)>,
    /// Each live change's x and label.
    pub markers: Vec<(f64, String)>,
    /// How near a marker's x counts as at the pointer.
    pub near_x: f64,
    /// y is drawn as log₁₀.
    pub log: bool,
    /// x is wall time.
    pub wall: bool,
}

impl Readout {
    /// The hover text at `hover`: the run, x, y and the live changes near x.
    pub fn text(&self, hover: &HoverPosition) -> Option<String> {
        let (name, point) = match hover {
            HoverPosition::NearDataPoint {
                plot_name,
                position,
                ..
            } => (plot_name.to_string(), [position.x, position.y]),
            HoverPosition::Elsewhere { position } => self.nearest(position)?,
        };
        let x = if self.wall {
            format!("{:.1} s", point[0])
        } else {
            format!("iteration {:.0}", point[0])
        };
        let y = readout(if self.log {
            10f64.powf(point[1])
        } else {
            point[1]
        });
        let mut lines: Vec<String> = [name, x, y].into_iter().filter(|l| !l.is_empty()).collect();
        lines.extend(
            self.markers
                .iter()
                .filter(|(mx, _)| (mx - point[0]).abs() <= self.near_x)
                .map(|(_, label)| format!("| {label}")),
        );
        Some(lines.join("\n"))
    }

    /// The curve whose value at the pointer's x is nearest the pointer, and that value.
    fn nearest(&self, pointer: &PlotPoint) -> Option<(String, [f64; 2])> {
        self.curves
            .iter()
            .filter_map(|(name, curve)| {
                let i = curve.partition_point(|p| p[0] < pointer.x);
                let candidates = [i.checked_sub(1), Some(i)];
                let point = candidates
                    .into_iter()
                    .flatten()
                    .filter_map(|j| curve.get(j))
                    .min_by(|a, b| {
                        (a[0] - pointer.x)
                            .abs()
                            .total_cmp(&(b[0] - pointer.x).abs())
                    })?;
                Some((name.clone(), *point))
            })
            .min_by(|a, b| {
                (a.1[1] - pointer.y)
                    .abs()
                    .total_cmp(&(b.1[1] - pointer.y).abs())
            })
    }
}

/// A hover value: 4 significant digits, in plain notation where that stays short.
fn readout(y: f64) -> String {
    if y == 0.0 {
        "0.000".into()
    } else if (1e-3..1e5).contains(&y.abs()) {
        let decimals = (3 - y.abs().log10().floor() as i32).clamp(0, 6) as usize;
        format!("{y:.decimals$}")
    } else {
        format!("{y:.3e}")
    }
}

#[cfg(test)]
mod tests {
    use egui_plot::{HoverPosition, PlotPoint};

    use super::{Readout, readout};

    /// Away from any point, hover reads the value of the curve nearest the pointer at the
    /// pointer's x, not the pointer's own position; a marker line near that x is named.
    #[test]
    fn hover_reads_the_nearest_curve() {
        let hover = Readout {
            curves: vec![
                ("low".into(), vec![[0.0, 1.0], [10.0, 2.0], [20.0, 3.0]]),
                ("high".into(), vec![[0.0, 9.0], [10.0, 8.0], [20.0, 7.0]]),
            ],
            markers: vec![(11.0, "lr θ = 1.0e-3".into())],
            near_x: 1.5,
            log: false,
            wall: false,
        };
        let at = |x, y| HoverPosition::Elsewhere {
            position: PlotPoint::new(x, y),
        };
        assert_eq!(
            hover.text(&at(9.0, 3.5)).as_deref(),
            Some("low\niteration 10\n2.000\n| lr θ = 1.0e-3")
        );
        assert_eq!(
            hover.text(&at(19.0, 6.0)).as_deref(),
            Some("high\niteration 20\n7.000")
        );
        let log = Readout { log: true, ..hover };
        assert_eq!(
            log.text(&at(0.2, 0.5)).as_deref(),
            Some("low\niteration 0\n10.00")
        );
    }

    #[test]
    fn readouts_keep_four_significant_digits() {
        assert_eq!(readout(7.85581), "7.856");
        assert_eq!(readout(0.012345), "0.01235");
        assert_eq!(readout(1234.56), "1235");
        assert_eq!(readout(-0.5), "-0.5000");
        assert_eq!(readout(0.0), "0.000");
        assert_eq!(readout(2.5e-5), "2.500e-5");
        assert_eq!(readout(3.0e7), "3.000e7");
    }
}
