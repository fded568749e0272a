//! `sim-workbench`: the SIM Workbench, GUI and command line (`cli`).

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
