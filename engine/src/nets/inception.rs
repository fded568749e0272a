//! The FID Inception-v3: the feature network of the standard FID (the TensorFlow 2015-12-05
//! Inception as the common PyTorch FID tools port it: pytorch-fid's `FIDInceptionA/C/E` on
//! torchvision's `Inception3`), loaded from a file made by `tools/inception_to_safetensors.py`
//! (docs/edm-teachers.md). It gives the pool3 features (2048) of FID and the 1008 logits of IS.
//!
//! Images are resized to 299 × 299 (bilinear, half-pixel centres, as PyTorch's `interpolate`
//! with `align_corners = False`), then: three 3×3 convolutions and a max pool, a 1×1 and a 3×3
//! convolution and a max pool, `Mixed_5b…5d` (A), `6a` (B), `6b…6e` (C), `7a` (D), `7b`, `7c` (E,
//! the last with a max pool in its pool branch), a global mean, and `fc`. Every convolution is
//! torchvision's `BasicConv2d` (no bias, batch norm with ε = 0.001, ReLU); the batch norms are
//! folded into the convolutions when the file is read.

use std::path::Path;

use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::module::{avg_pool2d, conv2d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions, MaxPoolOptions};

use crate::error::{EngineError, Result};
use crate::store::tensor_file::TensorFile;

/// `format` metadata of a converted FID Inception.
pub const INCEPTION_FORMAT: &str = "sim-workbench fid-inception-v3 v1";

/// The command that makes such a file, for error messages.
pub const INCEPTION_CONVERTER: &str =
    "python tools/inception_to_safetensors.py pt_inception-2015-12-05-6726825d.pth OUT.safetensors";

/// The side the network's input is resized to.
pub const INPUT_SIDE: usize = 299;

/// Classes of the logits (the TensorFlow graph's 1008).
pub const CLASSES: usize = 1008;

/// ε of torchvision's `BasicConv2d` batch norm.
const BN_EPS: f64 = 1e-3;

/// A convolution with its batch norm folded in, then ReLU.
#[derive(Debug)]
struct BasicConv {
    weight: Tensor<4>,
    bias: Tensor<1>,
    options: ConvOptions<2>,
}

impl BasicConv {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        relu(conv2d(
            x,
            self.weight.clone(),
            Some(self.bias.clone()),
            self.options.clone(),
        ))
    }
}

/// Reads the file's tensors by name, once each.
struct Reader<'a> {
    file: &'a TensorFile,
    used: usize,
    device: &'a Device,
    /// The file's width divisor: every channel count but the image's 3 is divided by it.
    divisor: usize,
}

/// One `BasicConv2d` as torchvision's `Inception3` defines it, at full width: name, input and
/// output channels, kernel `[h, w]`, stride, padding `[h, w]`.
type Spec<'a> = (&'a str, usize, usize, [usize; 2], usize, [usize; 2]);

