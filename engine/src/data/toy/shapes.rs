//! Sample-only 2-D shapes, scaled so that σ_d is of order 0.5–1 like the mixtures.

use rand::Rng;
use rand_distr::StandardNormal;

fn jitter(rng: &mut impl Rng, noise: f64) -> f64 {
    noise * rng.sample::<f64, _>(StandardNormal)
}

/// Two interleaved half circles (as scikit-learn's `make_moons`), centred and halved in scale.
pub fn two_moons(rng: &mut impl Rng, n: usize, noise: f64) -> Vec<f32> {
    let mut out = Vec::with_capacity(2 * n);
    for _ in 0..n {
        let t = rng.random_range(0.0..std::f64::consts::PI);
        let (x, y) = if rng.random_bool(0.5) {
            (t.cos(), t.sin())
        } else {
            (1.0 - t.cos(), 0.5 - t.sin())
        };
        out.push(((x - 0.5) * 0.8 + jitter(rng, noise)) as f32);
        out.push(((y - 0.25) * 0.8 + jitter(rng, noise)) as f32);
    }
    out
}

/// A swiss roll `(t cos t, t sin t) / 10`, `t ∈ [1.5π, 4.5π]`.
pub fn swiss_roll(rng: &mut impl Rng, n: usize, noise: f64) -> Vec<f32> {
    let mut out = Vec::with_capacity(2 * n);
    for _ in 0..n {
        let t = rng.random_range(1.5 * std::f64::consts::PI..4.5 * std::f64::consts::PI);
        out.push((t * t.cos() / 10.0 + jitter(rng, noise)) as f32);
        out.push((t * t.sin() / 10.0 + jitter(rng, noise)) as f32);
    }
    out
}

/// The 8 black squares of a 4 × 4 checkerboard on `[−1, 1]²`, uniformly.
pub fn checkerboard(rng: &mut impl Rng, n: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(2 * n);
    for _ in 0..n {
        let (col, row_pair) = (rng.random_range(0..4u32), rng.random_range(0..2u32));
        let row = 2 * row_pair + (col % 2);
        out.push((-1.0 + 0.5 * (f64::from(col) + rng.random::<f64>())) as f32);
        out.push((-1.0 + 0.5 * (f64::from(row) + rng.random::<f64>())) as f32);
    }
    out
}
