//! docs/algorithm.md §5.4: the Heun sampler with the exact mixture denoiser reproduces the mixture.

use burn::prelude::*;
use sim_engine::data::toy::{GaussianMixture, ToyData};
use sim_engine::diffusion::sampler::{Integrator, sample};
use sim_engine::metrics::class_histogram;
use sim_engine::rng::{Stream, normal, rng_for};

#[test]
fn heun_with_exact_denoiser_reproduces_mode_weights_and_moments() {
    let mixture = GaussianMixture::new(
        vec![0.5, 0.3, 0.2],
        vec![vec![-1.0, 0.0], vec![1.0, 0.5], vec![0.0, -1.0]],
        vec![0.15, 0.1, 0.2],
    )
    .expect("valid");
    let n = 20_000;
    let device = Device::flex();
    let noise = Tensor::<2>::from_data(
        TensorData::new(
            normal(&mut rng_for(0, 0, Stream::Other(9)), 2 * n, 1.0),
            [n, 2],
        ),
        &device,
    );
    let xs = sample(&mixture, Integrator::Heun, 18, noise)
        .try_into_vec_as::<f32>()
        .expect("f32");
    let post = mixture.posterior(&xs, 0.0);
    let counts = class_histogram(&post, 3);
    for (k, (&c, &w)) in counts.iter().zip(mixture.weights()).enumerate() {
        let p = c as f64 / n as f64;
        // Binomial standard error sqrt(w(1−w)/n) ≈ 0.0035; allow 5 of them plus 0.01 for
        // discretisation error of 18 Heun steps.
        let tol = 5.0 * (w * (1.0 - w) / n as f64).sqrt() + 0.01;
        assert!((p - w).abs() < tol, "mode {k}: {p} vs {w}");
    }
    // Mean of the mixture: Σ π_k μ_k = (−0.5 + 0.3, 0.15 − 0.2) = (−0.2, −0.05).
    let mean_x = xs.iter().step_by(2).map(|&v| f64::from(v)).sum::<f64>() / n as f64;
    let mean_y = xs
        .iter()
        .skip(1)
        .step_by(2)
        .map(|&v| f64::from(v))
        .sum::<f64>()
        / n as f64;
    assert!((mean_x + 0.2).abs() < 0.03, "{mean_x}");
    assert!((mean_y + 0.05).abs() < 0.03, "{mean_y}");
    // Within-mode spread: samples assigned to mode 0 have std ≈ 0.15 per coordinate.
    let mode0: Vec<f64> = xs
        .chunks_exact(2)
        .zip(post.chunks_exact(3))
        .filter(|(_, p)| p[0] > 0.99)
        .map(|(x, _)| f64::from(x[0]) + 1.0)
        .collect();
    let sd = (mode0.iter().map(|v| v * v).sum::<f64>() / mode0.len() as f64).sqrt();
    assert!((sd - 0.15).abs() < 0.02, "{sd}");
}

#[test]
fn both_integrators_converge_to_the_ring_with_enough_steps() {
    // Mean distance to the unit circle: of exact samples, and of each integrator at 64 steps.
    let ring = ToyData::default().mixture().expect("ring");
    let n = 4000;
    let device = Device::flex();
    let radial = |xs: &[f32]| {
        xs.chunks_exact(2)
            .map(|p| (f64::from(p[0]).hypot(f64::from(p[1])) - 1.0).abs())
            .sum::<f64>()
            / (xs.len() / 2) as f64
    };
    let exact = radial(&ring.sample(&mut rng_for(2, 0, Stream::Other(9)), n).0);
    for integrator in [Integrator::Heun, Integrator::Euler] {
        let noise = Tensor::<2>::from_data(
            TensorData::new(
                normal(&mut rng_for(1, 0, Stream::Other(9)), 2 * n, 1.0),
                [n, 2],
            ),
            &device,
        );
        let xs = sample(&ring, integrator, 64, noise)
            .try_into_vec_as::<f32>()
            .expect("f32");
        let got = radial(&xs);
        // Standard error of the mean of |N(0, 0.08²)| over 4000 samples ≈ 0.0008.
        assert!(
            (got - exact).abs() < 0.006,
            "{integrator:?}: {got} vs exact {exact}"
        );
    }
}