impl Reader<'_> {
    fn tensor(&mut self, name: &str) -> Result<(Vec<usize>, Vec<f32>)> {
        let (shape, values) = self.file.tensor(name)?;
        self.used += 1;
        Ok((shape.to_vec(), values.to_vec()))
    }

    /// The convolution of `spec` under `prefix`: `….conv.weight`, exactly of the spec's shape at
    /// the file's width, with `….bn.*` folded in: `w·γ/√(var + ε)` and `β − mean·γ/√(var + ε)`.
    fn basic(&mut self, prefix: &str, spec: Spec) -> Result<BasicConv> {
        let (part, c_in, c_out, kernel, stride, padding) = spec;
        let name = if prefix.is_empty() {
            part.to_owned()
        } else {
            format!("{prefix}.{part}")
        };
        let narrow = |c: usize| if c == 3 { c } else { c / self.divisor };
        let expected = [narrow(c_out), narrow(c_in), kernel[0], kernel[1]];
        let (shape, mut w) = self.tensor(&format!("{name}.conv.weight"))?;
        if shape != expected {
            return Err(self.bad(format!(
                "{name}.conv.weight has shape {shape:?}, the FID Inception at width 1/{} has \
                 {expected:?}",
                self.divisor
            )));
        }
        let out = expected[0];
        let bn = |me: &mut Self, part: &str| -> Result<Vec<f32>> {
            let (s, v) = me.tensor(&format!("{name}.bn.{part}"))?;
            if s != [out] {
                return Err(me.bad(format!("{name}.bn.{part} has shape {s:?}, not [{out}]")));
            }
            Ok(v)
        };
        let (gamma, beta) = (bn(self, "weight")?, bn(self, "bias")?);
        let (mean, var) = (bn(self, "running_mean")?, bn(self, "running_var")?);
        // A variance below 0 would fold into NaN weights: the features would be NaN, not the
        // images' fault.
        if let Some(o) = var.iter().position(|&v| v < 0.0) {
            return Err(self.bad(format!(
                "{name}.bn.running_var holds {} at index {o}; a variance is ≥ 0",
                var[o]
            )));
        }
        let per = w.len() / out;
        let mut bias = Vec::with_capacity(out);
        for o in 0..out {
            let scale = f64::from(gamma[o]) / (f64::from(var[o]) + BN_EPS).sqrt();
            for v in &mut w[o * per..(o + 1) * per] {
                *v = (f64::from(*v) * scale) as f32;
            }
            bias.push((f64::from(beta[o]) - f64::from(mean[o]) * scale) as f32);
        }
        if w.iter().chain(&bias).any(|v| !v.is_finite()) {
            return Err(self.bad(format!(
                "{name}: the batch normalisation folded into the convolution overflows f32 (its \
                 weight / √running_var is too large)"
            )));
        }
        Ok(BasicConv {
            weight: Tensor::from_data(TensorData::new(w, shape), self.device),
            bias: Tensor::from_data(TensorData::new(bias, [out]), self.device),
            options: ConvOptions::new([stride, stride], padding, [1, 1], 1),
        })
    }

    /// The convolutions of `specs` under `prefix`, in order.
    fn chain(&mut self, prefix: &str, specs: &[Spec]) -> Result<Vec<BasicConv>> {
        specs.iter().map(|&spec| self.basic(prefix, spec)).collect()
    }

    fn bad(&self, message: String) -> EngineError {
        EngineError::File {
            path: self.file.origin().to_owned(),
            message: format!("{message}; convert the weights again with `{INCEPTION_CONVERTER}`"),
        }
    }
}

/// The pool branch of a block: a 3×3 mean that leaves out the padding (A, C, E), or a 3×3 max
/// (the last E block: a quirk of the TensorFlow graph that FID keeps).
#[derive(Clone, Copy, Debug)]
enum Pool {
    Mean,
    Max,
}

impl Pool {
    fn apply(self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Self::Mean => avg_pool2d(
                x,
                AvgPoolOptions::new([3, 3])
                    .with_stride([1, 1])
                    .with_padding([1, 1])
                    .with_count_include_pad(false),
            ),
            Self::Max => max_pool2d(
                x,
                MaxPoolOptions::new([3, 3])
                    .with_stride([1, 1])
                    .with_padding([1, 1]),
            ),
        }
    }
}

/// A 3×3 max pool of stride 2 (no padding).
fn max_pool_s2(x: Tensor<4>) -> Tensor<4> {
    max_pool2d(x, MaxPoolOptions::new([3, 3]).with_stride([2, 2]))
}

/// One Inception block: its branches, each a chain of convolutions (a pool first where the
/// branch starts with one), concatenated along the channels.
#[derive(Debug)]
struct Block {
    branches: Vec<Branch>,
}

#[derive(Debug)]
enum Branch {
    /// Convolutions in a chain.
    Chain(Vec<BasicConv>),
    /// A chain, then convolutions side by side on its output (the E blocks' 1×3 and 3×1).
    Split(Vec<BasicConv>, Vec<BasicConv>),
    /// A pool, then a chain (empty: the pool alone, as in B and D).
    Pooled(PoolKind, Vec<BasicConv>),
}

#[derive(Clone, Copy, Debug)]
enum PoolKind {
    Same(Pool),
    /// The stride-2 3×3 max pool of the reduction blocks B and D.
    Reduce,
}

impl Block {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let chain = |convs: &[BasicConv], x: Tensor<4>| convs.iter().fold(x, |h, c| c.forward(h));
        let outs = self
            .branches
            .iter()
            .flat_map(|branch| match branch {
                Branch::Chain(convs) => vec![chain(convs, x.clone())],
                Branch::Split(convs, sides) => {
                    let h = chain(convs, x.clone());
                    sides.iter().map(|side| side.forward(h.clone())).collect()
                }
                Branch::Pooled(kind, convs) => {
                    let pooled = match kind {
                        PoolKind::Same(pool) => pool.apply(x.clone()),
                        PoolKind::Reduce => max_pool_s2(x.clone()),
                    };
                    vec![chain(convs, pooled)]
                }
            })
            .collect();
        Tensor::cat(outs, 1)
    }
}

