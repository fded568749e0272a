//! docs/algorithm.md §5.1: the score-gradient theorem on the engine's own loss code, every distance;
//! the detached variant and L1 must be shown to fail.
//!
//! Reference numbers: NumPy, 4·10⁶ samples (docs/algorithm.md §5.1). Tolerances: 4 standard errors of
//! the paired difference (ours) or of the two independent estimates (ours vs the reference).

use sim_engine::device::{BackendChoice, Probe, select};
use sim_engine::distill::distance::Distance;
use sim_engine::gradcheck::{GradcheckResult, GradcheckSpec, Space, gradcheck};

const N: usize = 2_000_000;

fn check(spec: GradcheckSpec) -> GradcheckResult {
    let device = select(BackendChoice::Cpu, &Probe::InProcess)
        .expect("cpu")
        .device;
    gradcheck(&spec, &device).expect("gradcheck runs")
}

fn reference_spec(distance: Distance) -> GradcheckSpec {
    GradcheckSpec {
        distance,
        samples: N,
        ..GradcheckSpec::default()
    }
}

/// |ours − reference| within 4 combined standard errors (reference used 4·10⁶ samples).
fn near_reference(ours: f64, se: f64, reference: f64) {
    let se_ref = se * (N as f64 / 4e6).sqrt();
    let tol = 4.0 * (se * se + se_ref * se_ref).sqrt() + 5e-5; // + rounding of the quoted value
    assert!(
        (ours - reference).abs() < tol,
        "{ours} vs reference {reference} (tol {tol})"
    );
}

#[test]
fn pseudo_huber_matches_the_reference_numbers() {
    let r = check(reference_spec(Distance::PseudoHuber { c: 0.3 }));
    near_reference(r.true_grad[0], r.std_err_true[0], 0.2020);
    near_reference(r.true_grad[1], r.std_err_true[1], -0.2708);
    near_reference(r.surrogate_grad[0], r.std_err_surrogate[0], 0.2019);
    near_reference(r.surrogate_grad[1], r.std_err_surrogate[1], -0.2710);
    assert!(r.agrees, "{r:?}");
}

#[test]
fn detaching_dprime_halves_the_scale_gradient() {
    let r = check(GradcheckSpec {
        detach_dprime: true,
        ..reference_spec(Distance::PseudoHuber { c: 0.3 })
    });
    near_reference(r.surrogate_grad[0], r.std_err_surrogate[0], 0.1010);
    near_reference(r.surrogate_grad[1], r.std_err_surrogate[1], -0.2708);
    assert!(!r.agrees, "the detached surrogate must be caught: {r:?}");
    assert!(r.z_score[0].abs() > 20.0, "{r:?}");
}

#[test]
fn every_smooth_distance_agrees_in_both_spaces() {
    let distances = [
        Distance::PseudoHuber { c: 0.05 },
        Distance::L2,
        Distance::Huber { delta: 0.1 },
        Distance::AlphaPower { alpha: 4 },
        Distance::ExpPower {
            alpha: 2,
            beta: 0.1,
        },
    ];
    for distance in distances {
        for space in [Space::Score, Space::Denoiser] {
            let r = check(GradcheckSpec {
                space,
                samples: 1_000_000,
                ..reference_spec(distance)
            });
            assert!(r.agrees, "{distance:?} in {space:?}: {r:?}");
            assert!(
                r.rel_err.iter().all(|e| *e < 0.02),
                "{distance:?} {space:?}: {r:?}"
            );
        }
    }
}

/// docs/algorithm.md §5.1's L1 setting.
fn l1_setting(distance: Distance) -> GradcheckSpec {
    GradcheckSpec {
        mu_q: -0.5,
        s_q: 1.3,
        a: 0.6,
        b: 0.9,
        sigma: 1.7,
        ..reference_spec(distance)
    }
}

#[test]
fn l1_surrogate_is_biased_while_smooth_distances_are_not() {
    let r = check(l1_setting(Distance::L1));
    near_reference(r.true_grad[0], r.std_err_true[0], -0.0270);
    assert!(!r.agrees, "L1's bias must show: {r:?}");
    assert!(r.rel_err[0] > 0.3, "{r:?}");
    // The surrogate is E[−sign(y)(k − 1) z / σ²], k = a²/(a²+σ²): −0.01346 by NumPy with 4·10⁶
    // samples (seed 0). docs/algorithm.md §5.1 quotes −0.0174 here; its true gradient (−0.0270) and every
    // other reference number agree with this engine, this one does not (see the closing note).
    near_reference(r.surrogate_grad[0], r.std_err_surrogate[0], -0.01346);
    for smooth in [
        Distance::PseudoHuber { c: 0.05 },
        Distance::Huber { delta: 0.1 },
    ] {
        let r = check(l1_setting(smooth));
        assert!(r.agrees, "{smooth:?}: {r:?}");
    }
}
