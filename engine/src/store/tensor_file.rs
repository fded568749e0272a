//! A safetensors file of named f32 tensors plus string metadata: networks (by parameter path,
//! under a prefix such as `generator.`), optimiser moments, and the facts needed to rebuild them.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::prelude::*;
use safetensors::tensor::{Dtype, TensorView};

use super::atomic::write_atomic;
use super::fnv1a;
use crate::error::{EngineError, Result};
use crate::optim::adam::Adam;
use crate::optim::params::{map_params, named_params};
use crate::tensor::host;
use sim_formats::limits;

/// Named host tensors and metadata, read from or bound for a `.safetensors` file.
#[derive(Clone, Debug, Default)]
pub struct TensorFile {
    tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    /// String metadata stored in the safetensors header.
    pub metadata: BTreeMap<String, String>,
    origin: PathBuf,
}

impl TensorFile {
    /// An empty file.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one tensor.
    pub fn insert(&mut self, name: String, shape: Vec<usize>, values: Vec<f32>) {
        self.tensors.insert(name, (shape, values));
    }

    /// Adds every parameter of `module` as `prefix` + path.
    pub fn insert_module<M: Module>(&mut self, prefix: &str, module: &M) -> Result<()> {
        for (path, t) in named_params(module) {
            self.insert(format!("{prefix}{path}"), t.shape, host(t.values)?);
        }
        Ok(())
    }

    /// Adds Adam's moments as `prefix` + `m.`/`v.` + path, and its step count as metadata.
    pub fn insert_adam(&mut self, prefix: &str, adam: &Adam) -> Result<()> {
        for (kind, map) in [("m", &adam.m), ("v", &adam.v)] {
            for (path, t) in map {
                let values = host(t.clone())?;
                self.insert(format!("{prefix}{kind}.{path}"), vec![values.len()], values);
            }
        }
        self.metadata
            .insert(format!("{prefix}steps"), adam.steps.to_string());
        Ok(())
    }

    /// Writes the file atomically, or nothing when a tensor holds NaN or ±inf
    /// ([`EngineError::NonFinite`]): a broken network never replaces a good file.
    pub fn write(&self, path: &Path) -> Result<()> {
        for (name, (_, values)) in &self.tensors {
            if let Some(index) = values.iter().position(|v| !v.is_finite()) {
                return Err(EngineError::NonFinite {
                    path: path.to_owned(),
                    tensor: name.clone(),
                    index,
                    value: values[index],
                });
            }
        }
        write_atomic(path, &self.encode(path)?)
    }

    /// The safetensors bytes of the file, whatever its values; `path` names it in errors.
    fn encode(&self, path: &Path) -> Result<Vec<u8>> {
        let views: Vec<(String, TensorView<'_>)> = self
            .tensors
            .iter()
            .map(|(name, (shape, values))| {
                TensorView::new(Dtype::F32, shape.clone(), bytemuck_f32(values))
                    .map(|v| (name.clone(), v))
            })
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| EngineError::File {
                path: path.to_owned(),
                message: format!("cannot encode tensor: {e}"),
            })?;
        let metadata: HashMap<String, String> = self.metadata.clone().into_iter().collect();
        safetensors::serialize(views, Some(metadata)).map_err(|e| EngineError::File {
            path: path.to_owned(),
            message: format!("cannot encode safetensors: {e}"),
        })
    }

    /// Reads a file, trusting nothing in it: it must be a regular file within
    /// [`limits::max_bytes`], a well-formed safetensors file of F32 tensors, and every value
    /// must be finite. Errors name the file, the tensor and what is wrong.
    pub fn read(path: &Path) -> Result<Self> {
        let bad = |message: String| EngineError::File {
            path: path.to_owned(),
            message,
        };
        limits::regular_file(path).map_err(bad)?;
        let bytes = std::fs::read(path).map_err(|e| EngineError::io(path, e))?;
        let parsed = sim_formats::tensors::parse(&bytes).map_err(bad)?;
        Ok(Self {
            tensors: parsed.tensors,
            metadata: parsed.metadata,
            origin: path.to_owned(),
        })
    }