/// The FID Inception-v3 (see the module doc), on the device it was loaded on, without autodiff.
#[derive(Debug)]
pub struct FidInception {
    stem: Vec<(BasicConv, bool)>,
    blocks: Vec<Block>,
    fc_weight: Tensor<2>,
    fc_bias: Tensor<1>,
    features: usize,
    fingerprint: u64,
    width_divisor: usize,
}

impl FidInception {
    /// Reads a converted file. Errors name the file and the tensor or field at fault, and the
    /// converter; a missing file names the converter.
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        if !path.exists() {
            return Err(EngineError::File {
                path: path.to_owned(),
                message: format!(
                    "does not exist. The FID Inception weights cannot be shipped or downloaded \
                     here: get pt_inception-2015-12-05-6726825d.pth (pytorch-fid's FID weights) \
                     where you can and convert it once with `{INCEPTION_CONVERTER}`"
                ),
            });
        }
        let file = TensorFile::read(path)?;
        Self::from_file(&file, device)
    }

    /// The network in an already read file (see [`FidInception::load`]).
    pub fn from_file(file: &TensorFile, device: &Device) -> Result<Self> {
        let mut r = Reader {
            file,
            used: 0,
            device,
            divisor: 1,
        };
        let format = file.meta("format")?;
        if format != INCEPTION_FORMAT {
            return Err(r.bad(format!(
                "is a `{format}` file, not the FID Inception (`{INCEPTION_FORMAT}`)"
            )));
        }
        let width_divisor: usize = file
            .meta("width_divisor")?
            .parse()
            .map_err(|e| r.bad(format!("metadata `width_divisor`: {e}")))?;
        if !matches!(width_divisor, 1 | 2 | 4 | 8 | 16) {
            return Err(r.bad(format!(
                "metadata `width_divisor` is {width_divisor}; the network is 1 (the real one) or \
                 2, 4, 8, 16 (test fixtures)"
            )));
        }
        r.divisor = width_divisor;
        let stem = vec![
            (
                r.basic("", ("Conv2d_1a_3x3", 3, 32, [3, 3], 2, [0, 0]))?,
                false,
            ),
            (
                r.basic("", ("Conv2d_2a_3x3", 32, 32, [3, 3], 1, [0, 0]))?,
                false,
            ),
            (
                r.basic("", ("Conv2d_2b_3x3", 32, 64, [3, 3], 1, [1, 1]))?,
                true,
            ),
            (
                r.basic("", ("Conv2d_3b_1x1", 64, 80, [1, 1], 1, [0, 0]))?,
                false,
            ),
            (
                r.basic("", ("Conv2d_4a_3x3", 80, 192, [3, 3], 1, [0, 0]))?,
                true,
            ),
        ];
        let blocks = vec![
            block_a(&mut r, "Mixed_5b", 192, 32)?,
            block_a(&mut r, "Mixed_5c", 256, 64)?,
            block_a(&mut r, "Mixed_5d", 288, 64)?,
            block_b(&mut r, "Mixed_6a", 288)?,
            block_c(&mut r, "Mixed_6b", 128)?,
            block_c(&mut r, "Mixed_6c", 160)?,
            block_c(&mut r, "Mixed_6d", 160)?,
            block_c(&mut r, "Mixed_6e", 192)?,
            block_d(&mut r, "Mixed_7a")?,
            block_e(&mut r, "Mixed_7b", 1280, Pool::Mean)?,
            block_e(&mut r, "Mixed_7c", 2048, Pool::Max)?,
        ];
        let (w_shape, w) = r.tensor("fc.weight")?;
        let (b_shape, b) = r.tensor("fc.bias")?;
        let features = 2048 / width_divisor;
        if w_shape != [CLASSES, features] || b_shape != [CLASSES] {
            return Err(r.bad(format!(
                "fc has shapes {w_shape:?} and {b_shape:?}, not [{CLASSES}, {features}] and \
                 [{CLASSES}]"
            )));
        }
        if r.used != file.len() {
            return Err(r.bad(format!(
                "holds {} tensors, the network has {}",
                file.len(),
                r.used
            )));
        }
        let fc_weight = Tensor::<2>::from_data(TensorData::new(w, w_shape), device).transpose();
        Ok(Self {
            stem,
            blocks,
            fc_weight,
            fc_bias: Tensor::from_data(TensorData::new(b, b_shape), device),
            features,
            fingerprint: file.fingerprint(),
            width_divisor,
        })
    }

    /// Width of the pool3 features (2048; narrower in the test fixtures).
    pub fn feature_dim(&self) -> usize {
        self.features
    }

    /// 1 for the real network; `k` for a test fixture at 1/k of every width.
    pub fn width_divisor(&self) -> usize {
        self.width_divisor
    }

    /// A hash of every tensor of the file it was read from (cache keys).
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// The pool3 features and the logits of images in `[-1, 1]` (any size; resized to 299).
    ///
    /// # Shapes
    /// `x`: `[batch, 3, h, w]`; results `[batch, F]` and `[batch, 1008]`.
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        let mut h = resize(x, INPUT_SIDE);
        for (conv, pool) in &self.stem {
            h = conv.forward(h);
            if *pool {
                h = max_pool_s2(h);
            }
        }
        for block in &self.blocks {
            h = block.forward(h);
        }
        let [b, c, _, _] = h.dims();
        let pool3 = h.mean_dim(3).mean_dim(2).reshape([b, c]);
        let logits = pool3
            .clone()
            .matmul(self.fc_weight.clone())
            .add(self.fc_bias.clone().unsqueeze());
        (pool3, logits)
    }
}

