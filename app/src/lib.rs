//! SIM Workbench application: the GUI and the pieces it shares with the CLI.

pub mod gui;
pub mod presets;
pub mod probe;
