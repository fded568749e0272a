//! Backend choice (docs/platform.md "Backends"): the wgpu backend for a real GPU, the `flex` CPU
//! backend otherwise. A software Vulkan device (llvmpipe) counts as no GPU: it is ~20× slower
//! than `flex` (docs/platform.md).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

/// Which backend to run on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendChoice {
    /// CUDA where the build has it and it works, else wgpu on a hardware adapter, else the CPU.
    #[default]
    Auto,
    /// Burn's `flex` CPU backend.
    Cpu,
    /// Burn's wgpu backend on the best adapter, a software one included (fails without any).
    Gpu,
    /// Burn's CUDA backend on the first NVIDIA GPU: a build with the `cuda` feature, and the
    /// NVIDIA driver at run time (fails without it).
    Cuda,
}

/// The `api` of the adapter that stands for CUDA in a list of [`adapters`] (a build with the
/// `cuda` feature, where a kernel compiled and ran on device 0).
pub const CUDA_API: &str = "Cuda";

/// The chosen autodiff device and a description for the status bar.
#[derive(Clone, Debug)]
pub struct SelectedDevice {
    /// The device (autodiff-enabled).
    pub device: Device,
    /// E.g. "cpu (flex)" or "gpu (NVIDIA H200, DiscreteGpu, Vulkan, NVIDIA 550.54)".
    pub description: String,
    /// Whether its kernels run on the CPU, on the engine's rayon pool (`crate::pool`).
    pub on_cpu: bool,
}

/// A wgpu adapter, as plain data: what `sim-workbench devices` lists and the status bar names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adapter {
    /// E.g. "NVIDIA H200" or "llvmpipe (LLVM 15.0.6, 256 bits)".
    pub name: String,
    /// Discrete, integrated, virtual or CPU (a software rasteriser).
    pub kind: String,
    /// The graphics API wgpu drives it through (Vulkan, Metal, Dx12, Gl).
    pub api: String,
    /// Driver name and version.
    pub driver: String,
    /// Whether it is a real GPU (not a software rasteriser such as llvmpipe).
    pub hardware: bool,
}

impl Adapter {
    /// "NVIDIA H200, DiscreteGpu, Vulkan, NVIDIA 550.54": the status bar's words.
    pub fn describe(&self) -> String {
        let mut parts = vec![self.name.clone(), self.kind.clone(), self.api.clone()];
        if !self.driver.trim().is_empty() {
            parts.push(self.driver.clone());
        }
        parts.join(", ")
    }
}

/// What a device's allocator holds, as plain data for the status bar and `bench`. GPU backends
/// report it; the CPU backend does not. wgpu has no safe query of a GPU's total memory, so this
/// is what the engine uses, not what the card has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceMemory {
    /// Bytes of live tensors.
    pub in_use: u64,
    /// Bytes the allocator has reserved on the device (at least `in_use`; pages kept for reuse).
    pub reserved: u64,
    /// The most bytes the allocator has held reserved at once since the device was created: the
    /// high-water mark of its paged pools (the most pages each ever held, not a sample) plus
    /// what the other pools hold now (they give nothing back but under memory pressure).
    pub peak: u64,
}

impl DeviceMemory {
    /// The allocator's state of `device`; `None` on the CPU backend. On a GPU this waits for
    /// the queued work (a read-back): ask for it now and then, not every iteration.
    pub fn of(device: &Device) -> Option<Self> {
        let usage = device.memory_pool_usage()?;
        let pages_since_peak: u64 = device
            .memory_pool_report()
            .unwrap_or_default()
            .iter()
            .map(|pool| pool.page_size * pool.pages_peak.saturating_sub(pool.pages))
            .sum();
        Some(Self {
            in_use: usage.bytes_in_use,
            reserved: usage.bytes_reserved,
            peak: usage.bytes_reserved + pages_since_peak,
        })
    }

    /// "1.24 GiB in use, 1.50 GiB reserved, peak 2.00 GiB".
    pub fn describe(&self) -> String {
        format!(
            "{} in use, {} reserved, peak {}",
            bytes(self.in_use),
            bytes(self.reserved),
            bytes(self.peak)
        )
    }
}

/// A byte count in MiB below 1 GiB (one decimal below 10 MiB), in GiB above.
fn bytes(n: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    let mib = n as f64 / MIB;
    if mib < 10.0 {
        format!("{mib:.1} MiB")
    } else if mib < 1024.0 {
        format!("{mib:.0} MiB")
    } else {
        format!("{:.2} GiB", mib / 1024.0)
    }
}

