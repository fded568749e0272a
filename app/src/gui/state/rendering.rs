//! How the window is rendered (on a GPU or on the CPU), and the redraw interval that follows
//! from it.
//!
//! A window painted on the CPU (Mesa's llvmpipe: Xvfb, a VM or a remote desktop without a GPU)
//! costs ~0.25 s of CPU per frame, which training loses; at one frame per 0.5 s the toy run trained
//! at ≈ 0.83× of headless, at one per 5 s at ≈ 0.98× (docs/performance.md).

use eframe::wgpu;

/// Redraw interval while training when a GPU paints the window: live curves at 2 Hz.
pub const HARDWARE_REFRESH_MS: u64 = 500;

/// Redraw interval while training when the CPU paints the window.
pub const SOFTWARE_REFRESH_MS: u64 = 5000;

/// The redraw intervals the status bar offers besides `auto`.
pub const REFRESH_CHOICES_MS: [u64; 6] = [100, 250, 500, 1000, 2000, 5000];

/// What kind of device renders the window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Rendering {
    /// A GPU, or a renderer whose kind is not known (tests).
    #[default]
    Hardware,
    /// A software rasteriser on the CPU.
    Software,
}

impl Rendering {
    /// The rendering of eframe's wgpu renderer: software when its adapter is a CPU device.
    pub fn of(cc: &eframe::CreationContext<'_>) -> Self {
        match &cc.wgpu_render_state {
            Some(state) if state.adapter.get_info().device_type == wgpu::DeviceType::Cpu => {
                Self::Software
            }
            _ => Self::Hardware,
        }
    }

    /// The redraw interval `auto` stands for.
    pub fn refresh_ms(self) -> u64 {
        match self {
            Self::Hardware => HARDWARE_REFRESH_MS,
            Self::Software => SOFTWARE_REFRESH_MS,
        }
    }

    /// The interval in force: the user's choice, else the rendering's.
    pub fn effective_refresh_ms(self, chosen: Option<u64>) -> u64 {
        chosen.unwrap_or(self.refresh_ms())
    }

    /// The status bar's name for `auto` with this rendering.
    pub fn auto_label(self) -> String {
        let seconds = format!("{:.2} s", self.refresh_ms() as f64 / 1e3);
        match self {
            Self::Hardware => format!("auto ({seconds})"),
            Self::Software => format!("auto ({seconds}, software painting)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn software_painting_redraws_ten_times_less_often_unless_the_user_chose() {
        assert_eq!(Rendering::Hardware.effective_refresh_ms(None), 500);
        assert_eq!(Rendering::Software.effective_refresh_ms(None), 5000);
        assert_eq!(Rendering::Software.effective_refresh_ms(Some(250)), 250);
        assert_eq!(
            Rendering::Software.auto_label(),
            "auto (5.00 s, software painting)"
        );
        assert_eq!(Rendering::Hardware.auto_label(), "auto (0.50 s)");
    }
}