    /// One tensor's shape and values, or an error naming the missing tensor.
    pub fn tensor(&self, name: &str) -> Result<(&[usize], &[f32])> {
        self.tensors
            .get(name)
            .map(|(shape, values)| (shape.as_slice(), values.as_slice()))
            .ok_or_else(|| EngineError::File {
                path: self.origin.clone(),
                message: format!("tensor `{name}` is missing"),
            })
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether it holds no tensor.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// The file it was read from (empty for a new one).
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    /// A hash of every tensor's name, shape and values (cache keys).
    pub fn fingerprint(&self) -> u64 {
        let mut bytes = Vec::new();
        for (name, (shape, values)) in &self.tensors {
            bytes.extend_from_slice(name.as_bytes());
            for d in shape {
                bytes.extend_from_slice(&(*d as u64).to_le_bytes());
            }
            for v in values {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
        }
        fnv1a(&bytes)
    }

    /// A metadata value, or an error naming the missing key.
    pub fn meta(&self, key: &str) -> Result<&str> {
        self.metadata
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| EngineError::File {
                path: self.origin.clone(),
                message: format!(
                    "metadata `{key}` is missing; was this file written by sim-workbench?"
                ),
            })
    }

    /// Loads `prefix` + path tensors into `module`, which must have the same architecture:
    /// every parameter present with exactly its shape, and no other tensor under `prefix` (the
    /// parts of one file — `generator.`, `ema.`, `adam_generator.` … — never nest).
    pub fn load_module<M: Module>(&self, prefix: &str, module: M, device: &Device) -> Result<M> {
        let expected: BTreeMap<String, Vec<usize>> = named_params(&module)
            .into_iter()
            .map(|(path, t)| (format!("{prefix}{path}"), t.shape))
            .collect();
        let mut problems: Vec<String> = expected
            .iter()
            .filter_map(|(name, shape)| match self.tensors.get(name) {
                None => Some(format!("`{name}` is missing")),
                Some((found, _)) if found != shape => Some(format!(
                    "`{name}` has shape {found:?}, the network expects {shape:?}"
                )),
                Some(_) => None,
            })
            .collect();
        problems.extend(
            self.tensors
                .keys()
                .filter(|name| name.starts_with(prefix) && !expected.contains_key(*name))
                .map(|name| format!("`{name}` is not a parameter of this network")),
        );
        if !problems.is_empty() {
            return Err(self.mismatch(&problems));
        }
        Ok(map_params(module, None, |path, _, _| {
            let values = &self.tensors[&format!("{prefix}{path}")].1;
            Tensor::<1>::from_data(TensorData::new(values.clone(), [values.len()]), device)
        }))
    }

    /// The error for tensors that do not fit the network being loaded.
    fn mismatch(&self, problems: &[String]) -> EngineError {
        const SHOWN: usize = 6;
        let more = match problems.len() > SHOWN {
            true => format!("; and {} more", problems.len() - SHOWN),
            false => String::new(),
        };
        EngineError::File {
            path: self.origin.clone(),
            message: format!(
                "does not fit this network ({}{more}); check the net settings it was trained \
                 with",
                problems[..problems.len().min(SHOWN)].join("; ")
            ),
        }
    }

    /// Restores Adam's moments and step count saved under `prefix` for the parameters of
    /// `module`: every moment must belong to a parameter and have its size, and once a step was
    /// taken every parameter must have its second moment (and its first, when β₁ > 0).
    pub fn load_adam<M: Module>(
        &self,
        prefix: &str,
        adam: &mut Adam,
        module: &M,
        device: &Device,
    ) -> Result<()> {
        let steps = self.meta(&format!("{prefix}steps"))?;
        // Adam's bias correction raises β to the step count as an `i32`.
        let max = i32::MAX as u64;
        adam.steps = match steps.parse::<u64>() {
            Ok(n) if n < max => n,
            Ok(n) => {
                return Err(EngineError::File {
                    path: self.origin.clone(),
                    message: format!(
                        "metadata `{prefix}steps` = {n}: at most {} Adam steps are supported; \
                         the checkpoint is damaged — resume from an earlier one",
                        max - 1
                    ),
                });
            }
            Err(e) => {
                return Err(EngineError::File {
                    path: self.origin.clone(),
                    message: format!("metadata `{prefix}steps` = {steps:?}: {e}"),
                });
            }
        };
        let sizes: BTreeMap<String, usize> = named_params(module)
            .into_iter()
            .map(|(path, t)| (path, t.shape.iter().product()))
            .collect();
        let mut problems = Vec::new();
        adam.m.clear();
        adam.v.clear();
        for (name, (_, values)) in &self.tensors {
            let Some(rest) = name.strip_prefix(prefix) else {
                continue;
            };
            let (moments, path) = match (rest.strip_prefix("m."), rest.strip_prefix("v.")) {
                (Some(path), _) => (&mut adam.m, path),
                (_, Some(path)) => (&mut adam.v, path),
                _ => {
                    problems.push(format!("`{name}` is not an Adam moment"));
                    continue;
                }
            };
            match sizes.get(path) {
                Some(&n) if n == values.len() => {
                    let t = TensorData::new(values.clone(), [n]);
                    moments.insert(path.to_owned(), Tensor::<1>::from_data(t, device));
                }
                Some(&n) => problems.push(format!(
                    "`{name}` has {} values, the parameter has {n}",
                    values.len()
                )),
                None => problems.push(format!("`{name}` is not the moment of a parameter")),
            }
        }
        if adam.steps > 0 {
            for path in sizes.keys() {
                if !adam.v.contains_key(path) {
                    problems.push(format!("`{prefix}v.{path}` is missing"));
                }
                if adam.beta1 > 0.0 && !adam.m.contains_key(path) {
                    problems.push(format!("`{prefix}m.{path}` is missing"));
                }
            }
        }
        match problems.is_empty() {
            true => Ok(()),
            false => Err(self.mismatch(&problems)),
        }
    }
}

/// The bytes of f32 values (little-endian on every platform Burn supports).
fn bytemuck_f32(values: &[f32]) -> &[u8] {
    bytemuck::cast_slice(values)
}

#[cfg(test)]
mod tests {
    //! Hostile files (docs/hostile-input.md's classes "untrusted metadata" and "non-finite values"), each
    //! generated from a good file by one edit and refused with the file and the tensor named.
    use super::*;
    use crate::nets::mlp::{MlpConfig, MlpDenoiser};
    use crate::rng::{Stream, rng_for};

