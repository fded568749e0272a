//! The CPU backend's patched kernels (vendor/README.md), checked through Burn as the engine
//! calls them: convolution forward, input gradient and weight gradient against a plain f64
//! loop, over shapes that take every path (the strip kernels of stride 1 with 2×2, 3×3 and
//! 5×5 kernels, with and without padding, across column chunks; asymmetric padding, stride 2,
//! 1×1 and one input channel on Burn's own paths); the sigmoid against the two-branch libm
//! form over the whole f32 range, and bit for bit the same on each storage path.

use burn::prelude::*;
use burn::tensor::activation::sigmoid;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use sim_engine::rng::{Stream, normal, rng_for};

struct Case {
    batch: usize,
    c_in: usize,
    c_out: usize,
    h: usize,
    w: usize,
    k: usize,
    stride: usize,
    /// `(begin, end)` padding of the height and the width.
    padding: [(usize, usize); 2],
}

/// `y`, `dL/dx` and `dL/dW` of `L = Σ r·conv(x, W)` by the definition of the convolution.
fn reference(
    case: &Case,
    x: &[f32],
    weight: &[f32],
    r: &[f32],
    out: [usize; 2],
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let Case {
        batch,
        c_in,
        c_out,
        h,
        w,
        k,
        stride,
        padding,
    } = *case;
    let mut y = vec![0.0; batch * c_out * out[0] * out[1]];
    let mut dx = vec![0.0; x.len()];
    let mut dw = vec![0.0; weight.len()];
    for b in 0..batch {
        for o in 0..c_out {
            for i in 0..out[0] {
                for j in 0..out[1] {
                    let yi = ((b * c_out + o) * out[0] + i) * out[1] + j;
                    for c in 0..c_in {
                        for a in 0..k {
                            for e in 0..k {
                                let (ii, jj) = (
                                    (i * stride + a) as isize - padding[0].0 as isize,
                                    (j * stride + e) as isize - padding[1].0 as isize,
                                );
                                if ii < 0 || jj < 0 || ii >= h as isize || jj >= w as isize {
                                    continue;
                                }
                                let xi = ((b * c_in + c) * h + ii as usize) * w + jj as usize;
                                let wi = ((o * c_in + c) * k + a) * k + e;
                                y[yi] += f64::from(x[xi]) * f64::from(weight[wi]);
                                dx[xi] += f64::from(r[yi]) * f64::from(weight[wi]);
                                dw[wi] += f64::from(r[yi]) * f64::from(x[xi]);
                            }
                        }
                    }
                }
            }
        }
    }
    (y, dx, dw)
}

fn assert_close(what: &str, got: &[f32], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (i, (&g, &v)) in got.iter().zip(want).enumerate() {
        assert!(
            (f64::from(g) - v).abs() <= 1e-5 * scale,
            "{what}[{i}]: {g} vs {v} (scale {scale})"
        );
    }
}

fn check(case: Case) {
    let device = Device::flex().autodiff();
    let mut rng = rng_for(11, case.batch as u64, Stream::Other(7));
    let x_shape = [case.batch, case.c_in, case.h, case.w];
    let w_shape = [case.c_out, case.c_in, case.k, case.k];
    let x_values = normal(&mut rng, x_shape.iter().product(), 1.0);
    let w_values = normal(&mut rng, w_shape.iter().product(), 1.0);
    let x =
        Tensor::<4>::from_data(TensorData::new(x_values.clone(), x_shape), &device).require_grad();
    let weight =
        Tensor::<4>::from_data(TensorData::new(w_values.clone(), w_shape), &device).require_grad();
    let options = ConvOptions::new_with_padding([case.stride; 2], case.padding, [1, 1], 1);
    let y = conv2d(x.clone(), weight.clone(), None, options);
    let [_, _, out_h, out_w] = y.dims();
    let r_values = normal(&mut rng, y.shape().num_elements(), 1.0);
    let r = Tensor::<4>::from_data(TensorData::new(r_values.clone(), y.dims()), &device);
    let grads = y.clone().mul(r).sum().backward();
    let (want_y, want_dx, want_dw) =
        reference(&case, &x_values, &w_values, &r_values, [out_h, out_w]);
    let values = |t: Tensor<4>| t.try_into_vec_as::<f32>().expect("f32");
    assert_close("y", &values(y.inner()), &want_y);
    assert_close("dx", &values(x.grad(&grads).expect("x grad")), &want_dx);
    assert_close(
        "dW",
        &values(weight.grad(&grads).expect("W grad")),
        &want_dw,
    );
}

