//! A safetensors file of named f32 tensors plus string metadata: networks (by parameter path,
//! under a prefix such as `generator.`), optimiser moments, and the facts needed to rebuild them.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::prelude::*;
use safetensors::tensor::{Dtype, TensorView};

use super::atomic::write_atomic;
use crate::error::{EngineError, Result};
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

    /// Reads a file; errors name the file and what is wrong with it.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| EngineError::io(path, e))?;
        let bad = |message: String| EngineError::File {
            path: path.to_owned(),
            message,
        };
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
            let values = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
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

    /// Loads `prefix` + path tensors into `module`, which must have the same architecture.
    pub fn load_module<M: Module>(&self, prefix: &str, module: M, device: &Device) -> Result<M> {
        let mut problems = Vec::new();
        let module = map_params(module, None, |path, value, _| {
            let name = format!("{prefix}{path}");
            match self.tensors.get(&name) {
                Some((_, values)) if values.len() == value.dims()[0] => {
                    Tensor::<1>::from_data(TensorData::new(values.clone(), [values.len()]), device)
                }
                Some((shape, _)) => {
                    problems.push(format!(
                        "`{name}` has shape {shape:?}, the network expects {} values",
                        value.dims()[0]
                    ));
                    value
                }
                None => {
                    problems.push(format!("`{name}` is missing"));
                    value
                }
            }
        });
        if problems.is_empty() {
            Ok(module)
        } else {
            Err(EngineError::File {
                path: self.origin.clone(),
                message: format!(
                    "does not fit this network ({}); check the net settings it was trained with",
                    problems.join("; ")
                ),
            })
        }
    }

    /// Restores Adam's moments and step count saved under `prefix`.
    pub fn load_adam(&self, prefix: &str, adam: &mut Adam, device: &Device) -> Result<()> {
        adam.steps =
            self.meta(&format!("{prefix}steps"))?
                .parse()
                .map_err(|e| EngineError::File {
                    path: self.origin.clone(),
                    message: format!("metadata `{prefix}steps`: {e}"),
                })?;
        adam.m.clear();
        adam.v.clear();
        for (name, (_, values)) in &self.tensors {
            let Some(rest) = name.strip_prefix(prefix) else {
                continue;
            };
            let t = Tensor::<1>::from_data(TensorData::new(values.clone(), [values.len()]), device);
            if let Some(path) = rest.strip_prefix("m.") {
                adam.m.insert(path.to_owned(), t);
            } else if let Some(path) = rest.strip_prefix("v.") {
                adam.v.insert(path.to_owned(), t);
            }
        }
        Ok(())
    }
}

/// The bytes of f32 values (little-endian on every platform Burn supports).
fn bytemuck_f32(values: &[f32]) -> &[u8] {
    bytemuck::cast_slice(values)
}
