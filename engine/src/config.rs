//! `RunConfig`: every setting of a distillation run, as written in a preset (TOML).
//!
//! A preset states only what differs from the defaults: every struct is `#[serde(default)]`, and
//! every struct denies unknown fields, so a typo is an error naming the key, never ignored.
//! `--set key=value` overrides reach every field by its dotted path.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::data::DataConfig;
use crate::diffusion::sigma::SigmaDistribution;
use crate::distill::distance::Distance;
use crate::distill::objective::{Objective, Weighting};
use crate::error::ConfigError;

/// Everything that defines a run. Serialises to the run folder's `config.toml`, which is itself a
/// preset that reproduces the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// A short name; the run folder is `<name>-<timestamp>`.
    pub name: String,
    /// Master seed: every random draw of the run derives from it and the iteration number.
    pub seed: u64,
    /// Generator iterations to run.
    pub iterations: u64,
    /// The data set the teacher models: a 2-D toy set (`kind = "ring"`, …) or an image set
    /// (`kind = "digits"`, `"fashion_mnist"`, …; needs a U-Net teacher file).
    pub data: DataConfig,
    /// The teacher denoiser `D_q`.
    pub teacher: TeacherConfig,
    /// Shape of the MLPs θ (generator) and ψ (fake denoiser) of a toy run; image runs take the
    /// U-Net of the teacher file instead.
    pub net: NetConfig,
    /// The teacher-shaped initialisation of θ and ψ of a toy run with an exact teacher
    /// (SIM_SPEC §6); network teachers are copied instead.
    pub init: InitConfig,
    /// The distillation itself (SIM_SPEC §2–§3).
    pub distill: DistillConfig,
    /// Evaluation cadence and size (SIM_SPEC §4).
    pub eval: EvalConfig,
    /// Checkpoint cadence and divergence guard.
    pub checkpoint: CheckpointConfig,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            name: "default".into(),
            seed: 0,
            iterations: 2000,
            data: DataConfig::default(),
            teacher: TeacherConfig::default(),
            net: NetConfig::default(),
            init: InitConfig::default(),
            distill: DistillConfig::default(),
            eval: EvalConfig::default(),
            checkpoint: CheckpointConfig::default(),
        }
    }
}

/// Where the teacher denoiser comes from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TeacherConfig {
    /// The exact denoiser of a Gaussian-mixture data set (no network, no error).
    #[default]
    Exact,
    /// A trained network loaded from safetensors: an MLP from `sim-workbench train-teacher`
    /// for toy data, or an EDM U-Net from `sim-workbench train-image-teacher` for image data
    /// (its file records the U-Net's shape and classes: θ and ψ are copies of it, and the run
    /// is class-conditional exactly when the teacher is).
    Network {
        /// Path to the teacher's safetensors file (relative paths: to the working directory).
        path: PathBuf,
    },
}

/// The EDM-preconditioned MLP denoiser shared by teacher, generator and fake denoiser.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetConfig {
    /// Hidden units per layer.
    pub width: usize,
    /// Hidden layers.
    pub depth: usize,
    /// Fourier frequencies of the noise embedding of `c_noise` (sin and cos each).
    pub noise_frequencies: usize,
}

impl Default for NetConfig {
    /// 4 × 64 units: the MLP of NVlabs/edm2 `toy_example.py`.
    fn default() -> Self {
        Self {
            width: 64,
            depth: 4,
            noise_frequencies: 8,
        }
    }
}

/// Fitting an MLP to the teacher by denoising regression; θ and ψ both start from it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InitConfig {
    /// Adam steps of the fit.
    pub iterations: u64,
    /// Batch size of the fit.
    pub batch: usize,
    /// Learning rate of the fit (cosine-decayed to zero).
    pub lr: f64,
    /// Reuse a cached fit with the same data, teacher, net and fit settings.
    pub cache: bool,
}

impl Default for InitConfig {
    fn default() -> Self {
        Self {
            iterations: 4000,
            batch: 1024,
            lr: 3e-3,
            cache: true,
        }
    }
}