/// Every adapter wgpu finds, hardware first (the order `select` prefers them in), enumerated
/// in this process: this loads the Vulkan, EGL and X libraries here, and some keep state per
/// thread and threads of their own. A program that may end up on the CPU asks a [`Probe`].
pub fn adapters() -> Vec<Adapter> {
    let instance = wgpu::Instance::default();
    let found = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    let mut list: Vec<Adapter> = found
        .iter()
        .map(wgpu::Adapter::get_info)
        .map(|info| Adapter {
            hardware: info.device_type != wgpu::DeviceType::Cpu,
            kind: format!("{:?}", info.device_type),
            api: format!("{:?}", info.backend),
            driver: format!("{} {}", info.driver, info.driver_info)
                .trim()
                .to_owned(),
            name: info.name,
        })
        .collect();
    #[cfg(feature = "cuda")]
    list.extend(cuda_adapter(&list));
    // Hardware first, CUDA first among it.
    list.sort_by_key(|a| (!a.hardware, a.api != CUDA_API));
    list
}

/// CUDA as an adapter, when a kernel compiles (CubeCL's LLVM, to PTX) and runs on CUDA device
/// 0: the NVIDIA driver (`libcuda`) loads and has a device. Its absence panics inside Burn's
/// CUDA runtime; the panic is caught here, in the adapter probe's child process
/// (`Probe::Child`), which ends with it.
#[cfg(feature = "cuda")]
fn cuda_adapter(wgpu_adapters: &[Adapter]) -> Option<Adapter> {
    let works = std::panic::catch_unwind(|| {
        let device = Device::cuda(0);
        let x = Tensor::<1>::from_floats([1.0, 2.0], &device);
        (x.clone() + x).try_into_vec_as::<f32>().ok() == Some(vec![2.0, 4.0])
    });
    if works.as_ref().is_ok_and(|ok| *ok) {
        // The name wgpu gives the same card (its vendor id is NVIDIA's).
        let nvidia = wgpu_adapters
            .iter()
            .find(|a| a.hardware && a.name.contains("NVIDIA"));
        Some(Adapter {
            name: nvidia.map_or_else(|| "CUDA device 0".into(), |a| a.name.clone()),
            kind: nvidia.map_or_else(|| "DiscreteGpu".into(), |a| a.kind.clone()),
            api: CUDA_API.into(),
            driver: "CUDA driver, PTX by CubeCL's LLVM".into(),
            hardware: true,
        })
    } else {
        tracing::info!("CUDA is not usable here (no NVIDIA driver or device): not offered");
        None
    }
}

/// How long a [`Probe::Child`] may take before it counts as failed (a hung driver).
const PROBE_TIMEOUT: Duration = Duration::from_secs(60);

/// Where [`select`] learns which adapters exist.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Probe {
    /// [`adapters`] in this process (the tests, and library users).
    #[default]
    InProcess,
    /// A child process — `program` with `args`, which prints [`adapters`] as one JSON array on
    /// stdout — so that the drivers are loaded, and unloaded, in a process of its own: a run
    /// that ends up on the CPU never loads them, and nothing they leave behind can run at this
    /// program's exit. What the child prints on stderr (a driver's complaint about a missing
    /// display) is dropped. Asked once per process.
    Child {
        /// The program, e.g. this executable.
        program: PathBuf,
        /// Its arguments, e.g. `devices --json`.
        args: Vec<String>,
    },
}

impl Probe {
    /// The adapters, hardware first. A child that fails to report (it cannot start, crashes
    /// before printing, or hangs) is an error naming it.
    pub fn adapters(&self) -> Result<Vec<Adapter>> {
        match self {
            Self::InProcess => Ok(adapters()),
            Self::Child { program, args } => {
                static FOUND: OnceLock<std::result::Result<Vec<Adapter>, String>> = OnceLock::new();
                FOUND
                    .get_or_init(|| probe_child(program, args))
                    .clone()
                    .map_err(EngineError::Invalid)
            }
        }
    }
}

/// The adapters this build can run on, in the probe's order: CUDA's only in a build with the
/// `cuda` feature (a probe may be another executable).
fn usable(found: Vec<Adapter>) -> impl Iterator<Item = Adapter> {
    found
        .into_iter()
        .filter(|a| a.api != CUDA_API || cfg!(feature = "cuda"))
}

/// CUDA device 0 (an adapter only in a build with the `cuda` feature: [`usable`]).
#[cfg(feature = "cuda")]
fn cuda_device() -> Device {
    Device::cuda(0)
}

/// Without the `cuda` feature no adapter is CUDA's ([`usable`]), so this is never asked for.
#[cfg(not(feature = "cuda"))]
fn cuda_device() -> Device {
    unreachable!("no CUDA adapter is usable in a build without the `cuda` feature")
}

