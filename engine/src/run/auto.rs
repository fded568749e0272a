//! `--backend auto` between a hardware GPU and the CPU (docs/platform.md, "auto"): the device
//! on which the run as configured is expected to end first — the GPU's preparation (compiling
//! and tuning kernels) plus its iterations, against the CPU's iterations — from a short
//! calibration of both, kept per adapter and run shape in the cache, so it is paid once.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::{RunOptions, World, build_world};
use crate::config::RunConfig;
use crate::data::DataConfig;
use crate::device::{BackendChoice, SelectedDevice, select};
use crate::error::Result;
use crate::pool::warm;
use crate::store::atomic::write_atomic;
use crate::store::fnv1a;

/// The file under the cache folder that keeps calibrations.
const FILE: &str = "calibration.json";

/// The largest batch an image run's CPU calibration iterates; its time is scaled to the run's
/// batch (a U-Net's CPU time grows in proportion to the batch).
const CPU_IMAGE_BATCH: usize = 8;

/// What a calibration measured of one run shape on one adapter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Seconds to prepare the GPU: the first iteration, which compiles and tunes its kernels.
    pub gpu_prepare_s: f64,
    /// Seconds per iteration on the GPU once prepared.
    pub gpu_s: f64,
    /// Seconds per iteration on the CPU (scaled from a smaller batch for images).
    pub cpu_s: f64,
}

impl Calibration {
    /// Expected seconds of `iterations` iterations: (on the GPU, preparation included; on the
    /// CPU).
    pub fn expected(&self, iterations: u64) -> (f64, f64) {
        let n = iterations as f64;
        (self.gpu_prepare_s + n * self.gpu_s, n * self.cpu_s)
    }

    /// Whether the GPU is expected to end first (a tie goes to the CPU, which loads no driver).
    pub fn prefers_gpu(&self, iterations: u64) -> bool {
        let (gpu, cpu) = self.expected(iterations);
        gpu < cpu
    }

    /// "auto: expected 3.2 min here (preparing 12 s, then 21 ms/it) against 41 min on the CPU
    /// (310 ms/it)", or the same from the CPU's side.
    pub fn reason(&self, iterations: u64) -> String {
        let (gpu, cpu) = self.expected(iterations);
        let gpu_side = format!(
            "{} on the GPU (preparing {}, then {}/it)",
            duration(gpu),
            duration(self.gpu_prepare_s),
            duration(self.gpu_s)
        );
        let cpu_side = format!("{} on the CPU ({}/it)", duration(cpu), duration(self.cpu_s));
        if self.prefers_gpu(iterations) {
            format!("auto: expected {gpu_side} against {cpu_side}")
        } else {
            format!("auto: expected {cpu_side} against {gpu_side}")
        }
    }
}