/// The distillation settings; all of these can change while a run is live (see `Tweak`),
/// except `batch`, `t_star` and `ema_half_life_kimg`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DistillConfig {
    /// Generator objective: SIM with a distance, SiD, or Diff-Instruct.
    pub objective: Objective,
    /// Distance `d` of SIM (3.7); ignored by SiD and Diff-Instruct.
    pub distance: Distance,
    /// Weighting `w(σ)` of the generator loss.
    pub weighting: Weighting,
    /// σ distribution of the generator phase (`p_G`).
    pub generator_sigma: SigmaDistribution,
    /// σ distribution of the fake-denoiser phase (B.5–B.6).
    pub fake_sigma: SigmaDistribution,
    /// Generator noise level `t*` (B.4): `g_θ(z) = D_θ(z; t*)`, `z ~ N(0, t*² I)`.
    pub t_star: f64,
    /// Samples per phase.
    pub batch: usize,
    /// Learning rate of the generator θ.
    pub lr_generator: f64,
    /// Learning rate of the fake denoiser ψ.
    pub lr_fake: f64,
    /// Adam β₂ (β₁ = 0, Table 5).
    pub adam_beta2: f64,
    /// Fake-denoiser updates per generator update (`k_ψ`).
    pub k_fake: u32,
    /// Half-life of the generator's EMA in thousands of generated samples.
    pub ema_half_life_kimg: f64,
}

impl Default for DistillConfig {
    fn default() -> Self {
        Self {
            objective: Objective::Sim,
            distance: Distance::default(),
            weighting: Weighting::NoWeight,
            generator_sigma: SigmaDistribution::Sim,
            fake_sigma: SigmaDistribution::Edm,
            t_star: 2.5,
            batch: 1024,
            lr_generator: 1e-4,
            lr_fake: 1e-4,
            adam_beta2: 0.999,
            k_fake: 1,
            ema_half_life_kimg: 20.0,
        }
    }
}

/// What is measured, how often, on how many samples.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvalConfig {
    /// Evaluate every this many iterations (and at 0 and at the end).
    pub every: u64,
    /// Samples of the EMA generator per evaluation.
    pub samples: usize,
    /// Heun steps of the teacher sampler: reference samples of a toy network teacher, and the
    /// teacher's own scores of an image run (`teacher_metrics`).
    pub teacher_steps: usize,
    /// Image runs: also score the teacher once at the start (Heun, `teacher_steps` steps, the
    /// same noise and labels as the student's `samples`), logged as `event: "teacher_eval"`, so
    /// the one-step student's FID has the multi-step teacher's next to it. Costs
    /// `2·teacher_steps − 1` network evaluations per sample.
    pub teacher_metrics: bool,
    /// Image runs: the classifier whose penultimate features and softmax give FID and IS (a
    /// file from `sim-workbench train-classifier`). Unset: the shipped one for the data
    /// (`assets/classifiers/digits-cnn.safetensors` for digits,
    /// `assets/classifiers/fashion-mnist-cnn.safetensors` for Fashion-MNIST). Relative paths
    /// are relative to the working directory.
    pub classifier: Option<PathBuf>,
    /// Write a sample snapshot (PNG) every this many iterations; 0 = only at the end.
    pub snapshot_every: u64,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            every: 100,
            samples: 4096,
            teacher_steps: 18,
            teacher_metrics: false,
            classifier: None,
            snapshot_every: 500,
        }
    }
}

/// Checkpoints and the divergence guard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CheckpointConfig {
    /// Write a checkpoint every this many iterations (and at the end); 0 = only at the end.
    pub every: u64,
    /// A generator loss or gradient norm above this (or NaN/Inf) counts as divergence.
    pub divergence_limit: f64,
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        Self {
            every: 500,
            divergence_limit: 1e6,
        }
    }
}

