//! `sim-workbench devices`: the wgpu adapters this machine offers, and what each `--backend`
//! would run on. With `--json`, the adapters alone, found in this process: the child process
//! that every other command asks (`sim_workbench::probe`).

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use sim_engine::device::{BackendChoice, adapters, select};
use sim_workbench::probe::adapter_probe;

#[derive(Args, Debug)]
pub struct DevicesArgs {
    /// Print the adapters as one JSON array (what the other commands' adapter probe reads).
    #[arg(long)]
    json: bool,
}

pub fn run(args: DevicesArgs) -> Result<ExitCode> {
    if args.json {
        println!("{}", serde_json::to_string(&adapters())?);
        return Ok(ExitCode::SUCCESS);
    }
    let probe = adapter_probe();
    let found = probe.adapters()?;
    if found.is_empty() {
        println!("wgpu finds no adapter");
    }
    for adapter in &found {
        let what = if adapter.hardware {
            "hardware"
        } else {
            "software"
        };
        println!("{what}: {}", adapter.describe());
    }
    for (flag, choice) in [
        ("auto", BackendChoice::Auto),
        ("cpu", BackendChoice::Cpu),
        ("gpu", BackendChoice::Gpu),
        ("cuda", BackendChoice::Cuda),
    ] {
        match select(choice, &probe) {
            Ok(selected) => println!("--backend {flag}: {}", selected.description),
            // The engine's message starts with the flag.
            Err(e) => println!("{e}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}
