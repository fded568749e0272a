//! The files shipped in `assets/` (see `assets/README.md` for how each was made), by path
//! relative to the working directory: the one place that names them.

/// The sklearn digits, 1,797 images of 8×8 with labels (CSV, gzipped).
pub const DIGITS_DATA: &str = "assets/digits/digits.csv.gz";
/// [`DIGITS_DATA`] itself, embedded in the binary (the digits work from any folder).
pub const DIGITS_CSV_GZ: &[u8] = include_bytes!("../../assets/digits/digits.csv.gz");
/// The class-conditional EDM U-Net teacher of the digits.
pub const DIGITS_TEACHER: &str = "assets/teachers/digits-cond.safetensors";
/// The class-conditional EDM U-Net teacher of Fashion-MNIST (28×28 padded to 32×32).
pub const FASHION_MNIST_TEACHER: &str = "assets/teachers/fashion-mnist-cond.safetensors";
/// The folder of the shipped teachers (where the teacher file dialog opens).
pub const TEACHERS_DIR: &str = "assets/teachers";
/// The CNN behind "FID (digits-CNN)" and "IS (digits-CNN)".
pub const DIGITS_CLASSIFIER: &str = "assets/classifiers/digits-cnn.safetensors";
/// The CNN behind "FID (fashion-mnist-CNN)" and "IS (fashion-mnist-CNN)".
pub const FASHION_MNIST_CLASSIFIER: &str = "assets/classifiers/fashion-mnist-cnn.safetensors";