impl RunConfig {
    /// Reads a preset file, applies `key=value` overrides, and validates the result.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string(), overrides)
    }

    /// Parses preset text (`origin` names it in errors), applies overrides, validates.
    pub fn parse(text: &str, origin: &str, overrides: &[String]) -> Result<Self, ConfigError> {
        parse_validated(text, origin, overrides, Self::validate)
    }

    /// The resolved config as TOML (what the run folder's `config.toml` holds).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# unserialisable config: {e}\n"))
    }

    /// Checks ranges; the error names the dotted key and says what would be valid.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let d = &self.distill;
        positive(
            "distill.lr_generator",
            d.lr_generator,
            "a learning rate such as 1e-4",
        )?;
        positive("distill.lr_fake", d.lr_fake, "a learning rate such as 1e-4")?;
        positive("distill.t_star", d.t_star, "a noise level such as 2.5")?;
        positive(
            "distill.ema_half_life_kimg",
            d.ema_half_life_kimg,
            "e.g. 20",
        )?;
        positive("init.lr", self.init.lr, "a learning rate such as 3e-3")?;
        if !(0.0..1.0).contains(&d.adam_beta2) {
            return Err((
                "distill.adam_beta2",
                format!("must be in [0, 1), got {}", d.adam_beta2),
            ));
        }
        if d.batch == 0 {
            return Err(("distill.batch", "must be at least 1".into()));
        }
        if d.k_fake == 0 {
            return Err((
                "distill.k_fake",
                "must be at least 1 (k_ψ fake steps)".into(),
            ));
        }
        if self.init.batch == 0 {
            return Err(("init.batch", "must be at least 1".into()));
        }
        if self.net.width == 0 || self.net.depth == 0 {
            return Err(("net.width", "width and depth must be at least 1".into()));
        }
        if self.eval.samples < 2 {
            return Err((
                "eval.samples",
                "must be at least 2 (a covariance needs two)".into(),
            ));
        }
        if self.eval.every == 0 {
            return Err(("eval.every", "must be at least 1".into()));
        }
        if self.eval.teacher_steps < 2 {
            return Err(("eval.teacher_steps", "must be at least 2".into()));
        }
        positive(
            "checkpoint.divergence_limit",
            self.checkpoint.divergence_limit,
            "e.g. 1e6",
        )?;
        d.distance.validate().map_err(|m| ("distill.distance", m))?;
        d.generator_sigma
            .validate()
            .map_err(|m| ("distill.generator_sigma", m))?;
        d.fake_sigma
            .validate()
            .map_err(|m| ("distill.fake_sigma", m))?;
        if let Objective::Sid { alpha } = d.objective
            && !alpha.is_finite()
        {
            return Err(("distill.objective.alpha", "must be a finite number".into()));
        }
        self.data.validate().map_err(|m| ("data", m))?;
        match (&self.teacher, &self.data) {
            (TeacherConfig::Exact, DataConfig::Image(source)) => {
                return Err((
                    "teacher.kind",
                    format!(
                        "image data ({}) needs a trained U-Net teacher, not the exact teacher of \
                         the 2-D mixtures: set [teacher] kind = \"network\" and path = \
                         \"assets/teachers/digits-cond.safetensors\" (or a teacher from \
                         `sim-workbench train-image-teacher`)",
                        source.label()
                    ),
                ));
            }
            (TeacherConfig::Exact, DataConfig::Toy(data)) if data.mixture().is_none() => {
                return Err((
                    "teacher.kind",
                    "an exact teacher needs a Gaussian-mixture data set (ring, grid, mixture); \
                     train a network teacher for this data with `sim-workbench train-teacher`"
                        .into(),
                ));
            }
            _ => {}
        }
        Ok(())
    }
}

fn positive(key: &'static str, value: f64, hint: &str) -> Result<(), (&'static str, String)> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err((
            key,
            format!("must be a positive number ({hint}), got {value}"),
        ))
    }
}

/// Parses TOML `text` (`origin` names it in errors) as a `T`, with `key=value` overrides applied
/// first, then checks it with `validate`; every error names the origin and the key.
pub(crate) fn parse_validated<T: DeserializeOwned>(
    text: &str,
    origin: &str,
    overrides: &[String],
    validate: impl FnOnce(&T) -> Result<(), (&'static str, String)>,
) -> Result<T, ConfigError> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Parse {
        origin: origin.to_owned(),
        message: e.to_string(),
    })?;
    for item in overrides {
        apply_override(&mut table, item)?;
    }
    let value: T = serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
        ConfigError::Field {
            origin: origin.to_owned(),
            key: e.path().to_string(),
            message: e.into_inner().to_string(),
        }
    })?;
    validate(&value).map_err(|(key, message)| ConfigError::Field {
        origin: origin.to_owned(),
        key: key.to_owned(),
        message,
    })?;
    Ok(value)
}

