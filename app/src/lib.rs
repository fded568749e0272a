//! SIM Workbench application: the pieces the binary's subcommands (and, next, the GUI) share.

pub mod presets;
