//! SIM Workbench's ground floor for untrusted input: everything that turns bytes from outside
//! (a data set, a safetensors file) or a size asked for (a batch, a layer width) into a value the
//! engine may trust — or into an error naming the file, the field and the fix.
//!
//! Layers, ground floor first: `validation` · `limits` · `images`, `tensors`. It depends on no
//! tensor library, so its decoders are property-tested and fuzzed (`fuzz/`) in seconds.

pub mod images;
pub mod limits;
pub mod tensors;
pub mod validation;
