//! Stride-1 2-D convolution as shifted matrix products over a padded "strip" layout: the
//! forward convolution, the transposed convolution that is its input gradient, and the
//! convolution with a large kernel and a small output that is its weight gradient — all
//! without an im2col buffer (SIM Workbench patch, see the workspace's `vendor/README.md`).
//!
//! A strip holds, for one channel, the planes (images) of the whole batch stacked vertically;
//! each row is followed by `pw` zeros and each plane by `ph` zero rows, and those zeros double
//! as the leading padding of the next row and plane. Padded position `(y, x)` of plane `p`
//! sits at `p·plane + y·row + x` (`row = w + pw`, `plane = (h + ph)·row`) for every `x` up to
//! `w + 2·pw` and `y` up to `h + 2·ph`. On an output grid with the same strides
//! (`q = p·plane + y·row + x`, a few slots of which fall in the padding and are computed and
//! dropped), the kernel offset `(i, j)` is one constant shift `i·row + j` of the whole strip:
//! a convolution is a sum of `kh·kw` matrix products whose operands are read in place.
//!
//! One difference from the definition: the weight-gradient form multiplies the zeros of the
//! unused grid slots with input values, so a non-finite input spreads NaN to more entries of
//! the result than the definition would (a result that is non-finite either way).

use alloc::vec;
use alloc::vec::Vec;
use burn_backend::DType;
use burn_backend::ops::{ConvOptions, ConvTransposeOptions};
use burn_std::{Bytes, Shape};
use num_traits::Float;

use crate::{FlexTensor, Layout};

/// Element types the strip kernels run on (those `gemm` multiplies natively).
trait StripFloat: Float + bytemuck::Pod + burn_backend::Element + Send + Sync + 'static {}
impl StripFloat for f32 {}
impl StripFloat for f64 {}

/// Geometry of `strips` strips, each holding `planes` planes of `h × w` padded by `(ph, pw)`.
#[derive(Clone, Copy, Debug)]
struct Strip {
    strips: usize,
    planes: usize,
    h: usize,
    w: usize,
    ph: usize,
    pw: usize,
    /// Distance between rows.
    row: usize,
    /// Distance between planes.
    plane: usize,
    /// Distance between strips.
    len: usize,
}

/// A 4-D tensor read in place: element `(a, b, y, x)` at `offset + a·sa + b·sb + y·sy + x`.
#[derive(Clone, Copy)]
struct View4 {
    offset: usize,
    sa: usize,
    sb: usize,
    sy: usize,
}

impl View4 {
    /// The view of a 4-D tensor with non-negative strides and a unit innermost stride, axes
    /// `a` and `b` taken as given (so a tensor with its first two axes swapped reads in place).
    fn of(tensor: &FlexTensor, a: usize, b: usize) -> Option<Self> {
        let layout = tensor.layout();
        let strides = layout.strides();
        let shape = layout.shape();
        if strides.len() != 4 || (strides[3] != 1 && shape[3] > 1) || !layout.has_positive_strides()
        {
            return None;
        }
        Some(Self {
            offset: layout.start_offset(),
            sa: strides[a] as usize,
            sb: strides[b] as usize,
            sy: strides[2] as usize,
        })
    }
}

impl Strip {
    fn new(strips: usize, planes: usize, (h, w): (usize, usize), (ph, pw): (usize, usize)) -> Self {
        let row = w + pw;
        let plane = (h + ph) * row;
        // A shift reaches at most `h + 2·ph` rows past the last plane's start.
        let len = planes * plane + (h + 2 * ph + 2) * row;
        Self {
            strips,
            planes,
            h,
            w,
            ph,
            pw,
            row,
            plane,
            len,
        }
    }

    /// Positions on the output grid: one per `(plane, y, x)` slot.
    fn grid(&self) -> usize {
        self.planes * self.plane
    }

    /// Packs `data` (element `(strip, plane, y, x)` as `view` says) into padded strips.
    fn pack<T: StripFloat>(&self, data: &[T], view: View4) -> Vec<T> {
        let mut out = vec![T::zero(); self.strips * self.len];
        for s in 0..self.strips {
            for p in 0..self.planes {
                for y in 0..self.h {
                    let src = view.offset + s * view.sa + p * view.sb + y * view.sy;
                    let dst = s * self.len + p * self.plane + (y + self.ph) * self.row + self.pw;
                    copy_row(&mut out[dst..dst + self.w], &data[src..src + self.w]);
                }
            }
        }
        out
    }