#[test]
fn conv2d_forward_and_gradients_match_the_definition() {
    let case = |batch, c_in, c_out, h, w, k, stride, padding| Case {
        batch,
        c_in,
        c_out,
        h,
        w,
        k,
        stride,
        padding,
    };
    // The U-Net's 3×3 "same" convolution; tiles span several of the odd-sized images.
    check(case(5, 3, 4, 9, 7, 3, 1, [(1, 1), (1, 1)]));
    // A batch of 8×8 images large enough for full 512-position tiles.
    check(case(12, 6, 5, 8, 8, 3, 1, [(1, 1), (1, 1)]));
    // Asymmetric padding (input gradient still a direct convolution).
    check(case(2, 2, 3, 6, 5, 3, 1, [(1, 0), (0, 2)]));
    // Stride 2 (the downsampling; the transposed-convolution route).
    check(case(3, 4, 2, 8, 8, 3, 2, [(1, 1), (1, 1)]));
    // 1×1 (skip connections, attention).
    check(case(4, 5, 3, 4, 4, 1, 1, [(0, 0), (0, 0)]));
    // One input channel (the U-Net's input convolution).
    check(case(3, 1, 8, 8, 8, 3, 1, [(1, 1), (1, 1)]));
    // A batch whose output grid spans more than one column chunk of the strip kernel.
    check(case(70, 3, 2, 8, 8, 3, 1, [(1, 1), (1, 1)]));
    // 5×5 "same"; 3×3 without padding (input gradient padded by 2); an even 2×2 kernel.
    check(case(2, 3, 4, 7, 6, 5, 1, [(2, 2), (2, 2)]));
    check(case(2, 3, 2, 6, 6, 3, 1, [(0, 0), (0, 0)]));
    check(case(2, 2, 3, 5, 5, 2, 1, [(1, 1), (1, 1)]));
}

/// The branch-free sigmoid: within 4 ulp of `1 / (1 + e^{−x})` (libm, two-branch form) on a
/// sweep of the whole f32 range, exact at the ends, and NaN in, NaN out.
#[test]
fn sigmoid_matches_libm_and_keeps_nan() {
    let device = Device::flex();
    let mut xs: Vec<f32> = (-2000..=2000).map(|i| i as f32 * 0.05).collect();
    xs.extend([
        -1e30, -200.0, -88.0, -87.5, 87.5, 88.0, 200.0, 1e30, 0.0, -0.0,
    ]);
    xs.extend([
        f32::MIN_POSITIVE,
        -f32::MIN_POSITIVE,
        f32::INFINITY,
        f32::NEG_INFINITY,
    ]);
    let n = xs.len();
    let got = sigmoid(Tensor::<1>::from_data(
        TensorData::new(xs.clone(), [n]),
        &device,
    ))
    .try_into_vec_as::<f32>()
    .expect("f32");
    for (&x, &s) in xs.iter().zip(&got) {
        let want = if x >= 0.0 {
            1.0 / (1.0 + (-f64::from(x)).exp())
        } else {
            let e = f64::from(x).exp();
            e / (1.0 + e)
        };
        let ulp = f64::from(f32::EPSILON) * want.abs().max(f64::from(f32::MIN_POSITIVE));
        assert!(
            (f64::from(s) - want).abs() <= 4.0 * ulp || (want < 1e-37 && s < 1e-37),
            "sigmoid({x}) = {s}, want {want}"
        );
    }
    let nan = sigmoid(Tensor::<1>::from_floats([f32::NAN, 1.0], &device))
        .try_into_vec_as::<f32>()
        .expect("f32");
    assert!(nan[0].is_nan() && (nan[1] - 0.731_058_6).abs() < 1e-6);
}

/// The sigmoid's storage cases give the same bits: a tensor it may overwrite (in place), one
/// still shared (read into a fresh buffer), a row range at an offset, and a transposed view
/// (strided: Burn's element loop). The vector loop is chosen at run time for the CPU, with the
/// same operations per element on each.
#[test]
fn sigmoid_storage_paths_agree_bit_for_bit() {
    let device = Device::flex();
    let xs: Vec<f32> = (0..4096).map(|i| (i as f32 - 2048.0) * 0.031).collect();
    let t = Tensor::<2>::from_data(TensorData::new(xs, [64, 64]), &device);
    let bits = |t: Tensor<2>| -> Vec<u32> {
        t.try_into_vec_as::<f32>()
            .expect("f32")
            .into_iter()
            .map(f32::to_bits)
            .collect()
    };
    let shared = bits(sigmoid(t.clone()));
    let rows = bits(sigmoid(t.clone().narrow(0, 1, 63)));
    let strided = bits(sigmoid(t.clone().swap_dims(0, 1)).swap_dims(0, 1));
    let owned = bits(sigmoid(t));
    assert_eq!(shared, owned);
    assert_eq!(rows, owned[64..].to_vec());
    assert_eq!(strided, owned);
}
