//! `sim-workbench random-edm-teacher`: EDM's CIFAR-10 DDPM++ at its published shapes with
//! random weights, in the converted-teacher format, so that the paper's presets can be timed
//! (and their memory measured) where the published network is not at hand (bench/gpu-check.sh).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use sim_engine::nets::song_unet::SongUNetConfig;
use sim_engine::teacher::edm_file::save_random_edm_teacher;

#[derive(Args, Debug)]
pub struct RandomEdmTeacherArgs {
    /// The file to write (the `[teacher] kind = "edm"` path of a preset).
    out: PathBuf,
    /// The class-conditional shape (edm-cifar10-32x32-cond-vp's); default unconditional.
    #[arg(long)]
    conditional: bool,
    /// Seed of the weights.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

pub fn run(args: RandomEdmTeacherArgs) -> Result<ExitCode> {
    save_random_edm_teacher(
        &args.out,
        &SongUNetConfig::cifar10(args.conditional),
        args.seed,
    )?;
    let kind = if args.conditional {
        "conditional"
    } else {
        "unconditional"
    };
    println!(
        "wrote {}: EDM's CIFAR-10 DDPM++ ({kind}) with random weights, for timing only",
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
