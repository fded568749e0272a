//! Plot helpers: the curves, readable axes, seed bands, markers, smoothing, downsampling,
//! image grids and figures drawn off-screen.

pub mod axes;
pub mod band;
pub mod curves;
pub mod downsample;
pub mod figure;
pub mod grid;
pub mod markers;
pub mod smoothing;