/// Bilinear resize to `side × side` with half-pixel centres (PyTorch's `interpolate(…,
/// mode='bilinear', align_corners=False)`): `out = R_h · x · R_wᵀ` with one row of weights per
/// output pixel.
fn resize(x: Tensor<4>, side: usize) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let device = x.device();
    let rows = Tensor::<2>::from_data(
        TensorData::new(bilinear_weights(h, side), [side, h]),
        &device,
    );
    let cols = Tensor::<2>::from_data(
        TensorData::new(bilinear_weights(w, side), [side, w]),
        &device,
    );
    let x = x.reshape([b * c, h, w]);
    let y = rows
        .unsqueeze::<3>()
        .matmul(x)
        .matmul(cols.transpose().unsqueeze::<3>());
    y.reshape([b, c, side, side])
}

/// `[out, input]` weights of 1-D linear interpolation from `input` to `out` samples: output
/// `i` samples `s = (i + ½)·input/out − ½`, clamped at 0, between `⌊s⌋` and `⌊s⌋ + 1` (the last
/// clamped to `input − 1`).
fn bilinear_weights(input: usize, out: usize) -> Vec<f32> {
    let scale = input as f64 / out as f64;
    let mut m = vec![0f32; out * input];
    for i in 0..out {
        let s = ((i as f64 + 0.5) * scale - 0.5).max(0.0);
        let lo = (s.floor() as usize).min(input - 1);
        let hi = (lo + 1).min(input - 1);
        let t = s - lo as f64;
        m[i * input + lo] += (1.0 - t) as f32;
        m[i * input + hi] += t as f32;
    }
    m
}

/// Padding of a 1×7 and a 7×1 convolution.
const ROW7: [usize; 2] = [0, 3];
const COL7: [usize; 2] = [3, 0];

/// torchvision's `InceptionA` on `c` channels (pytorch-fid's `FIDInceptionA`: the pool's mean
/// leaves out the padding).
fn block_a(r: &mut Reader, name: &str, c: usize, pool_features: usize) -> Result<Block> {
    Ok(Block {
        branches: vec![
            Branch::Chain(r.chain(name, &[("branch1x1", c, 64, [1, 1], 1, [0, 0])])?),
            Branch::Chain(r.chain(
                name,
                &[
                    ("branch5x5_1", c, 48, [1, 1], 1, [0, 0]),
                    ("branch5x5_2", 48, 64, [5, 5], 1, [2, 2]),
                ],
            )?),
            Branch::Chain(r.chain(
                name,
                &[
                    ("branch3x3dbl_1", c, 64, [1, 1], 1, [0, 0]),
                    ("branch3x3dbl_2", 64, 96, [3, 3], 1, [1, 1]),
                    ("branch3x3dbl_3", 96, 96, [3, 3], 1, [1, 1]),
                ],
            )?),
            Branch::Pooled(
                PoolKind::Same(Pool::Mean),
                r.chain(
                    name,
                    &[("branch_pool", c, pool_features, [1, 1], 1, [0, 0])],
                )?,
            ),
        ],
    })
}

