//! What the generator phase shows about the mechanism (docs/algorithm.md §7): per sample of one
//! iteration's own generator batch, its σ, `‖y‖` with `y = D_ψ(x_t;σ) − D_q(x_t;σ)`, the weight
//! the distance gives its update, and the size of its gradient at the generator's output;
//! grouped into σ bins of equal count. Plain data: it crosses the channel and is logged.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::distance::Distance;
use super::objective::Objective;

/// The diagnostics of one iteration's generator phase.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Diagnostics {
    /// Per sample, in batch order.
    pub samples: Vec<SampleProbe>,
    /// The samples in σ bins of equal count, lowest σ first.
    pub bins: Vec<SigmaBin>,
    /// The first samples of the batch as images (image runs): `count` rows of `dim` each.
    pub rows: Option<ProbeRows>,
}

/// One sample of the generator batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SampleProbe {
    /// Its noise level σ.
    pub sigma: f32,
    /// `‖y‖`, `y = D_ψ − D_q` at `(x_t, σ)`.
    pub norm_y: f32,
    /// The effective weight of its update (docs/algorithm.md §7): SIM `w(σ)·‖d'(y)‖ / ‖y‖`
    /// (pseudo-Huber `1/√(‖y‖² + c²)`, L2 the constant 2); SiD and Diff-Instruct `w(σ)`.
    pub weight: f32,
    /// Huber: the fraction of its coordinates with `|y_k| > δ`, clipped in `d'`; 0 otherwise.
    pub clipped: f32,
    /// `‖∂L/∂x_0‖`: the size of the gradient it sends into the generator's output.
    pub grad: f32,
}

/// The samples of one σ bin.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SigmaBin {
    /// Lowest σ in the bin.
    pub sigma_min: f64,
    /// Highest σ in the bin.
    pub sigma_max: f64,
    /// Samples in it (those with finite numbers).
    pub samples: usize,
    /// Mean `‖y‖`.
    pub mean_norm_y: f64,
    /// Mean effective weight.
    pub mean_weight: f64,
    /// Mean clipped fraction (Huber).
    pub clipped: f64,
    /// Its share of the batch's `Σ ‖∂L/∂x_0‖`, in [0, 1].
    pub grad_share: f64,
}

/// The first samples of the batch, row-major `[count, dim]` each.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProbeRows {
    /// Rows.
    pub count: usize,
    /// Their σ.
    pub sigma: Vec<f32>,
    /// The generator's output `x_0`.
    pub x0: Vec<f32>,
    /// The teacher's prediction `D_q(x_t; σ)`.
    pub teacher: Vec<f32>,
    /// The fake denoiser's prediction `D_ψ(x_t; σ)`.
    pub fake: Vec<f32>,
    /// `d'(y)` (SIM), or `y` itself (SiD, Diff-Instruct): the direction each update follows.
    pub d_prime: Vec<f32>,
}

/// The tensors of a generator phase that the diagnostics are read from, all without gradient.
///
/// # Shapes
/// `sigma`, `weight`: `[batch, 1]`; the others `[batch, dim]`.
pub struct PhaseTensors {
    /// Noise levels.
    pub sigma: Tensor<2>,
    /// Generator output `x_0`.
    pub x0: Tensor<2>,
    /// `D_ψ(x_t; σ)`.
    pub fake: Tensor<2>,
    /// `D_q(x_t; σ)`.
    pub teacher: Tensor<2>,
    /// `w(σ)` per sample (`None`: 1).
    pub weight: Option<Tensor<2>>,
    /// `∂L/∂x_0` of the batch loss.
    pub grad_x0: Tensor<2>,
}

/// Bins of equal count: as many as leave 4 samples to a bin, at most 8.
pub const MAX_BINS: usize = 8;

