//! The safetensors container, read as untrusted: a well-formed header, tensors of one value
//! type only (F32 for networks, F64 for statistics), every value finite. What the tensors must be (names, shapes) is the reader's schema, checked by
//! whoever knows it (the engine's `TensorFile`).

use std::collections::BTreeMap;

use safetensors::SafeTensors;
use safetensors::tensor::Dtype;

/// The tensors (name → shape and row-major values) and string metadata of one file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tensors<T = f32> {
    /// Every tensor by name.
    pub tensors: BTreeMap<String, (Vec<usize>, Vec<T>)>,
    /// The header's `__metadata__`.
    pub metadata: BTreeMap<String, String>,
}

/// A value type a file may hold: `f32` (networks) or `f64` (statistics).
pub trait Value: Copy + std::fmt::Display {
    /// Its safetensors dtype.
    const DTYPE: Dtype;
    /// Decodes one little-endian value from `size_of::<Self>()` bytes.
    fn from_le(bytes: &[u8]) -> Self;
    /// Whether it is neither NaN nor ±inf.
    fn finite(self) -> bool;
}

impl Value for f32 {
    const DTYPE: Dtype = Dtype::F32;
    fn from_le(b: &[u8]) -> Self {
        f32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
    fn finite(self) -> bool {
        self.is_finite()
    }
}

impl Value for f64 {
    const DTYPE: Dtype = Dtype::F64;
    fn from_le(b: &[u8]) -> Self {
        f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    }
    fn finite(self) -> bool {
        self.is_finite()
    }
}

/// Parses the bytes of a safetensors file of F32 tensors. The error says what is wrong (which
/// tensor, which index) for the caller to attach to the file's path.
pub fn parse(bytes: &[u8]) -> Result<Tensors, String> {
    parse_as(bytes)
}

/// As [`parse`], for tensors of the value type `T` (every tensor must be `T::DTYPE`).
pub fn parse_as<T: Value>(bytes: &[u8]) -> Result<Tensors<T>, String> {
    let not_safetensors = |e| format!("not a safetensors file ({e}); was it truncated?");
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(not_safetensors)?;
    let st = SafeTensors::deserialize(bytes).map_err(not_safetensors)?;
    let mut out = Tensors {
        tensors: BTreeMap::new(),
        metadata: meta
            .metadata()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
    };
    for (name, view) in st.tensors() {
        if view.dtype() != T::DTYPE {
            return Err(format!(
                "tensor `{name}` is {:?}, expected {:?}",
                view.dtype(),
                T::DTYPE
            ));
        }
        let values: Vec<T> = view
            .data()
            .chunks_exact(size_of::<T>())
            .map(T::from_le)
            .collect();
        if let Some(index) = values.iter().position(|v| !v.finite()) {
            return Err(format!(
                "tensor `{name}` holds {} at index {index}; the file is damaged or was written \
                 by a run that diverged — use an earlier checkpoint or retrain",
                values[index]
            ));
        }
        out.tensors.insert(name, (view.shape().to_vec(), values));
    }
    Ok(out)
}
