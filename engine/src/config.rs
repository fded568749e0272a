//! `RunConfig`: every setting of a distillation run, as written in a preset (TOML).
//!
//! A preset states only what differs from the defaults: every struct is `#[serde(default)]`, and
//! every struct denies unknown fields, so a typo is an error naming the key, never ignored.
//! `--set key=value` overrides reach every field by its dotted path (`crate::preset`). Each
//! table's struct lives beside the module it configures (`DistillConfig` in `distill::config`,
//! `MlpConfig` in `nets::mlp`, `TeacherConfig` in `teacher`, `InitConfig` in `teacher::fit`);
//! this file holds the run's own tables (`[eval]`, `[checkpoint]`) and the whole.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::DataConfig;
use crate::diffusion::sampler::MAX_STEPS;
use crate::distill::config::DistillConfig;
use crate::error::ConfigError;
use crate::nets::mlp::MlpConfig;
use crate::preset::parse_validated;
use crate::teacher::TeacherConfig;
use crate::teacher::fit::InitConfig;
use sim_formats::limits;
use sim_formats::validation::{ValidationError, count, positive};

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
    pub net: MlpConfig,
    /// The teacher-shaped initialisation of θ and ψ of a toy run with an exact teacher
    /// (docs/algorithm.md §6); network teachers are copied instead.
    pub init: InitConfig,
    /// The distillation itself (docs/algorithm.md §2–§3).
    pub distill: DistillConfig,
    /// Evaluation cadence and size (docs/algorithm.md §4).
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
            net: MlpConfig::default(),
            init: InitConfig::default(),
            distill: DistillConfig::default(),
            eval: EvalConfig::default(),
            checkpoint: CheckpointConfig::default(),
        }
    }
}

/// What is measured, how often, on how many samples.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvalConfig {
    /// Evaluate every this many iterations (and at 0 and at the end).
    pub every: u64,
    /// Also evaluate ten times as often during the first `every` iterations (`every ≥ 10`),
    /// where the curves change fastest: at 10, 20, … 90 with `every = 100`.
    pub early: bool,
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
    /// Read the diagnostics of the generator phase (docs/algorithm.md §7) every this many
    /// iterations, from the iteration's own tensors; 0 = never.
    pub diagnostics_every: u64,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            every: 100,
            early: true,
            samples: 4096,
            teacher_steps: 18,
            teacher_metrics: false,
            classifier: None,
            snapshot_every: 500,
            diagnostics_every: 50,
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
    /// Reads a preset file (or a run folder's `config.toml`), applies `key=value` overrides, and
    /// validates the result. The file must be a regular file within the [`limits`] and hold at
    /// least one setting: an empty file is refused, never read as the all-defaults run.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self, ConfigError> {
        let io = |source| ConfigError::Io {
            path: path.to_owned(),
            source,
        };
        limits::regular_file(path).map_err(|message| io(std::io::Error::other(message)))?;
        let text = std::fs::read_to_string(path).map_err(io)?;
        let origin = path.display().to_string();
        if text
            .parse::<toml::Table>()
            .is_ok_and(|table| table.is_empty())
        {
            return Err(ConfigError::Parse {
                origin,
                message: "holds no settings (empty, or comments only); a preset names at least \
                          its `name`, and a run folder's config.toml is written whole by its run \
                          — restore it or start again from a preset in presets/"
                    .into(),
            });
        }
        Self::parse(&text, &origin, overrides)
    }

    /// Parses preset text (`origin` names it in errors), applies overrides, validates.
    pub fn parse(text: &str, origin: &str, overrides: &[String]) -> Result<Self, ConfigError> {
        parse_validated(text, origin, overrides, Self::validate)
    }

    /// The resolved config as TOML (what the run folder's `config.toml` holds).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# unserialisable config: {e}\n"))
    }

    /// What decides the kernels a run of this config compiles (`Run::prepare`): the config but
    /// for its name, seed and number of iterations, as TOML.
    pub fn shape(&self) -> String {
        let mut shape = self.clone();
        shape.name.clear();
        shape.seed = 0;
        shape.iterations = 1;
        shape.to_toml()
    }

    /// Checks ranges; the error names the dotted key and says what would be valid.
    pub fn validate(&self) -> Result<(), ValidationError> {
        self.distill.validate().map_err(|e| e.within("distill"))?;
        self.init.validate().map_err(|e| e.within("init"))?;
        self.net.validate().map_err(|e| e.within("net"))?;
        self.eval.validate().map_err(|e| e.within("eval"))?;
        positive(
            "checkpoint.divergence_limit",
            self.checkpoint.divergence_limit,
            "e.g. 1e6",
        )?;
        self.data.validate().map_err(|e| e.within("data"))?;
        self.teacher.validate_for(&self.data)
    }
}

/// Most samples of one evaluation (FID / IS of a million images is already far past need).
pub const MAX_EVAL_SAMPLES: usize = 1_000_000;

impl EvalConfig {
    /// Whether the EMA generator is evaluated after iteration `step` (the end of a run is
    /// evaluated whatever this says).
    pub fn is_due(&self, step: u64) -> bool {
        let early = self.every / 10;
        step.is_multiple_of(self.every)
            || (self.early && early > 0 && step < self.every && step.is_multiple_of(early))
    }

    /// Whether iteration `step` (counted from 1) reads the generator phase's diagnostics.
    pub fn diagnoses(&self, step: u64) -> bool {
        self.diagnostics_every > 0 && step.is_multiple_of(self.diagnostics_every)
    }

    /// Checks ranges; the key is relative to `[eval]`.
    pub fn validate(&self) -> Result<(), ValidationError> {
        // Two samples at least: a covariance needs two.
        count("samples", self.samples as u64, 2, MAX_EVAL_SAMPLES as u64)?;
        count("every", self.every, 1, u64::MAX)?;
        count(
            "teacher_steps",
            self.teacher_steps as u64,
            2,
            MAX_STEPS as u64,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diffusion::sigma::SigmaDistribution;
    use crate::distill::distance::Distance;

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

    #[test]
    fn an_empty_or_irregular_file_is_refused_never_the_all_defaults_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let empty = dir.path().join("config.toml");
        for text in ["", "\n  \n", "# only a comment\n"] {
            std::fs::write(&empty, text).expect("write");
            let err = RunConfig::load(&empty, &[]).expect_err("empty").to_string();
            assert!(
                err.contains("config.toml") && err.contains("holds no settings"),
                "{err}"
            );
        }
        let err = RunConfig::load(dir.path(), &[])
            .expect_err("a dir")
            .to_string();
        assert!(err.contains("not a regular file (a directory)"), "{err}");
        std::fs::write(&empty, "name = \"x\"\n").expect("write");
        assert_eq!(RunConfig::load(&empty, &[]).expect("one setting").name, "x");
    }
}