    /// Lays `data` (element `(strip, plane, y, x)`, `y < ho`, `x < wo`, as `view` says) on the
    /// output grid of this geometry, `[strips][grid]`, zeros in the unused slots.
    fn to_grid<T: StripFloat>(&self, data: &[T], view: View4, (ho, wo): (usize, usize)) -> Vec<T> {
        let grid = self.grid();
        let mut out = vec![T::zero(); self.strips * grid];
        for s in 0..self.strips {
            for p in 0..self.planes {
                for y in 0..ho {
                    let src = view.offset + s * view.sa + p * view.sb + y * view.sy;
                    let dst = s * grid + p * self.plane + y * self.row;
                    copy_row(&mut out[dst..dst + wo], &data[src..src + wo]);
                }
            }
        }
        out
    }

    /// Reads `[channels][grid]` back into a contiguous `[planes][channels][ho][wo]` tensor
    /// (planes outermost, as a batch is), adding `bias[channel]` when given.
    fn from_grid<T: StripFloat>(
        &self,
        grid_data: &[T],
        channels: usize,
        (ho, wo): (usize, usize),
        bias: Option<&[T]>,
    ) -> Vec<T> {
        let grid = self.grid();
        let mut out = vec![T::zero(); self.planes * channels * ho * wo];
        for p in 0..self.planes {
            for c in 0..channels {
                for y in 0..ho {
                    let src = c * grid + p * self.plane + y * self.row;
                    let dst = ((p * channels + c) * ho + y) * wo;
                    let (dst, src) = (&mut out[dst..dst + wo], &grid_data[src..src + wo]);
                    match bias {
                        Some(bias) => {
                            for (d, &s) in dst.iter_mut().zip(src) {
                                *d = s + bias[c];
                            }
                        }
                        None => copy_row(dst, src),
                    }
                }
            }
        }
        out
    }
}

/// `dst.copy_from_slice(src)`, with the short rows of small images (the U-Net's 4 to 32 pixels)
/// copied inline: a `memcpy` call per 8-pixel row was most of the packing's cost.
fn copy_row<T: Copy>(dst: &mut [T], src: &[T]) {
    fn fixed<T: Copy, const N: usize>(dst: &mut [T], src: &[T]) {
        match (<&mut [T; N]>::try_from(&mut *dst), <&[T; N]>::try_from(src)) {
            (Ok(d), Ok(s)) => *d = *s,
            _ => dst.copy_from_slice(src),
        }
    }
    match src.len() {
        4 => fixed::<T, 4>(dst, src),
        8 => fixed::<T, 8>(dst, src),
        16 => fixed::<T, 16>(dst, src),
        32 => fixed::<T, 32>(dst, src),
        _ => dst.copy_from_slice(src),
    }
}

/// A matrix read in place: element `(r, c)` at `ptr + r·rs + c·cs`.
#[derive(Clone, Copy)]
struct Mat<T> {
    ptr: *const T,
    rs: isize,
    cs: isize,
}

/// The threads a kernel splits its work over.
fn threads() -> usize {
    #[cfg(feature = "rayon")]
    {
        rayon::current_num_threads()
    }
    #[cfg(not(feature = "rayon"))]
    {
        1
    }
}

/// Runs `task(0..count)`, on the rayon pool when there is one.
fn for_each_task(count: usize, task: impl Fn(usize) + Send + Sync) {
    #[cfg(feature = "rayon")]
    if count > 1 {
        use rayon::prelude::*;
        (0..count).into_par_iter().for_each(task);
        return;
    }
    (0..count).for_each(task);
}

/// `out[m][grid] = Σ_(i,j) W_ij · (strips shifted by i·row + j)`: the stride-1 convolution of
/// the packed input (`geometry.strips` channels) with a `kh × kw` kernel whose `m × channels`
/// slice at offset `(i, j)` is `weight(i, j)`. Split into column chunks, one task each.
///
/// # Safety
/// `weight(i, j)` must address `m × geometry.strips` readable elements for every offset.
unsafe fn conv_by_offset<T: StripFloat>(
    geometry: &Strip,
    strips: &[T],
    m: usize,
    (kh, kw): (usize, usize),
    weight: impl Fn(usize, usize) -> Mat<T> + Send + Sync,
) -> Vec<T> {
    let k = geometry.strips;
    let grid = geometry.grid();
    let mut out = vec![T::zero(); m * grid];
    // Chunks of at most 4096 columns keep one chunk's `out` in cache across the `kh·kw`
    // products that accumulate into it.
    let chunks = threads().max(grid.div_ceil(4096));
    let chunk = grid.div_ceil(chunks);
    let out_addr = out.as_mut_ptr() as usize;
    let strips_addr = strips.as_ptr() as usize;
    for_each_task(chunks, |c| {
        let start = c * chunk;
        let cols = chunk.min(grid.saturating_sub(start));
        if cols == 0 {
            return;
        }
        for i in 0..kh {
            for j in 0..kw {
                let w = weight(i, j);
                // SAFETY: `out` has `m × grid` elements and the chunks write disjoint columns;
                // a shift stays inside its strip (`Strip::new` reserves the rows it reaches);
                // `w` is valid by the caller's contract.
                unsafe {
                    gemm::gemm(
                        m,
                        cols,
                        k,
                        (out_addr as *mut T).add(start),
                        1,
                        grid as isize,
                        i + j > 0,
                        w.ptr,
                        w.cs,
                        w.rs,
                        (strips_addr as *const T).add(start + i * geometry.row + j),
                        1,
                        geometry.len as isize,
                        T::one(),
                        T::one(),
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    );
                }
            }
        }
    });
    out
}