/// Reads the diagnostics of a phase back to the host in two transfers: the per-sample numbers,
/// then the first `rows` samples' rows (none when `rows` is 0).
pub fn probe(
    objective: &Objective,
    distance: &Distance,
    tensors: PhaseTensors,
    rows: usize,
) -> Diagnostics {
    let PhaseTensors {
        sigma,
        x0,
        fake,
        teacher,
        weight,
        grad_x0,
    } = tensors;
    let [batch, dim] = x0.dims();
    let y = fake.clone().sub(teacher.clone());
    let norm = |t: Tensor<2>| t.square().sum_dim(1).sqrt();
    let norm_y = norm(y.clone());
    let direction = match objective {
        Objective::Sim => distance.d_prime(y.clone()),
        Objective::Sid { .. } | Objective::DiffInstruct => y.clone(),
    };
    let mut effective = match objective {
        Objective::Sim => norm(direction.clone()).div(norm_y.clone().clamp_min(1e-30)),
        Objective::Sid { .. } | Objective::DiffInstruct => norm_y.ones_like(),
    };
    if let Some(w) = weight {
        effective = effective.mul(w);
    }
    let clipped = match distance {
        Distance::Huber { delta } if *objective == Objective::Sim => {
            y.abs().greater_elem(*delta).float().mean_dim(1)
        }
        _ => norm_y.zeros_like(),
    };
    let columns = Tensor::cat(vec![sigma, norm_y, effective, clipped, norm(grad_x0)], 1);
    let numbers: Vec<f32> = columns.into_data().try_to_vec().unwrap_or_default();
    let samples: Vec<SampleProbe> = numbers
        .chunks_exact(5)
        .map(|c| SampleProbe {
            sigma: c[0],
            norm_y: c[1],
            weight: c[2],
            clipped: c[3],
            grad: c[4],
        })
        .collect();
    let count = rows.min(batch);
    let rows = (count > 0).then(|| {
        let head = |t: Tensor<2>| t.slice([0..count, 0..dim]);
        let all = Tensor::cat(
            vec![head(x0), head(teacher), head(fake), head(direction)],
            0,
        );
        let values: Vec<f32> = all.into_data().try_to_vec().unwrap_or_default();
        let block = |k: usize| values.get(k * count * dim..(k + 1) * count * dim);
        let part = |k: usize| block(k).map(<[f32]>::to_vec).unwrap_or_default();
        ProbeRows {
            count,
            sigma: samples.iter().take(count).map(|s| s.sigma).collect(),
            x0: part(0),
            teacher: part(1),
            fake: part(2),
            d_prime: part(3),
        }
    });
    Diagnostics {
        bins: bins(&samples),
        samples,
        rows,
    }
}

