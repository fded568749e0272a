//! `sim-workbench devices`: the wgpu adapters this machine offers, and what each `--backend`
//! would run on.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use sim_engine::device::{BackendChoice, adapters, select};

#[derive(Args, Debug)]
pub struct DevicesArgs {}

pub fn run(_: DevicesArgs) -> Result<ExitCode> {
    let found = adapters();
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
    ] {
        match select(choice) {
            Ok(selected) => println!("--backend {flag}: {}", selected.description),
            // The engine's message starts with the flag.
            Err(e) => println!("{e}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}