    fn net(seed: u64, device: &Device) -> MlpDenoiser {
        let config = MlpConfig {
            width: 8,
            depth: 2,
            ..MlpConfig::default()
        };
        MlpDenoiser::new(&config, 2, 0.5, &mut rng_for(seed, 0, Stream::Init), device)
    }

    /// A good file with the network under `net.`, edited by `edit`, then written and read back
    /// and loaded into a fresh network: the error text, or `None` when it was accepted.
    fn load_edited(edit: impl FnOnce(&mut TensorFile)) -> Option<String> {
        let device = Device::flex();
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("net.safetensors");
        let mut file = TensorFile::new();
        file.insert_module("net.", &net(1, &device))
            .expect("insert");
        edit(&mut file);
        // Bytes as a hostile writer would leave them: `write` itself refuses non-finite values.
        std::fs::write(&path, file.encode(&path).expect("encode")).expect("write");
        let loaded = TensorFile::read(&path)
            .and_then(|f| f.load_module("net.", net(2, &device), &device).map(|_| ()));
        loaded.err().map(|e| {
            let text = e.to_string();
            assert!(text.contains("net.safetensors"), "names the file: {text}");
            text
        })
    }

    /// The name of the file's first matrix.
    fn first_weight(file: &TensorFile) -> String {
        let matrix = file.tensors.iter().find(|(_, (shape, _))| shape.len() == 2);
        matrix.expect("a weight matrix").0.clone()
    }