/// Applies one `dotted.key=value` override. The value is read as a TOML value (`1e-4`, `true`,
/// `"l2"`, `{ kind = "huber", delta = 0.1 }`); a bare word that is not TOML is taken as a string.
/// Setting `kind` of a tagged table replaces the table, so parameters of the old kind don't linger.
pub fn apply_override(root: &mut toml::Table, item: &str) -> Result<(), ConfigError> {
    let bad = |message: &str| ConfigError::Override {
        item: item.to_owned(),
        message: message.to_owned(),
    };
    let (key, raw) = item
        .split_once('=')
        .ok_or_else(|| bad("expected key=value, e.g. distill.lr_generator=1e-4"))?;
    let key = key.trim();
    let raw = raw.trim();
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()));
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(bad("empty key segment"));
    }
    let (last, parents) = parts.split_last().ok_or_else(|| bad("empty key"))?;
    let mut table = root;
    for part in parents {
        let entry = table
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        // A tagged enum written as a bare string (`objective = "sim"`) becomes `{ kind = "sim" }`.
        if let toml::Value::String(kind) = entry {
            let mut t = toml::Table::new();
            t.insert("kind".into(), toml::Value::String(kind.clone()));
            *entry = toml::Value::Table(t);
        }
        table = entry
            .as_table_mut()
            .ok_or_else(|| bad(&format!("`{part}` is not a table")))?;
    }
    if *last == "kind" {
        table.clear();
    }
    table.insert(last.to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_through_toml() {
        let config = RunConfig::default();
        let parsed = RunConfig::parse(&config.to_toml(), "test", &[]).expect("parses");
        assert_eq!(parsed, config);
    }

    #[test]
    fn unknown_key_is_named() {
        let err = RunConfig::parse("[distill]\nlr_generatr = 1e-4\n", "p.toml", &[])
            .expect_err("typo must fail");
        let msg = err.to_string();
        assert!(
            msg.contains("p.toml") && msg.contains("lr_generatr"),
            "{msg}"
        );
    }

    #[test]
    fn wrong_type_names_the_key() {
        let err = RunConfig::parse("[distill]\nbatch = \"big\"\n", "p.toml", &[])
            .expect_err("wrong type must fail");
        let msg = err.to_string();
        assert!(msg.contains("distill.batch"), "{msg}");
    }

    #[test]
    fn negative_lr_names_the_key() {
        let err = RunConfig::parse("[distill]\nlr_fake = -1e-4\n", "p.toml", &[])
            .expect_err("negative lr must fail");
        assert!(err.to_string().contains("distill.lr_fake"), "{err}");
    }

    #[test]
    fn overrides_reach_nested_fields_and_replace_kinds() {
        let config = RunConfig::parse(
            "",
            "test",
            &[
                "distill.lr_generator=3e-4".into(),
                "distill.distance={ kind = \"huber\", delta = 0.2 }".into(),
                "distill.generator_sigma.kind=edm".into(),
                "name=sweep".into(),
            ],
        )
        .expect("overrides apply");
        assert_eq!(config.distill.lr_generator, 3e-4);
        assert_eq!(config.distill.distance, Distance::Huber { delta: 0.2 });
        assert_eq!(config.distill.generator_sigma, SigmaDistribution::Edm);
        assert_eq!(config.name, "sweep");
    }

    #[test]
    fn image_data_with_the_exact_teacher_names_the_field_and_the_fix() {
        let err = RunConfig::parse("[data]\nkind = \"digits\"\n", "p.toml", &[])
            .expect_err("digits need a network teacher")
            .to_string();
        assert!(
            err.contains("p.toml") && err.contains("teacher.kind"),
            "{err}"
        );
        assert!(
            err.contains("kind = \"network\"") && err.contains("path"),
            "{err}"
        );
        let ok = RunConfig::parse(
            "[data]\nkind = \"digits\"\n[teacher]\nkind = \"network\"\npath = \"t.safetensors\"\n",
            "p.toml",
            &[],
        )
        .expect("digits with a network teacher");
        assert_eq!(
            ok.data,
            DataConfig::Image(crate::data::images::ImageSource::Digits)
        );
        // `--set data.kind=…` switches worlds, dropping the old kind's fields.
        let switched = RunConfig::parse(
            "[teacher]\nkind = \"network\"\npath = \"t.safetensors\"\n",
            "p.toml",
            &["data.kind=fashion_mnist".into()],
        )
        .expect("override");
        assert!(switched.data.image().is_some());
    }

    #[test]
    fn override_without_equals_is_an_error() {
        assert!(RunConfig::parse("", "test", &["distill.batch".into()]).is_err());
    }
}
