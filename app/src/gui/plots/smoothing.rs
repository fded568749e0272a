//! Debiased exponential smoothing of a noisy curve, as TensorBoard draws it.

/// The exponential moving average of `values` with weight `w` on the past, divided by
/// `1 − wⁿ` after `n` finite values so the start is not pulled towards zero:
/// `m_n = w·m_{n−1} + (1 − w)·v_n`, `m_0 = 0`, shown as `m_n / (1 − wⁿ)`. A non-finite value
/// is passed through and does not enter the average; `w = 0` returns `values` unchanged.
pub fn debiased_ema(values: &[f64], w: f64) -> Vec<f64> {
    let w = w.clamp(0.0, 0.999);
    let (mut mean, mut weight) = (0.0, 1.0);
    values
        .iter()
        .map(|&v| {
            if !v.is_finite() || w == 0.0 {
                return v;
            }
            mean = w * mean + (1.0 - w) * v;
            weight *= w;
            mean / (1.0 - weight)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::debiased_ema;

    #[test]
    fn the_debiased_average_matches_a_hand_computation() {
        // w = 0.5: m = 0.5, 1.25, 1.625 over 1 − wⁿ = 0.5, 0.75, 0.875.
        let s = debiased_ema(&[1.0, 2.0, 2.0], 0.5);
        let want = [1.0, 1.25 / 0.75, 1.625 / 0.875];
        for (got, want) in s.iter().zip(want) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
    }

    #[test]
    fn a_constant_stays_constant_and_zero_weight_is_the_identity() {
        assert!(
            debiased_ema(&[3.0; 50], 0.9)
                .iter()
                .all(|v| (v - 3.0).abs() < 1e-12)
        );
        let raw = [1.0, -2.0, 5.0];
        assert_eq!(debiased_ema(&raw, 0.0), raw);
    }

    #[test]
    fn non_finite_values_pass_through_without_poisoning_the_average() {
        let s = debiased_ema(&[1.0, f64::NAN, 1.0], 0.8);
        assert_eq!(s[0], 1.0);
        assert!(s[1].is_nan());
        assert!((s[2] - 1.0).abs() < 1e-12);
    }
}