/// `out[m][strips · oh · ow]`, the element `(r, (s, oy, ox))` being `lhs[r] · strip s shifted by
/// oy·row + ox`: the convolution of the packed input with a kernel as large as the input,
/// `lhs` (`m × grid`, laid on the output grid, zeros in the unused slots), whose output
/// `oh × ow` is small. One product per output offset, one task each.
fn conv_by_output<T: StripFloat>(
    geometry: &Strip,
    strips: &[T],
    lhs: &[T],
    m: usize,
    (oh, ow): (usize, usize),
) -> Vec<T> {
    let n = geometry.strips;
    let grid = geometry.grid();
    let offsets = oh * ow;
    let mut out = vec![T::zero(); m * n * offsets];
    let out_addr = out.as_mut_ptr() as usize;
    let strips_addr = strips.as_ptr() as usize;
    for_each_task(offsets, |o| {
        let shift = (o / ow) * geometry.row + o % ow;
        // SAFETY: element `(r, s)` of offset `o` goes to `r·n·offsets + s·offsets + o`, inside
        // `out` and written by this task only; `lhs` has `m × grid` elements; a shift stays
        // inside its strip.
        unsafe {
            gemm::gemm(
                m,
                n,
                grid,
                (out_addr as *mut T).add(o),
                offsets as isize,
                (n * offsets) as isize,
                false,
                lhs.as_ptr(),
                1,
                grid as isize,
                (strips_addr as *const T).add(shift),
                geometry.len as isize,
                1,
                T::one(),
                T::one(),
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
    });
    out
}

fn tensor<T: StripFloat>(data: Vec<T>, shape: [usize; 4]) -> FlexTensor {
    FlexTensor::new(
        Bytes::from_elems(data),
        Layout::contiguous(Shape::from(shape.to_vec())),
        T::dtype(),
    )
}

/// The 2-D convolution on strips, or `None` where it does not apply (another dtype, a stride
/// or dilation other than 1, groups, asymmetric padding, a 1×1 or single-channel kernel, which
/// have their own paths) and the caller's general path runs.
pub(crate) fn conv2d(
    x: &FlexTensor,
    weight: &FlexTensor,
    bias: Option<&FlexTensor>,
    options: &ConvOptions<2>,
) -> Option<FlexTensor> {
    if options.stride != [1, 1]
        || options.dilation != [1, 1]
        || options.groups != 1
        || options.is_asymmetric()
        || weight.dtype() != x.dtype()
    {
        return None;
    }
    match x.dtype() {
        DType::F32 => conv2d_typed::<f32>(x, weight, bias, options.padding_begin()),
        DType::F64 => conv2d_typed::<f64>(x, weight, bias, options.padding_begin()),
        _ => None,
    }
}

fn conv2d_typed<T: StripFloat>(
    x: &FlexTensor,
    weight: &FlexTensor,
    bias: Option<&FlexTensor>,
    [ph, pw]: [usize; 2],
) -> Option<FlexTensor> {
    let &[n, c, h, w] = x.layout().shape().as_slice() else {
        return None;
    };
    let &[k, c_w, kh, kw] = weight.layout().shape().as_slice() else {
        return None;
    };
    if c_w != c || kh > h + 2 * ph || kw > w + 2 * pw || kh * kw == 1 || c < 2 {
        return None;
    }
    let (ho, wo) = (h + 2 * ph - kh + 1, w + 2 * pw - kw + 1);
    let bias = bias.map(|b| b.to_contiguous());
    let bias = bias.as_ref().map(|b| b.storage::<T>());
    if ho * wo < kh * kw {
        // A kernel larger than its output (how a weight gradient is computed): the input's
        // batch is the strip index, its channels the planes, the kernel laid on the grid.
        if kh > h + ph || kw > w + pw {
            return None;
        }
        let geometry = Strip::new(n, c, (h, w), (ph, pw));
        let strips = geometry.pack(x.storage::<T>(), View4::of(x, 0, 1)?);
        let lhs = Strip {
            strips: k,
            ..geometry
        }
        .to_grid(weight.storage::<T>(), View4::of(weight, 0, 1)?, (kh, kw));
        let by_output = conv_by_output(&geometry, &strips, &lhs, k, (ho, wo));
        // `[k][n][ho·wo]` → `[n][k][ho·wo]`, adding the bias.
        let spatial = ho * wo;
        let mut out = vec![T::zero(); n * k * spatial];
        for (r, rows) in by_output.chunks_exact(n * spatial).enumerate() {
            let b = bias.map_or(T::zero(), |b| b[r]);
            for (s, src) in rows.chunks_exact(spatial).enumerate() {
                let dst = &mut out[(s * k + r) * spatial..][..spatial];
                for (d, &v) in dst.iter_mut().zip(src) {
                    *d = v + b;
                }
            }
        }
        return Some(tensor(out, [n, k, ho, wo]));
    }
    if ph >= kh || pw >= kw {
        return None;
    }
    let geometry = Strip::new(c, n, (h, w), (ph, pw));
    let strips = geometry.pack(x.storage::<T>(), View4::of(x, 1, 0)?);
    let weight = weight.to_contiguous();
    let w_data = weight.storage::<T>();
    let kk = kh * kw;
    let w_addr = w_data.as_ptr() as usize;
    // SAFETY: offset `(i, j)` addresses `w[r][s][i][j]` for `r < k`, `s < c`, inside `w_data`.
    let grid = unsafe {
        conv_by_offset(&geometry, &strips, k, (kh, kw), |i, j| Mat {
            ptr: (w_addr as *const T).wrapping_add(i * kw + j),
            rs: (c * kk) as isize,
            cs: kk as isize,
        })
    };
    let out = geometry.from_grid(&grid, k, (ho, wo), bias);
    Some(tensor(out, [n, k, ho, wo]))
}

/// The stride-1 transposed 2-D convolution on strips — a convolution with the kernel flipped
/// and its channel axes swapped, padded by `k − 1 − p` — or `None` where it does not apply
/// (as [`conv2d`], and a non-zero output padding).
pub(crate) fn conv_transpose2d(
    x: &FlexTensor,
    weight: &FlexTensor,
    bias: Option<&FlexTensor>,
    options: &ConvTransposeOptions<2>,
) -> Option<FlexTensor> {
    if options.stride != [1, 1]
        || options.dilation != [1, 1]
        || options.groups != 1
        || options.padding_out != [0, 0]
        || weight.dtype() != x.dtype()
    {
        return None;
    }
    match x.dtype() {
        DType::F32 => conv_transpose2d_typed::<f32>(x, weight, bias, options.padding),
        DType::F64 => conv_transpose2d_typed::<f64>(x, weight, bias, options.padding),
        _ => None,
    }
}

fn conv_transpose2d_typed<T: StripFloat>(
    x: &FlexTensor,
    weight: &FlexTensor,
    bias: Option<&FlexTensor>,
    [ph, pw]: [usize; 2],
) -> Option<FlexTensor> {
    let &[n, c, h, w] = x.layout().shape().as_slice() else {
        return None;
    };
    // Transposed-convolution weights are `[c_in, c_out, kh, kw]`.
    let &[c_w, k, kh, kw] = weight.layout().shape().as_slice() else {
        return None;
    };
    if c_w != c
        || ph >= kh
        || pw >= kw
        || kh * kw == 1
        || c < 2
        || h + kh < 2 * ph + 2
        || w + kw < 2 * pw + 2
    {
        return None;
    }
    let (pad_h, pad_w) = (kh - 1 - ph, kw - 1 - pw);
    let (ho, wo) = (h + kh - 1 - 2 * ph, w + kw - 1 - 2 * pw);
    let geometry = Strip::new(c, n, (h, w), (pad_h, pad_w));
    let strips = geometry.pack(x.storage::<T>(), View4::of(x, 1, 0)?);
    let weight = weight.to_contiguous();
    let w_data = weight.storage::<T>();
    let kk = kh * kw;
    let w_addr = w_data.as_ptr() as usize;
    // Offset `(i, j)` of the flipped kernel: `m[r][s] = w[s][r][kh − 1 − i][kw − 1 − j]`.
    // SAFETY: that addresses, for `r < k` and `s < c`, elements inside `w_data`.
    let grid = unsafe {
        conv_by_offset(&geometry, &strips, k, (kh, kw), |i, j| Mat {
            ptr: (w_addr as *const T).wrapping_add((kh - 1 - i) * kw + (kw - 1 - j)),
            rs: kk as isize,
            cs: (k * kk) as isize,
        })
    };
    let bias = bias.map(|b| b.to_contiguous());
    let out = geometry.from_grid(&grid, k, (ho, wo), bias.as_ref().map(|b| b.storage::<T>()));
    Some(tensor(out, [n, k, ho, wo]))
}
