//! Adam (Kingma & Ba 2015) with β₁ = 0 by default (Table 5), keyed by parameter path so that its
//! state is a plain set of named tensors that a safetensors checkpoint holds.
//!
//! Written here rather than taken from `burn::optim` because Burn keys optimiser state by random
//! parameter ids, which a checkpoint of named tensors cannot restore bit for bit.

use std::collections::BTreeMap;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::prelude::*;

use super::params::map_params;

/// Adam's state and hyper-parameters (the learning rate comes with each step).
#[derive(Clone, Debug)]
pub struct Adam {
    /// First-moment decay β₁ (0 in the paper: no momentum).
    pub beta1: f64,
    /// Second-moment decay β₂.
    pub beta2: f64,
    /// Denominator guard ε.
    pub epsilon: f64,
    /// Steps taken (for bias correction).
    pub steps: u64,
    /// First moments by parameter path (absent while β₁ = 0).
    pub m: BTreeMap<String, Tensor<1>>,
    /// Second moments by parameter path.
    pub v: BTreeMap<String, Tensor<1>>,
}

impl Adam {
    /// A fresh optimiser with β = (`beta1`, `beta2`) and ε = 1e-8.
    pub fn new(beta1: f64, beta2: f64) -> Self {
        Self {
            beta1,
            beta2,
            epsilon: 1e-8,
            steps: 0,
            m: BTreeMap::new(),
            v: BTreeMap::new(),
        }
    }

    /// One update of every parameter of `module` that has a gradient in `grads`:
    /// `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`, `θ ← θ − lr · m̂ / (√v̂ + ε)`.
    pub fn step<M: Module>(&mut self, module: M, grads: &GradientsParams, lr: f64) -> M {
        self.steps += 1;
        let t = self.steps as i32;
        let (b1, b2, eps) = (self.beta1, self.beta2, self.epsilon);
        let bias1 = 1.0 - b1.powi(t);
        let bias2 = 1.0 - b2.powi(t);
        let (m_state, v_state) = (&mut self.m, &mut self.v);
        map_params(module, Some(grads), |path, value, grad| {
            let Some(g) = grad else {
                return value;
            };
            let v = match v_state.remove(path) {
                Some(v) => v
                    .mul_scalar(b2)
                    .add(g.clone().square().mul_scalar(1.0 - b2)),
                None => g.clone().square().mul_scalar(1.0 - b2),
            };
            let m = if b1 > 0.0 {
                let m = match m_state.remove(path) {
                    Some(m) => m.mul_scalar(b1).add(g.mul_scalar(1.0 - b1)),
                    None => g.mul_scalar(1.0 - b1),
                };
                m_state.insert(path.to_owned(), m.clone());
                m
            } else {
                g
            };
            let denom = v.clone().div_scalar(bias2).sqrt().add_scalar(eps);
            v_state.insert(path.to_owned(), v);
            value.sub(m.div_scalar(bias1).div(denom).mul_scalar(lr))
        })
    }
}

#[cfg(test)]
mod tests {
    use burn::module::Param;
    use burn::nn::{Linear, LinearConfig};

    use super::*;

    /// Three Adam steps on `‖W‖²` (gradient 2W) against the update rule computed by hand.
    #[test]
    fn matches_hand_computed_updates() {
        let device = Device::flex().autodiff();
        let mut layer: Linear = LinearConfig::new(1, 1).init(&device);
        layer.weight = Param::from_tensor(Tensor::<2>::from_floats([[0.5]], &device));
        layer.bias = None;
        let (b1, b2, lr, eps) = (0.9f64, 0.99f64, 0.1f64, 1e-8f64);
        let mut adam = Adam::new(b1, b2);
        let (mut w, mut m, mut v) = (0.5f64, 0.0f64, 0.0f64);
        for t in 1..=3 {
            let loss = layer.weight.val().square().sum();
            let grads = GradientsParams::from_grads(loss.backward(), &layer);
            layer = adam.step(layer, &grads, lr);
            let g = 2.0 * w;
            m = b1 * m + (1.0 - b1) * g;
            v = b2 * v + (1.0 - b2) * g * g;
            let (mh, vh) = (m / (1.0 - b1.powi(t)), v / (1.0 - b2.powi(t)));
            w -= lr * mh / (vh.sqrt() + eps);
            let got: f32 = layer.weight.val().inner().into_scalar();
            assert!((f64::from(got) - w).abs() < 1e-5, "step {t}: {got} vs {w}");
        }
        assert_eq!(adam.steps, 3);
        assert_eq!(adam.v.len(), 1, "state keyed by path: {:?}", adam.v.keys());
    }
}
