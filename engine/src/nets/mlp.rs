//! The toy denoiser: an MLP `F` wrapped in EDM preconditioning,
//! `D(x; σ) = c_skip x + c_out F([c_in x, emb(c_noise)])` (docs/algorithm.md §1).

use burn::module::Param;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::silu;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::embedding::{embedding_width, fourier_embedding};
use crate::diffusion::denoiser::Denoiser;
use crate::diffusion::edm::Precond;
use sim_formats::limits;
use sim_formats::validation::ValidationError;

/// Shape of the EDM-preconditioned MLP denoiser (the `[net]` table of a preset), shared by a
/// toy teacher, the generator and the fake denoiser.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MlpConfig {
    /// Hidden units per layer.
    pub width: usize,
    /// Hidden layers.
    pub depth: usize,
    /// Fourier frequencies of the noise embedding of `c_noise` (sin and cos each).
    pub noise_frequencies: usize,
}

impl Default for MlpConfig {
    /// 4 × 64 units: the MLP of NVlabs/edm2 `toy_example.py`.
    fn default() -> Self {
        Self {
            width: 64,
            depth: 4,
            noise_frequencies: 8,
        }
    }
}

impl MlpConfig {
    /// Checks ranges; the key is relative to `[net]`.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.width == 0 || self.depth == 0 {
            return Err(ValidationError::new(
                "width",
                "width and depth must be at least 1",
            ));
        }
        limits::at_most("width", self.width, limits::MAX_WIDTH)?;
        limits::at_most("depth", self.depth, 1024)?;
        limits::at_most(
            "noise_frequencies",
            self.noise_frequencies,
            limits::MAX_WIDTH,
        )?;
        // The hidden layers' weights, and the first layer's (a 2-D point and the noise
        // embedding in).
        limits::allocation(
            "width",
            "the hidden layers' weights",
            self.depth as u128 * (self.width as u128).pow(2),
            4,
        )?;
        let first_in = embedding_width(self.noise_frequencies) as u128 + 2;
        limits::allocation(
            "noise_frequencies",
            "the first layer's weights",
            first_in * self.width as u128,
            4,
        )
    }
}

/// An EDM-preconditioned MLP denoiser for `dim`-dimensional data.
#[derive(Module, Debug)]
pub struct MlpDenoiser {
    hidden: Vec<Linear>,
    output: Linear,
    #[module(skip)]
    sigma_data: f64,
    #[module(skip)]
    frequencies: usize,
    #[module(skip)]
    dim: usize,
}

impl MlpDenoiser {
    /// A freshly initialised network (`U(−1/√fan_in, 1/√fan_in)` from `rng`, so seeded runs are
    /// reproducible); the output layer starts at zero, so `D` starts as `c_skip x`.
    pub fn new(
        config: &MlpConfig,
        dim: usize,
        sigma_data: f64,
        rng: &mut impl Rng,
        device: &Device,
    ) -> Self {
        let mut d_in = dim + embedding_width(config.noise_frequencies);
        let mut hidden = Vec::with_capacity(config.depth);
        for _ in 0..config.depth {
            hidden.push(linear(d_in, config.width, 1.0, rng, device));
            d_in = config.width;
        }
        Self {
            hidden,
            output: linear(d_in, dim, 0.0, rng, device),
            sigma_data,
            frequencies: config.noise_frequencies,
            dim,
        }
    }

    /// EDM's σ_d this network was built for.
    pub fn sigma_data(&self) -> f64 {
        self.sigma_data
    }

    /// Data dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The raw network `F(c_in x; c_noise)`.
    ///
    /// # Shapes
    /// `x_in`: `[batch, dim]`, `c_noise`: `[batch, 1]`; result `[batch, dim]`.
    fn raw(&self, x_in: Tensor<2>, c_noise: Tensor<2>) -> Tensor<2> {
        let mut h = Tensor::cat(vec![x_in, fourier_embedding(c_noise, self.frequencies)], 1);
        for layer in &self.hidden {
            h = silu(layer.forward(h));
        }
        self.output.forward(h)
    }
}

impl Denoiser for MlpDenoiser {
    fn denoise(&self, x: Tensor<2>, sigma: Tensor<2>) -> Tensor<2> {
        let p = Precond::new(sigma, self.sigma_data);
        let f = self.raw(x.clone().mul(p.c_in), p.c_noise);
        x.mul(p.c_skip).add(f.mul(p.c_out))
    }
}

/// A linear layer with `U(−scale/√d_in, scale/√d_in)` weights and biases drawn from `rng`.
fn linear(d_in: usize, d_out: usize, scale: f64, rng: &mut impl Rng, device: &Device) -> Linear {
    let bound = scale / (d_in as f64).sqrt();
    let mut draw = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| {
                if bound > 0.0 {
                    rng.random_range(-bound..bound) as f32
                } else {
                    0.0
                }
            })
            .collect()
    };
    let weight = Tensor::<2>::from_data(TensorData::new(draw(d_in * d_out), [d_in, d_out]), device);
    let bias = Tensor::<1>::from_data(TensorData::new(draw(d_out), [d_out]), device);
    let mut layer = LinearConfig::new(d_in, d_out).init(device);
    layer.weight = Param::from_tensor(weight);
    layer.bias = Some(Param::from_tensor(bias));
    layer
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, rng_for};

    #[test]
    fn untrained_network_is_the_skip_path() {
        let device = Device::flex();
        let mut rng = rng_for(0, 0, Stream::Other(0));
        let net = MlpDenoiser::new(&MlpConfig::default(), 2, 0.5, &mut rng, &device);
        let x = Tensor::<2>::from_floats([[1.0, -2.0]], &device);
        let sigma = Tensor::<2>::from_floats([[1.5]], &device);
        let out = net.denoise(x, sigma).try_into_vec_as::<f32>().expect("f32");
        let c_skip = 0.25 / (2.25 + 0.25);
        assert!((f64::from(out[0]) - c_skip).abs() < 1e-6);
        assert!((f64::from(out[1]) + 2.0 * c_skip).abs() < 1e-6);
    }

    #[test]
    fn same_seed_same_network() {
        let device = Device::flex();
        let make = || {
            let mut rng = rng_for(3, 0, Stream::Init);
            MlpDenoiser::new(&MlpConfig::default(), 2, 0.5, &mut rng, &device)
        };
        let (a, b) = (make(), make());
        let wa = a.hidden[0]
            .weight
            .val()
            .try_into_vec_as::<f32>()
            .expect("f32");
        let wb = b.hidden[0]
            .weight
            .val()
            .try_into_vec_as::<f32>()
            .expect("f32");
        assert_eq!(wa, wb);
    }
}
