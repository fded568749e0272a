//! What the window holds: the runs, the draft, the settings and options, and the one reducer
//! that changes them (`workbench`).

pub mod dialog;
pub mod export;
pub mod preparation;
pub mod rendering;
pub mod run_list;
pub mod settings;
pub mod workbench;