/// The finite samples sorted by σ and cut into bins of equal count (the first bins one sample
/// larger when the count does not divide): `min(8, n / 4)` bins, at least one.
pub fn bins(samples: &[SampleProbe]) -> Vec<SigmaBin> {
    let mut finite: Vec<SampleProbe> = samples
        .iter()
        .copied()
        .filter(|s| {
            [s.sigma, s.norm_y, s.weight, s.clipped, s.grad]
                .iter()
                .all(|v| v.is_finite())
        })
        .collect();
    if finite.is_empty() {
        return Vec::new();
    }
    finite.sort_by(|a, b| a.sigma.total_cmp(&b.sigma));
    let total_grad: f64 = finite.iter().map(|s| f64::from(s.grad)).sum();
    let n = finite.len();
    let count = (n / 4).clamp(1, MAX_BINS);
    let mut out = Vec::with_capacity(count);
    let mut start = 0;
    for k in 0..count {
        let size = n / count + usize::from(k < n % count);
        let bin = &finite[start..start + size];
        start += size;
        let mean = |f: fn(&SampleProbe) -> f32| {
            bin.iter().map(|s| f64::from(f(s))).sum::<f64>() / size as f64
        };
        let grad: f64 = bin.iter().map(|s| f64::from(s.grad)).sum();
        out.push(SigmaBin {
            sigma_min: f64::from(bin[0].sigma),
            sigma_max: f64::from(bin[size - 1].sigma),
            samples: size,
            mean_norm_y: mean(|s| s.norm_y),
            mean_weight: mean(|s| s.weight),
            clipped: mean(|s| s.clipped),
            grad_share: if total_grad > 0.0 {
                grad / total_grad
            } else {
                0.0
            },
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(sigma: f32, grad: f32) -> SampleProbe {
        SampleProbe {
            sigma,
            norm_y: sigma,
            weight: 1.0,
            clipped: 0.0,
            grad,
        }
    }

    /// Two 2-D samples by hand: pseudo-Huber with c = 0.5, w = 1, and a known `∂L/∂x_0`.
    #[test]
    fn probe_matches_a_hand_computation() {
        let device = Device::flex();
        let t = |v: Vec<f32>, cols: usize| {
            Tensor::<2>::from_data(TensorData::new(v.clone(), [v.len() / cols, cols]), &device)
        };
        let tensors = PhaseTensors {
            sigma: t(vec![0.1, 2.0], 1),
            x0: t(vec![0.0, 0.0, 1.0, 1.0], 2),
            // y = (0.3, 0.4) and (1.2, -0.5): ‖y‖ = 0.5 and 1.3.
            fake: t(vec![0.3, 0.4, 1.2, 0.5], 2),
            teacher: t(vec![0.0, 0.0, 0.0, 1.0], 2),
            weight: None,
            // ‖g‖ = 1 and 3.
            grad_x0: t(vec![0.6, 0.8, 0.0, 3.0], 2),
        };
        let d = probe(
            &Objective::Sim,
            &Distance::PseudoHuber { c: 0.5 },
            tensors,
            1,
        );
        let close = |a: f32, b: f64| (f64::from(a) - b).abs() < 1e-6;
        let [s0, s1] = [d.samples[0], d.samples[1]];
        assert!(close(s0.norm_y, 0.5) && close(s1.norm_y, 1.3));
        // 1/√(‖y‖² + c²): 1/√0.5 and 1/√1.94.
        assert!(close(s0.weight, 1.0 / 0.5f64.sqrt()), "{}", s0.weight);
        assert!(close(s1.weight, 1.0 / 1.94f64.sqrt()), "{}", s1.weight);
        assert!(close(s0.grad, 1.0) && close(s1.grad, 3.0));
        assert_eq!((s0.sigma, s1.sigma), (0.1, 2.0));
        // One bin (two samples); the rows of the first sample, d'(y) = y/√(‖y‖² + c²).
        assert_eq!(d.bins.len(), 1);
        assert!((d.bins[0].grad_share - 1.0).abs() < 1e-12);
        let rows = d.rows.expect("rows");
        assert_eq!((rows.count, rows.sigma.clone()), (1, vec![0.1]));
        assert_eq!(
            (rows.fake.clone(), rows.teacher.clone()),
            (vec![0.3, 0.4], vec![0.0, 0.0])
        );
        let scale = 0.5f64.sqrt();
        assert!(close(rows.d_prime[0], 0.3 / scale) && close(rows.d_prime[1], 0.4 / scale));

        // L2: the weight is 2 whatever ‖y‖; Huber δ = 0.35 clips 1 of 2 and 2 of 2 coordinates.
        let again = |distance: Distance| {
            let tensors = PhaseTensors {
                sigma: t(vec![0.1, 2.0], 1),
                x0: t(vec![0.0; 4], 2),
                fake: t(vec![0.3, 0.4, 1.2, 0.5], 2),
                teacher: t(vec![0.0, 0.0, 0.0, 1.0], 2),
                weight: Some(t(vec![1.0, 0.5], 1)),
                grad_x0: t(vec![1.0; 4], 2),
            };
            probe(&Objective::Sim, &distance, tensors, 0)
        };
        let l2 = again(Distance::L2);
        assert!(close(l2.samples[0].weight, 2.0) && close(l2.samples[1].weight, 1.0));
        assert!(l2.rows.is_none());
        let huber = again(Distance::Huber { delta: 0.35 });
        assert!(close(huber.samples[0].clipped, 0.5) && close(huber.samples[1].clipped, 1.0));
    }

    /// Ten samples make two bins of five, sorted by σ; shares add up to one; a NaN sample is
    /// left out.
    #[test]
    fn bins_split_by_sigma_in_equal_counts() {
        let mut samples: Vec<SampleProbe> = (0..10)
            .rev()
            .map(|i| sample(i as f32, 1.0 + i as f32))
            .collect();
        samples.push(sample(f32::NAN, 1.0));
        let bins = bins(&samples);
        assert_eq!(bins.len(), 2);
        assert_eq!((bins[0].sigma_min, bins[0].sigma_max), (0.0, 4.0));
        assert_eq!((bins[1].sigma_min, bins[1].sigma_max), (5.0, 9.0));
        assert_eq!(bins[0].samples + bins[1].samples, 10);
        // Σ grad = 55: 1+…+5 = 15 and 6+…+10 = 40.
        assert!((bins[0].grad_share - 15.0 / 55.0).abs() < 1e-12);
        assert!((bins[1].grad_share - 40.0 / 55.0).abs() < 1e-12);
        assert!((bins[0].mean_norm_y - 2.0).abs() < 1e-12);
        assert!(super::bins(&[]).is_empty());
    }
}