/// torchvision's `InceptionB` (`Mixed_6a`), from 35×35 to 17×17.
fn block_b(r: &mut Reader, name: &str, c: usize) -> Result<Block> {
    Ok(Block {
        branches: vec![
            Branch::Chain(r.chain(name, &[("branch3x3", c, 384, [3, 3], 2, [0, 0])])?),
            Branch::Chain(r.chain(
                name,
                &[
                    ("branch3x3dbl_1", c, 64, [1, 1], 1, [0, 0]),
                    ("branch3x3dbl_2", 64, 96, [3, 3], 1, [1, 1]),
                    ("branch3x3dbl_3", 96, 96, [3, 3], 2, [0, 0]),
                ],
            )?),
            Branch::Pooled(PoolKind::Reduce, Vec::new()),
        ],
    })
}

/// torchvision's `InceptionC` on 768 channels with `c7` in its 7×7 branches
/// (`FIDInceptionC`).
fn block_c(r: &mut Reader, name: &str, c7: usize) -> Result<Block> {
    let c = 768;
    Ok(Block {
        branches: vec![
            Branch::Chain(r.chain(name, &[("branch1x1", c, 192, [1, 1], 1, [0, 0])])?),
            Branch::Chain(r.chain(
                name,
                &[
                    ("branch7x7_1", c, c7, [1, 1], 1, [0, 0]),
                    ("branch7x7_2", c7, c7, [1, 7], 1, ROW7),
                    ("branch7x7_3", c7, 192, [7, 1], 1, COL7),
                ],
            )?),
            Branch::Chain(r.chain(
                name,
                &[
                    ("branch7x7dbl_1", c, c7, [1, 1], 1, [0, 0]),
                    ("branch7x7dbl_2", c7, c7, [7, 1], 1, COL7),
                    ("branch7x7dbl_3", c7, c7, [1, 7], 1, ROW7),
                    ("branch7x7dbl_4", c7, c7, [7, 1], 1, COL7),
                    ("branch7x7dbl_5", c7, 192, [1, 7], 1, ROW7),
                ],
            )?),
            Branch::Pooled(
                PoolKind::Same(Pool::Mean),
                r.chain(name, &[("branch_pool", c, 192, [1, 1], 1, [0, 0])])?,
            ),
        ],
    })
}

/// torchvision's `InceptionD` (`Mixed_7a`), from 17×17 to 8×8.
fn block_d(r: &mut Reader, name: &str) -> Result<Block> {
    let c = 768;
    Ok(Block {
        branches: vec![
            Branch::Chain(r.chain(
                name,
                &[
                    ("branch3x3_1", c, 192, [1, 1], 1, [0, 0]),
                    ("branch3x3_2", 192, 320, [3, 3], 2, [0, 0]),
                ],
            )?),
            Branch::Chain(r.chain(
                name,
                &[
                    ("branch7x7x3_1", c, 192, [1, 1], 1, [0, 0]),
                    ("branch7x7x3_2", 192, 192, [1, 7], 1, ROW7),
                    ("branch7x7x3_3", 192, 192, [7, 1], 1, COL7),
                    ("branch7x7x3_4", 192, 192, [3, 3], 2, [0, 0]),
                ],
            )?),
            Branch::Pooled(PoolKind::Reduce, Vec::new()),
        ],
    })
}

