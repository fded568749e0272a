//! A safetensors file of named f32 tensors plus string metadata: networks (by parameter path,
//! under a prefix such as `generator.`), optimiser moments, and the facts needed to rebuild them.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::prelude::*;
use safetensors::tensor::{Dtype, TensorView};

use super::atomic::write_atomic;
use crate::error::{EngineError, Result};
use crate::limits;
use crate::optim::adam::Adam;
use crate::optim::params::{map_params, named_params};
use crate::tensor::host;

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

    /// Writes the file atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
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
        let bytes =
            safetensors::serialize(views, Some(metadata)).map_err(|e| EngineError::File {
                path: path.to_owned(),
                message: format!("cannot encode safetensors: {e}"),
            })?;
        write_atomic(path, &bytes)
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
        let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes)
            .map_err(|e| bad(format!("not a safetensors file ({e}); was it truncated?")))?;
        let st = safetensors::SafeTensors::deserialize(&bytes)
            .map_err(|e| bad(format!("not a safetensors file ({e}); was it truncated?")))?;
        let mut out = Self {
            metadata: meta
                .metadata()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
            origin: path.to_owned(),
            ..Self::default()
        };
        for (name, view) in st.tensors() {
            if view.dtype() != Dtype::F32 {
                return Err(bad(format!(
                    "tensor `{name}` is {:?}, expected F32",
                    view.dtype()
                )));
            }
            let values: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            if let Some(index) = values.iter().position(|v| !v.is_finite()) {
                return Err(bad(format!(
                    "tensor `{name}` holds {} at index {index}; the file is damaged or was \
                     written by a run that diverged — use an earlier checkpoint or retrain",
                    values[index]
                )));
            }
            out.insert(name, view.shape().to_vec(), values);
        }
        Ok(out)
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
        adam.steps = steps.parse().map_err(|e| EngineError::File {
            path: self.origin.clone(),
            message: format!("metadata `{prefix}steps` = {steps:?}: {e}"),
        })?;
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
