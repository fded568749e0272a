//! The integration tests, one module a concern, in one test binary: each binary links Burn,
//! wgpu and eframe, so one binary instead of seven saves six links of a large executable.

mod auto_backend;
mod diagnostics;
mod edm;
mod end_to_end;
mod gradcheck;
mod gui;
mod gui_trust;
mod image_distill;
mod image_teacher;
mod inception;
mod kernels;
mod layers;
mod pool;
mod presets;
mod sampler;
