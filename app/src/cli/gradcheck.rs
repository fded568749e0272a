//! `sim-workbench gradcheck`: the score-gradient theorem, held and broken (docs/algorithm.md §5.1).

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, ValueEnum};
use sim_engine::device::{BackendChoice, Probe, select};
use sim_engine::distill::distance::Distance;
use sim_engine::error::{ConfigError, EngineError};
use sim_engine::gradcheck::{GradcheckSpec, Space, gradcheck};
use sim_engine::validation::ValidationError;

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum DistanceArg {
    PseudoHuber,
    L2,
    L1,
    Huber,
    AlphaPower,
    ExpPower,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum SpaceArg {
    /// d applied to s_ψ − s_q (Thm 3.1; the spec's reference numbers).
    Score,
    /// d applied to D_ψ − D_q, as the engine trains.
    Denoiser,
}

#[derive(Args, Debug)]
pub struct GradcheckArgs {
    /// Teacher mean μ_q.
    #[arg(long, default_value_t = 1.0, allow_hyphen_values = true)]
    mu_q: f64,
    /// Teacher std s_q.
    #[arg(long, default_value_t = 0.7)]
    s_q: f64,
    /// Student scale a (x_0 = a z + b).
    #[arg(long, default_value_t = 1.5, allow_hyphen_values = true)]
    a: f64,
    /// Student shift b.
    #[arg(long, default_value_t = -0.4, allow_hyphen_values = true)]
    b: f64,
    /// Noise level σ.
    #[arg(long, default_value_t = 0.8)]
    sigma: f64,
    /// Distance function.
    #[arg(long, value_enum, default_value = "pseudo-huber")]
    distance: DistanceArg,
    /// Pseudo-Huber c.
    #[arg(long, default_value_t = 0.3)]
    c: f64,
    /// α of α-power and exp-power (even).
    #[arg(long, default_value_t = 2)]
    alpha: u32,
    /// β of exp-power.
    #[arg(long, default_value_t = 0.1)]
    beta: f64,
    /// Huber δ.
    #[arg(long, default_value_t = 0.1)]
    delta: f64,
    /// Where d is applied.
    #[arg(long, value_enum, default_value = "score")]
    space: SpaceArg,
    /// Stop the gradient through d'(y) (the bug: watch the gradient of a halve).
    #[arg(long)]
    detach_dprime: bool,
    /// Monte-Carlo samples.
    #[arg(long, default_value_t = 4_000_000)]
    samples: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: GradcheckArgs) -> Result<ExitCode> {
    let distance = match args.distance {
        DistanceArg::PseudoHuber => Distance::PseudoHuber { c: args.c },
        DistanceArg::L2 => Distance::L2,
        DistanceArg::L1 => Distance::L1,
        DistanceArg::Huber => Distance::Huber { delta: args.delta },
        DistanceArg::AlphaPower => Distance::AlphaPower { alpha: args.alpha },
        DistanceArg::ExpPower => Distance::ExpPower {
            alpha: args.alpha,
            beta: args.beta,
        },
    };
    let spec = GradcheckSpec {
        mu_q: args.mu_q,
        s_q: args.s_q,
        a: args.a,
        b: args.b,
        sigma: args.sigma,
        distance,
        space: match args.space {
            SpaceArg::Score => Space::Score,
            SpaceArg::Denoiser => Space::Denoiser,
        },
        detach_dprime: args.detach_dprime,
        samples: args.samples,
        seed: args.seed,
    };
    spec.validate().map_err(|e| super::flag_error(e, &[]))?;
    let device = select(BackendChoice::Cpu, &Probe::InProcess)?.device;
    // A field the engine blames (a result that would not be finite) is named as its flag.
    let r = gradcheck(&spec, &device).map_err(|e| match e {
        EngineError::Config(ConfigError::Field { key, message, .. }) => {
            super::flag_error(ValidationError::new(key, message), &[])
        }
        other => other.into(),
    })?;
    if args.json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Thm 3.1 check: teacher N({}, {}²), student x0 = {}·z + {}, σ = {}, {} in {:?} space{}, N = {}",
        spec.mu_q,
        spec.s_q,
        spec.a,
        spec.b,
        spec.sigma,
        distance.label(),
        spec.space,
        if spec.detach_dprime {
            ", d'(y) DETACHED"
        } else {
            ""
        },
        spec.samples
    );
    println!("            true gradient          SIM surrogate (autodiff)   rel. err   z");
    for (k, name) in ["∂/∂a", "∂/∂b"].iter().enumerate() {
        println!(
            "  {name}   {:>9.5} ± {:<8.5}   {:>9.5} ± {:<8.5}   {:>7.2}%   {:>6.1}",
            r.true_grad[k],
            r.std_err_true[k],
            r.surrogate_grad[k],
            r.std_err_surrogate[k],
            100.0 * r.rel_err[k],
            r.z_score[k]
        );
    }
    if r.agrees {
        println!("agree to Monte-Carlo error (|z| < 4): the theorem holds");
    } else {
        println!("DISAGREE beyond Monte-Carlo error (|z| ≥ 4)");
        if let Some(caveat) = distance.caveat() {
            println!("{caveat}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
