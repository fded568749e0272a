//! Inception Score and class histogram from per-sample class probabilities (docs/algorithm.md §4).

use super::MetricError;

/// Largest allowed `|Σ_k p(k|x) − 1|` for a probability row.
const ROW_SUM_TOLERANCE: f64 = 1e-3;

/// Inception Score `exp(E_x KL(p(y|x) ‖ p(y)))` (docs/algorithm.md §4).
///
/// `probs` is row-major `[n, classes]`, each row a probability vector `p(y|x)` (a softmax
/// output, or the exact mixture posterior for the 2-D toy world); `p(y)` is the mean of the rows.
/// Terms with `p(y|x) = 0` contribute 0 (`0 · log 0 = 0`). Ranges from 1 (all rows equal) to
/// `classes` (confident predictions spread evenly over all classes).
///
/// Errors when `classes == 0`, `probs` is empty or not a whole number of rows, an entry is
/// negative or not finite, or a row does not sum to 1 within 1e-3.
pub fn inception_score(probs: &[f64], classes: usize) -> Result<f64, MetricError> {
    if classes == 0 {
        return Err(MetricError::ZeroClasses);
    }
    if probs.is_empty() {
        return Err(MetricError::NoPredictions);
    }
    if !probs.len().is_multiple_of(classes) {
        return Err(MetricError::RaggedProbabilities {
            len: probs.len(),
            classes,
        });
    }
    for (row, p) in probs.chunks_exact(classes).enumerate() {
        if let Some((class, &value)) = p
            .iter()
            .enumerate()
            .find(|(_, v)| !v.is_finite() || **v < 0.0)
        {
            return Err(MetricError::InvalidProbability { row, class, value });
        }
        let sum: f64 = p.iter().sum();
        if (sum - 1.0).abs() > ROW_SUM_TOLERANCE {
            return Err(MetricError::RowNotNormalised { row, sum });
        }
    }
    let n = probs.len() / classes;
    let mut marginal = vec![0.0; classes];
    for p in probs.chunks_exact(classes) {
        marginal.iter_mut().zip(p).for_each(|(m, v)| *m += v);
    }
    marginal.iter_mut().for_each(|m| *m /= n as f64);
    // p > 0 implies marginal >= p / n > 0, so the log is finite.
    let kl_sum: f64 = probs
        .chunks_exact(classes)
        .flat_map(|p| p.iter().zip(&marginal))
        .filter(|(p, _)| **p > 0.0)
        .map(|(p, m)| p * (p / m).ln())
        .sum();
    Ok((kl_sum / n as f64).exp())
}

/// Number of rows of row-major `[n, classes]` `probs` whose argmax is each class (mode coverage).
///
/// Ties go to the lowest class index; NaN entries never win. A trailing partial row is ignored
/// and `classes == 0` gives an empty histogram; validate with [`inception_score`] if needed.
pub fn class_histogram(probs: &[f64], classes: usize) -> Vec<usize> {
    let mut counts = vec![0; classes];
    if classes == 0 {
        return counts;
    }
    for p in probs.chunks_exact(classes) {
        let best = (1..classes).fold(0, |best, k| {
            if p[k] > p[best] || p[best].is_nan() {
                k
            } else {
                best
            }
        });
        counts[best] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_hot_rows(labels: &[usize], classes: usize) -> Vec<f64> {
        labels
            .iter()
            .flat_map(|&l| (0..classes).map(move |k| if k == l { 1.0 } else { 0.0 }))
            .collect()
    }

    #[test]
    fn confident_uniform_predictions_score_k() {
        let k = 5;
        let labels: Vec<usize> = (0..40).map(|i| i % k).collect();
        let is = inception_score(&one_hot_rows(&labels, k), k).expect("IS");
        assert!((is - k as f64).abs() < 1e-9, "IS = {is}");
        // Confident but collapsed onto 2 of the 5 classes scores 2.
        let labels: Vec<usize> = (0..40).map(|i| i % 2).collect();
        let is = inception_score(&one_hot_rows(&labels, k), k).expect("IS");
        assert!((is - 2.0).abs() < 1e-9, "IS = {is}");
    }

    #[test]
    fn identical_rows_score_one() {
        let probs: Vec<f64> = [0.2, 0.3, 0.5].repeat(7);
        let is = inception_score(&probs, 3).expect("IS");
        assert!((is - 1.0).abs() < 1e-12, "IS = {is}");
    }

    #[test]
    fn hand_computed_two_class() {
        // p(y) = [0.75, 0.25]; KL_1 = ln(4/3), KL_2 = 0.5 ln(2/3) + 0.5 ln 2 = 0.5 ln(4/3).
        // IS = exp(0.75 ln(4/3)) = (4/3)^0.75.
        let is = inception_score(&[1.0, 0.0, 0.5, 0.5], 2).expect("IS");
        let expected = (4.0f64 / 3.0).powf(0.75);
        assert!((is - expected).abs() < 1e-12, "{is} vs {expected}");
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert_eq!(inception_score(&[1.0], 0), Err(MetricError::ZeroClasses));
        assert_eq!(inception_score(&[], 3), Err(MetricError::NoPredictions));
        assert_eq!(
            inception_score(&[0.5, 0.5, 1.0], 2),
            Err(MetricError::RaggedProbabilities { len: 3, classes: 2 })
        );
        assert_eq!(
            inception_score(&[1.0, 0.0, 1.2, -0.2], 2),
            Err(MetricError::InvalidProbability {
                row: 1,
                class: 1,
                value: -0.2
            })
        );
        assert!(matches!(
            inception_score(&[f64::NAN, 1.0], 2),
            Err(MetricError::InvalidProbability {
                row: 0,
                class: 0,
                ..
            })
        ));
        assert!(matches!(
            inception_score(&[0.5, 0.4], 2),
            Err(MetricError::RowNotNormalised { row: 0, .. })
        ));
        assert!(matches!(
            inception_score(&[f64::INFINITY, 0.0], 2),
            Err(MetricError::InvalidProbability {
                row: 0,
                class: 0,
                ..
            })
        ));
        // Within tolerance is accepted.
        assert!(inception_score(&[0.5, 0.5005], 2).is_ok());
    }

    #[test]
    fn histogram_counts_argmax() {
        let probs = [
            0.1, 0.7, 0.2, 0.6, 0.3, 0.1, 0.2, 0.2, 0.6, 0.0, 0.9, 0.1, 0.5,
        ];
        assert_eq!(class_histogram(&probs, 3), vec![1, 2, 1]);
        assert_eq!(class_histogram(&[0.5, 0.5], 2), vec![1, 0]);
        assert_eq!(
            class_histogram(&[f64::NAN, 0.1, 0.3, f64::NAN], 2),
            vec![1, 1]
        );
        assert!(class_histogram(&probs, 0).is_empty());
    }
}
