//! Backend choice (docs/platform.md "Backends"): the wgpu backend for a real GPU, the `flex` CPU
//! backend otherwise. A software Vulkan device (llvmpipe) counts as no GPU: it is ~20× slower
//! than `flex` (docs/platform.md).

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

/// Which backend to run on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendChoice {
    /// wgpu when a hardware adapter exists, else the CPU.
    #[default]
    Auto,
    /// Burn's `flex` CPU backend.
    Cpu,
    /// Burn's wgpu backend on the best adapter (fails without one).
    Gpu,
}

/// The chosen autodiff device and a description for the status bar.
#[derive(Clone, Debug)]
pub struct SelectedDevice {
    /// The device (autodiff-enabled).
    pub device: Device,
    /// E.g. "cpu (flex)" or "gpu (NVIDIA H100, Vulkan)".
    pub description: String,
}

/// The first hardware (non-CPU) adapter, as "name, API".
pub fn hardware_adapter() -> Option<String> {
    let instance = wgpu::Instance::default();
    let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    adapters
        .iter()
        .map(wgpu::Adapter::get_info)
        .find(|info| info.device_type != wgpu::DeviceType::Cpu)
        .map(|info| format!("{}, {:?}", info.name, info.backend))
}

/// Resolves a choice to a device.
pub fn select(choice: BackendChoice) -> Result<SelectedDevice> {
    let cpu = || SelectedDevice {
        device: Device::flex().autodiff(),
        description: "cpu (flex)".into(),
    };
    match choice {
        BackendChoice::Cpu => Ok(cpu()),
        BackendChoice::Gpu => match hardware_adapter() {
            Some(name) => Ok(SelectedDevice {
                device: Device::wgpu(Default::default()).autodiff(),
                description: format!("gpu ({name})"),
            }),
            None => Err(EngineError::Invalid(
                "--backend gpu: no hardware GPU adapter found (software Vulkan does not count); \
                 use --backend cpu"
                    .into(),
            )),
        },
        BackendChoice::Auto => Ok(match hardware_adapter() {
            Some(name) => SelectedDevice {
                device: Device::wgpu(Default::default()).autodiff(),
                description: format!("gpu ({name})"),
            },
            None => cpu(),
        }),
    }
}