/// torchvision's `InceptionE` on `c` channels (`FIDInceptionE_1` with the mean pool,
/// `FIDInceptionE_2` with the max pool).
fn block_e(r: &mut Reader, name: &str, c: usize, pool: Pool) -> Result<Block> {
    Ok(Block {
        branches: vec![
            Branch::Chain(r.chain(name, &[("branch1x1", c, 320, [1, 1], 1, [0, 0])])?),
            Branch::Split(
                r.chain(name, &[("branch3x3_1", c, 384, [1, 1], 1, [0, 0])])?,
                r.chain(
                    name,
                    &[
                        ("branch3x3_2a", 384, 384, [1, 3], 1, [0, 1]),
                        ("branch3x3_2b", 384, 384, [3, 1], 1, [1, 0]),
                    ],
                )?,
            ),
            Branch::Split(
                r.chain(
                    name,
                    &[
                        ("branch3x3dbl_1", c, 448, [1, 1], 1, [0, 0]),
                        ("branch3x3dbl_2", 448, 384, [3, 3], 1, [1, 1]),
                    ],
                )?,
                r.chain(
                    name,
                    &[
                        ("branch3x3dbl_3a", 384, 384, [1, 3], 1, [0, 1]),
                        ("branch3x3dbl_3b", 384, 384, [3, 1], 1, [1, 0]),
                    ],
                )?,
            ),
            Branch::Pooled(
                PoolKind::Same(pool),
                r.chain(name, &[("branch_pool", c, 192, [1, 1], 1, [0, 0])])?,
            ),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file whose tensors do not make the network is refused by name before anything runs:
    /// a convolution of another shape, a tensor too many, a width divisor that is not one.
    #[test]
    fn inception_files_that_do_not_make_the_network_are_refused() {
        let device = Device::flex();
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/inception/fid-inception-w16.safetensors");
        let good = TensorFile::read(&path).expect("fixture");
        assert!(FidInception::from_file(&good, &device).is_ok());
        let refused = |edit: &dyn Fn(&mut TensorFile)| {
            let mut file = good.clone();
            edit(&mut file);
            FidInception::from_file(&file, &device)
                .expect_err("refused")
                .to_string()
        };
        let message = refused(&|f| {
            f.insert(
                "Mixed_6b.branch7x7_2.conv.weight".into(),
                vec![8, 8, 7, 1],
                vec![0.0; 448],
            );
        });
        assert!(
            message.contains("Mixed_6b.branch7x7_2.conv.weight has shape [8, 8, 7, 1]"),
            "{message}"
        );
        let message = refused(&|f| f.insert("extra".into(), vec![1], vec![0.0]));
        assert!(message.contains("the network has"), "{message}");
        let message = refused(&|f| {
            f.metadata.insert("width_divisor".into(), "3".into());
        });
        assert!(message.contains("width_divisor"), "{message}");
        // Batch-norm statistics that would fold into NaN or overflowing weights.
        let name = "Conv2d_1a_3x3.bn.running_var";
        let edited = |value: f32| {
            move |f: &mut TensorFile| {
                let (shape, values) = f.tensor(name).expect("a variance");
                let (shape, mut values) = (shape.to_vec(), values.to_vec());
                values[0] = value;
                f.insert(name.into(), shape, values);
            }
        };
        let message = refused(&edited(-1.0));
        assert!(
            message.contains("Conv2d_1a_3x3.bn.running_var holds -1 at index 0; a variance is ≥ 0"),
            "{message}"
        );
        // γ = 3·10³⁸ over √(0 + ε) with a mean of 1: a folded bias of −9.5·10³⁹.
        let message = refused(&|f| {
            edited(0.0)(f);
            for (part, value) in [("weight", 3e38), ("running_mean", 1.0)] {
                let key = format!("Conv2d_1a_3x3.bn.{part}");
                let (shape, values) = f.tensor(&key).expect("a batch-norm tensor");
                let (shape, mut values) = (shape.to_vec(), values.to_vec());
                values[0] = value;
                f.insert(key, shape, values);
            }
        });
        assert!(
            message.contains("Conv2d_1a_3x3: the batch normalisation"),
            "{message}"
        );
    }

    /// Every row of the interpolation weights sums to 1; upsampling by 2 puts output pixel 1
    /// at ¾ of input 0 and ¼ of input 1, and the first output on input 0 alone (clamped).
    #[test]
    fn inception_bilinear_weights_are_half_pixel() {
        let m = bilinear_weights(4, 8);
        for row in m.chunks_exact(4) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
        assert_eq!(&m[0..4], &[1.0, 0.0, 0.0, 0.0]);
        assert_eq!(&m[4..8], &[0.75, 0.25, 0.0, 0.0]);
        assert_eq!(&m[28..32], &[0.0, 0.0, 0.0, 1.0]);
        let same = bilinear_weights(5, 5);
        for i in 0..5 {
            assert_eq!(same[i * 5 + i], 1.0);
        }
    }
}