    #[test]
    fn a_good_file_loads_and_every_hostile_edit_is_refused_naming_the_tensor() {
        assert_eq!(load_edited(|_| {}), None);
        let reshaped = load_edited(|f| {
            let name = first_weight(f);
            let (shape, _) = f.tensors.get_mut(&name).expect("tensor");
            let n: usize = shape.iter().product();
            *shape = vec![n];
        })
        .expect("a reshaped tensor of the same element count is refused");
        assert!(reshaped.contains("has shape"), "{reshaped}");
        let extra = load_edited(|f| f.insert("net.hidden.9.weight".into(), vec![1], vec![0.0]))
            .expect("an extra tensor is refused");
        assert!(
            extra.contains("`net.hidden.9.weight` is not a parameter"),
            "{extra}"
        );
        let missing = load_edited(|f| {
            let name = first_weight(f);
            f.tensors.remove(&name);
        })
        .expect("a missing tensor is refused");
        assert!(missing.contains("is missing"), "{missing}");
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let text = load_edited(|f| {
                let name = first_weight(f);
                f.tensors.get_mut(&name).expect("tensor").1[3] = bad;
            })
            .expect("a non-finite weight is refused at read");
            assert!(text.contains("at index 3"), "{text}");
        }
    }

    #[test]
    fn a_non_finite_tensor_is_never_written_and_the_old_file_stays() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("teacher.safetensors");
        let mut file = TensorFile::new();
        file.insert("w".into(), vec![3], vec![1.0, 2.0, 3.0]);
        file.write(&path).expect("a finite file is written");
        let good = std::fs::read(&path).expect("read");
        file.insert("w".into(), vec![3], vec![1.0, f32::NAN, 3.0]);
        let err = file.write(&path).expect_err("NaN refused");
        assert!(
            matches!(err, EngineError::NonFinite { index: 1, .. }),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("teacher.safetensors: not written: tensor `w`")
        );
        assert_eq!(
            std::fs::read(&path).expect("read"),
            good,
            "the old file is untouched"
        );
    }

    #[test]
    fn adam_moments_must_match_the_parameters() {
        let device = Device::flex();
        let module = net(1, &device);
        let sizes: Vec<(String, usize)> = named_params(&module)
            .into_iter()
            .map(|(p, t)| (p, t.shape.iter().product()))
            .collect();
        let good = || {
            let mut f = TensorFile::new();
            for (path, n) in &sizes {
                f.insert(format!("adam.v.{path}"), vec![*n], vec![0.5; *n]);
            }
            f.metadata.insert("adam.steps".into(), "3".into());
            f
        };
        let load =
            |f: TensorFile| f.load_adam("adam.", &mut Adam::new(0.0, 0.999), &module, &device);
        assert!(load(good()).is_ok());
        let mut missing = good();
        let (first, n) = &sizes[0];
        missing.tensors.remove(&format!("adam.v.{first}"));
        let err = load(missing).expect_err("missing moment").to_string();
        assert!(err.contains("is missing"), "{err}");
        let mut short = good();
        short.insert(format!("adam.v.{first}"), vec![n - 1], vec![0.5; n - 1]);
        let err = load(short).expect_err("wrong size").to_string();
        assert!(err.contains(&format!("the parameter has {n}")), "{err}");
        let mut stray = good();
        stray.insert("adam.v.nowhere".into(), vec![1], vec![0.5]);
        let err = load(stray).expect_err("stray moment").to_string();
        assert!(err.contains("not the moment of a parameter"), "{err}");
        let mut bogus = good();
        bogus.metadata.insert("adam.steps".into(), "-1".into());
        let err = load(bogus).expect_err("bad steps").to_string();
        assert!(err.contains("adam.steps"), "{err}");
    }

    #[test]
    fn read_refuses_what_is_not_a_regular_safetensors_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = TensorFile::read(dir.path())
            .expect_err("a directory")
            .to_string();
        assert!(err.contains("a directory"), "{err}");
        let junk = dir.path().join("junk.safetensors");
        std::fs::write(&junk, u64::MAX.to_le_bytes()).expect("write");
        let err = TensorFile::read(&junk)
            .expect_err("a huge header")
            .to_string();
        assert!(err.contains("not a safetensors file"), "{err}");
    }
}
