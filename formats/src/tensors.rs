//! The safetensors container, read as untrusted: a well-formed header, F32 tensors only, every
//! value finite. What the tensors must be (names, shapes) is the reader's schema, checked by
//! whoever knows it (the engine's `TensorFile`).

use std::collections::BTreeMap;

use safetensors::SafeTensors;
use safetensors::tensor::Dtype;

/// The tensors (name → shape and row-major values) and string metadata of one file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tensors {
    /// Every tensor by name.
    pub tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    /// The header's `__metadata__`.
    pub metadata: BTreeMap<String, String>,
}

/// Parses the bytes of a safetensors file. The error says what is wrong (which tensor, which
/// index) for the caller to attach to the file's path.
pub fn parse(bytes: &[u8]) -> Result<Tensors, String> {
    let not_safetensors = |e| format!("not a safetensors file ({e}); was it truncated?");
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(not_safetensors)?;
    let st = SafeTensors::deserialize(bytes).map_err(not_safetensors)?;
    let mut out = Tensors {
        metadata: meta
            .metadata()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        ..Tensors::default()
    };
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(format!(
                "tensor `{name}` is {:?}, expected F32",
                view.dtype()
            ));
        }
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
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
