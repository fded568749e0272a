//! Exponential moving average of the generator, the network that is evaluated and sampled
//! (practice of the SiD / DMD2 reference code, docs/algorithm.md §3).

use burn::module::Module;

use super::params::{map_params, named_params};

/// EMA decay for one update of `batch` samples with a half-life of `half_life_kimg` thousand
/// samples: `β = 0.5^(batch / (1000 · half_life_kimg))`.
pub fn ema_beta(batch: usize, half_life_kimg: f64) -> f64 {
    0.5f64.powf(batch as f64 / (1000.0 * half_life_kimg))
}

/// `ema ← β ema + (1 − β) θ`, parameter by parameter (matched by path).
pub fn ema_update<M: Module>(ema: M, current: &M, beta: f64) -> M {
    let current = named_params(current);
    map_params(ema, None, |path, value, _| match current.get(path) {
        Some(theta) => value
            .mul_scalar(beta)
            .add(theta.values.clone().mul_scalar(1.0 - beta)),
        None => value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_life_halves() {
        // After half_life_kimg·1000 / batch updates the old weight is 1/2.
        let beta = ema_beta(256, 0.512);
        assert!((beta.powi(2) - 0.5).abs() < 1e-12);
    }
}
