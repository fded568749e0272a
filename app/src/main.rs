//! `sim-workbench`: the SIM Workbench, GUI and command line (`cli`).

mod cli;
mod exit_check;

/// mimalloc instead of the system allocator: an iteration allocates and frees hundreds of
/// tensors of ~0.1–1 MB, which glibc's malloc serves from fresh pages (mmap above its threshold,
/// heap trimming below), so page faults and zeroing took ~10 % of the toy iteration; mimalloc
/// reuses them (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let code = cli::main();
    exit_check::verify();
    code
}