/// "41 ms", "12.3 s", "3.2 min", "2.5 h".
fn duration(seconds: f64) -> String {
    if seconds < 1.0 {
        format!("{:.0} ms", seconds * 1e3)
    } else if seconds < 60.0 {
        format!("{seconds:.1} s")
    } else if seconds < 7200.0 {
        format!("{:.1} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}

/// Calibrations by key ([`key`]), as the cache file holds them.
type Calibrations = BTreeMap<String, Calibration>;

/// The key of a run shape (`RunConfig::shape`) on an adapter (its description).
fn key(config: &RunConfig, adapter: &str) -> String {
    format!(
        "{:016x}",
        fnv1a(format!("{adapter}\n{}", config.shape()).as_bytes())
    )
}

/// The calibrations kept in `cache_dir`; none when the file is missing or unreadable (a damaged
/// file is measured again and rewritten, with a warning).
fn read(cache_dir: &Path) -> Calibrations {
    let path = cache_dir.join(FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Calibrations::new();
    };
    serde_json::from_str(&text).unwrap_or_else(|e| {
        tracing::warn!("{}: {e}; calibrating again", path.display());
        Calibrations::new()
    })
}

/// Between `gpu` (a hardware adapter `select` chose for `auto`) and the CPU, the device on
/// which `config` is expected to end first, its description naming the reason. Calibrates
/// when the cache holds nothing for this shape and adapter (`progress` says so), and keeps
/// the result there.
pub(super) fn choose(
    config: &RunConfig,
    options: &RunOptions,
    gpu: SelectedDevice,
    progress: &mut dyn FnMut(&str, f32),
) -> Result<SelectedDevice> {
    let cached = options.cache_dir.as_deref().map(read).unwrap_or_default();
    let key = key(config, &gpu.description);
    let calibration = match cached.get(&key) {
        Some(calibration) => calibration.clone(),
        None => {
            progress(
                "auto: timing this run on the GPU and on the CPU (once per run shape)",
                0.0,
            );
            let calibration = calibrate(config, options, &gpu.device, progress)?;
            if let Some(dir) = &options.cache_dir {
                let mut all = cached;
                all.insert(key, calibration.clone());
                let text = serde_json::to_string_pretty(&all).unwrap_or_default();
                if let Err(e) = write_atomic(&dir.join(FILE), text.as_bytes()) {
                    tracing::warn!("the calibration is not kept: {e}");
                }
            }
            calibration
        }
    };
    let reason = calibration.reason(config.iterations);
    let chosen = if calibration.prefers_gpu(config.iterations) {
        gpu
    } else {
        select(BackendChoice::Cpu, &options.probe)?
    };
    Ok(SelectedDevice {
        description: format!("{}, {reason}", chosen.description),
        ..chosen
    })
}

/// Times `config`'s iteration: on the GPU `device`, the first (preparation) and the second;
/// on the CPU, the second at the run's batch (toys) or at [`CPU_IMAGE_BATCH`], scaled (images).
fn calibrate(
    config: &RunConfig,
    options: &RunOptions,
    device: &Device,
    progress: &mut dyn FnMut(&str, f32),
) -> Result<Calibration> {
    let gpu = build_world(config, options, device, None, progress)?;
    let gpu_prepare_s = timed(|| gpu.distillation().rehearse(config, 0, device));
    let gpu_s = timed(|| gpu.distillation().rehearse(config, 1, device));
    drop(gpu);
    progress("auto: timing this run on the CPU", 0.5);
    let mut small = config.clone();
    let scale = match config.data {
        DataConfig::Toy(_) => 1.0,
        DataConfig::Image(_) => {
            small.distill.batch = config.distill.batch.min(CPU_IMAGE_BATCH);
            small.distill.micro_batches = 1;
            config.distill.batch as f64 / small.distill.batch as f64
        }
    };
    let cpu_device = Device::flex().autodiff();
    let cpu = build_world(&small, options, &cpu_device, None, progress)?;
    let cpu_s = cpu_seconds(cpu.as_ref(), &small, &cpu_device) * scale;
    progress("auto: timing this run on the CPU", 1.0);
    Ok(Calibration {
        gpu_prepare_s,
        gpu_s,
        cpu_s,
    })
}

/// Seconds of the second of two rehearsed iterations of `world` on the CPU (the first pays for
/// allocations), on the warm pool as a run's are.
fn cpu_seconds(world: &dyn World, config: &RunConfig, device: &Device) -> f64 {
    warm(|| {
        world.distillation().rehearse(config, 0, device);
        timed(|| world.distillation().rehearse(config, 1, device))
    })
}

/// Seconds `f` took. A rehearsal reads its losses back, so a GPU's queue is drained by then.
fn timed(f: impl FnOnce()) -> f64 {
    let started = Instant::now();
    f();
    started.elapsed().as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expected wall times add the preparation to the GPU's side only; the choice flips
    /// where they cross, and the reason names both sides, the chosen one first.
    #[test]
    fn auto_chooses_by_expected_wall_time() {
        let calibration = Calibration {
            gpu_prepare_s: 30.0,
            gpu_s: 0.01,
            cpu_s: 0.04,
        };
        // 30 + 0.01 n < 0.04 n  ⇔  n > 1000.
        assert_eq!(calibration.expected(1000), (40.0, 40.0));
        assert!(!calibration.prefers_gpu(1000), "a tie goes to the CPU");
        assert!(calibration.prefers_gpu(1001));
        assert!(!calibration.prefers_gpu(10));
        assert_eq!(
            calibration.reason(8000),
            "auto: expected 1.8 min on the GPU (preparing 30.0 s, then 10 ms/it) against 5.3 min \
             on the CPU (40 ms/it)"
        );
        assert!(
            calibration
                .reason(10)
                .starts_with("auto: expected 400 ms on the CPU")
        );
        assert_eq!(duration(9000.0), "2.5 h");
    }

    /// Calibrations are kept by adapter and run shape: a run differing in name, seed or length
    /// shares one, another batch or adapter does not; a damaged file reads as empty.
    #[test]
    fn calibrations_are_kept_by_adapter_and_shape() {
        let config = RunConfig::default();
        let mut other = config.clone();
        other.name = "other".into();
        other.seed += 1;
        other.iterations += 5;
        assert_eq!(key(&config, "gpu (A)"), key(&other, "gpu (A)"));
        assert_ne!(key(&config, "gpu (A)"), key(&config, "gpu (B)"));
        other.distill.batch += 1;
        assert_ne!(key(&config, "gpu (A)"), key(&other, "gpu (A)"));
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(read(dir.path()).is_empty());
        std::fs::write(dir.path().join(FILE), "{ not json").expect("write");
        assert!(read(dir.path()).is_empty());
        let mut all = Calibrations::new();
        let calibration = Calibration {
            gpu_prepare_s: 1.5,
            gpu_s: 0.25,
            cpu_s: 2.0,
        };
        all.insert(key(&config, "gpu (A)"), calibration.clone());
        std::fs::write(
            dir.path().join(FILE),
            serde_json::to_string(&all).expect("json"),
        )
        .expect("write");
        assert_eq!(
            read(dir.path()).get(&key(&other, "gpu (A)")),
            None,
            "another batch"
        );
        assert_eq!(
            read(dir.path()).get(&key(&config, "gpu (A)")),
            Some(&calibration)
        );
    }

    /// The CPU side of a calibration measures a real iteration: positive and finite, and on
    /// the toy default no slower than a second (it takes milliseconds).
    #[test]
    fn the_cpu_side_times_a_real_iteration() {
        let mut config = RunConfig::default();
        config.distill.batch = 64;
        // The teacher-shaped start of θ and ψ, fitted briefly (not what is timed).
        config.init.iterations = 20;
        config.init.batch = 64;
        let options = RunOptions {
            backend: crate::device::BackendChoice::Cpu,
            ..RunOptions::default()
        };
        let device = Device::flex().autodiff();
        let world = build_world(&config, &options, &device, None, &mut |_, _| {}).expect("world");
        let seconds =
            crate::pool::on_own_pool(move || cpu_seconds(world.as_ref(), &config, &device));
        assert!(
            seconds.is_finite() && seconds > 0.0 && seconds < 1.0,
            "{seconds}"
        );
    }
}
