//! Deterministic randomness. Every draw of a run comes from a generator seeded by
//! (run seed, iteration, stream), so iteration `i` sees the same numbers whether the run got there
//! in one go or was resumed from a checkpoint.

use rand::{Rng, SeedableRng, rngs::StdRng};
use rand_distr::StandardNormal;

/// Independent random streams of one iteration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Fake-denoiser phase number `k` of the iteration.
    Fake(u32),
    /// Generator phase.
    Generator,
    /// Evaluation (seeded by the run seed only, so every evaluation sees the same latents).
    Eval,
    /// Teacher fit for the initialisation of θ and ψ; network initialisation.
    Init,
    /// Image-teacher training batches (`image_teacher`).
    ImageTeacher,
    /// Class labels of fake-denoiser phase number `k` (class-conditional distillation).
    FakeLabels(u32),
    /// Class labels of the generator phase (class-conditional distillation).
    GeneratorLabels,
    /// Anything else a caller labels (tests, gradcheck, reference samples).
    Other(u64),
}

impl Stream {
    fn code(self) -> u64 {
        match self {
            Stream::Fake(k) => 0x100 + u64::from(k),
            Stream::Generator => 0x200,
            Stream::Eval => 0x300,
            Stream::Init => 0x400,
            Stream::ImageTeacher => 0x500,
            Stream::FakeLabels(k) => 0x600 + u64::from(k),
            Stream::GeneratorLabels => 0x700,
            Stream::Other(x) => 0x1_0000 + x,
        }
    }
}

/// The generator for (`seed`, `step`, `stream`).
pub fn rng_for(seed: u64, step: u64, stream: Stream) -> StdRng {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&step.to_le_bytes());
    bytes[16..24].copy_from_slice(&stream.code().to_le_bytes());
    bytes[24..].copy_from_slice(b"SIM-wbch");
    StdRng::from_seed(bytes)
}

/// `n` draws of `N(0, std²)`.
pub fn normal(rng: &mut impl Rng, n: usize, std: f64) -> Vec<f32> {
    (0..n)
        .map(|_| (rng.sample::<f64, _>(StandardNormal) * std) as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a = normal(&mut rng_for(1, 5, Stream::Generator), 4, 1.0);
        let b = normal(&mut rng_for(1, 5, Stream::Generator), 4, 1.0);
        let c = normal(&mut rng_for(1, 5, Stream::Fake(0)), 4, 1.0);
        let d = normal(&mut rng_for(1, 6, Stream::Generator), 4, 1.0);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }
}