/// Runs a [`Probe::Child`] and reads its list. Its exit status is not looked at once the list
/// is whole: whatever happens in a driver at the child's exit stays there.
fn probe_child(program: &Path, args: &[String]) -> std::result::Result<Vec<Adapter>, String> {
    let what = format!(
        "the adapter probe `{} {}`",
        program.display(),
        args.join(" ")
    );
    let mut child = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("{what} could not start: {e}"))?;
    let started = Instant::now();
    while child
        .try_wait()
        .map_err(|e| format!("{what}: {e}"))?
        .is_none()
    {
        if started.elapsed() > PROBE_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "{what} did not answer within {} s (a hung GPU driver?)",
                PROBE_TIMEOUT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        stdout
            .read_to_string(&mut out)
            .map_err(|e| format!("{what}: {e}"))?;
    }
    serde_json::from_str(out.trim()).map_err(|e| {
        format!(
            "{what} did not print its list of adapters ({e}); `sim-workbench devices` shows \
             what the driver says"
        )
    })
}

/// Resolves a choice to a device. `Auto` takes wgpu only on a hardware adapter; `Gpu` takes
/// the best adapter there is, a software one too (said so in the description) except in a
/// `vulkan` build, and fails when wgpu finds none. `Cpu` asks `probe` nothing.
pub fn select(choice: BackendChoice, probe: &Probe) -> Result<SelectedDevice> {
    let cpu = |why: &str| SelectedDevice {
        device: Device::flex().autodiff(),
        description: format!("cpu (flex){why}"),
        on_cpu: true,
    };
    let gpu = |adapter: &Adapter| SelectedDevice {
        device: if adapter.api == CUDA_API {
            cuda_device()
        } else {
            Device::wgpu(Default::default())
        }
        .autodiff(),
        description: format!(
            "{} ({})",
            if adapter.api == CUDA_API {
                "cuda"
            } else {
                "gpu"
            },
            adapter.describe()
        ),
        on_cpu: false,
    };
    match choice {
        BackendChoice::Cpu => Ok(cpu("")),
        BackendChoice::Cuda => match usable(probe.adapters()?).find(|a| a.api == CUDA_API) {
            Some(adapter) => Ok(gpu(&adapter)),
            None if cfg!(feature = "cuda") => Err(EngineError::Invalid(
                "--backend cuda: CUDA does not work here: no NVIDIA driver (libcuda) or no NVIDIA \
                 GPU; `sim-workbench devices` lists what works, --backend gpu runs on Vulkan"
                    .into(),
            )),
            None => Err(EngineError::Invalid(
                "--backend cuda: this build has no CUDA backend; build with `--features \
                 sim-workbench/cuda` (docs/guide.md, \"NVIDIA GPUs\"), or use --backend gpu"
                    .into(),
            )),
        },
        BackendChoice::Gpu => match usable(probe.adapters()?).find(|a| a.api != CUDA_API) {
            Some(adapter) if adapter.hardware || !cfg!(feature = "vulkan") => Ok(gpu(&adapter)),
            // The `vulkan` feature's SPIR-V kernels crash Mesa's software Vulkan driver
            // (docs/platform.md "On a GPU").
            Some(adapter) => Err(EngineError::Invalid(format!(
                "--backend gpu: the only adapter is a software one ({}), and this build (feature \
                 `vulkan`) compiles SPIR-V kernels, which crash Mesa's software Vulkan driver; \
                 use --backend cpu, or a build without the feature",
                adapter.describe()
            ))),
            None => Err(EngineError::Invalid(
                "--backend gpu: wgpu finds no adapter (no Vulkan, Metal, DX12 or GL driver); \
                 use --backend cpu, or install the GPU's Vulkan driver"
                    .into(),
            )),
        },
        BackendChoice::Auto => match probe.adapters() {
            Ok(found) => Ok(usable(found)
                .find(|a| a.hardware)
                .map_or_else(|| cpu(", auto: no hardware GPU adapter"), |a| gpu(&a))),
            Err(e) => {
                tracing::warn!("{e}; running on the CPU");
                Ok(cpu(", auto: the adapter probe failed"))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_memory_in_mib_then_gib_and_none_on_the_cpu() {
        let m = DeviceMemory {
            in_use: 300 * 1024 * 1024,
            reserved: 3 * 1024 * 1024 * 1024 / 2,
            peak: 2 * 1024 * 1024 * 1024,
        };
        assert_eq!(
            m.describe(),
            "300 MiB in use, 1.50 GiB reserved, peak 2.00 GiB"
        );
        let small = DeviceMemory {
            in_use: 300 * 1024,
            reserved: 20 * 1024 * 1024,
            peak: 20 * 1024 * 1024,
        };
        assert_eq!(
            small.describe(),
            "0.3 MiB in use, 20 MiB reserved, peak 20 MiB"
        );
        assert_eq!(DeviceMemory::of(&Device::flex().autodiff()), None);
    }
}
