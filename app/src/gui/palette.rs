//! Colours shared by the panels.

use eframe::egui::Color32;

/// Errors and divergence.
pub const ERROR: Color32 = Color32::from_rgb(220, 60, 60);
/// Teacher samples and scores.
pub const TEACHER: Color32 = Color32::from_rgb(150, 150, 150);
/// Fake-denoiser scores.
pub const FAKE: Color32 = Color32::from_rgb(240, 150, 40);
/// Mixture contours.
pub const CONTOUR: Color32 = Color32::from_rgb(90, 170, 110);

/// Distinct run colours, cycled.
const RUNS: [Color32; 8] = [
    Color32::from_rgb(70, 130, 240),
    Color32::from_rgb(230, 90, 70),
    Color32::from_rgb(60, 180, 90),
    Color32::from_rgb(190, 110, 220),
    Color32::from_rgb(230, 170, 40),
    Color32::from_rgb(40, 190, 200),
    Color32::from_rgb(200, 120, 90),
    Color32::from_rgb(140, 140, 60),
];

/// The colour of run number `i`.
pub fn run_color(i: usize) -> Color32 {
    RUNS[i % RUNS.len()]
}
