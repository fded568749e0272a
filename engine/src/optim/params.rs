//! Parameters by name: the dotted paths of a module's float tensors (`hidden.0.weight`), which
//! the optimiser state, the EMA and the safetensors checkpoints all key on.

use std::collections::BTreeMap;

use burn::module::{ModuleMapper, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;

/// A flat copy of a parameter: its shape and its values, on the device, without autodiff.
#[derive(Clone, Debug)]
pub struct NamedTensor {
    /// Original shape.
    pub shape: Vec<usize>,
    /// Values, flattened.
    pub values: Tensor<1>,
}

/// Every float parameter of `module`, by dotted path, detached from autodiff.
pub fn named_params<M: Module>(module: &M) -> BTreeMap<String, NamedTensor> {
    struct Collect {
        path: Vec<String>,
        out: BTreeMap<String, NamedTensor>,
    }
    impl ModuleVisitor for Collect {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.push(name.to_owned());
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let t = param.val().inner();
            let shape = t.dims().to_vec();
            let n = shape.iter().product::<usize>();
            self.out.insert(
                self.path.join("."),
                NamedTensor {
                    shape,
                    values: t.reshape([n]),
                },
            );
        }
    }
    let mut c = Collect {
        path: Vec::new(),
        out: BTreeMap::new(),
    };
    module.visit(&mut c);
    c.out
}

/// Applies `f(path, value, grad)` to every float parameter; `f` returns the new value (without
/// autodiff; it is made trainable again if the parameter was). `grad` is the parameter's
/// gradient in `grads`, flattened, if it has one.
pub fn map_params<M: Module>(
    module: M,
    grads: Option<&GradientsParams>,
    f: impl FnMut(&str, Tensor<1>, Option<Tensor<1>>) -> Tensor<1>,
) -> M {
    struct Map<'a, F> {
        path: Vec<String>,
        grads: Option<&'a GradientsParams>,
        f: F,
    }
    impl<F: FnMut(&str, Tensor<1>, Option<Tensor<1>>) -> Tensor<1>> ModuleMapper for Map<'_, F> {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.push(name.to_owned());
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.pop();
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let (id, tensor, mapper) = param.consume();
            let trainable = tensor.is_require_grad();
            let autodiff = tensor.is_autodiff();
            let shape = tensor.dims();
            let n = shape.iter().product::<usize>();
            let grad = self
                .grads
                .and_then(|g| g.get::<D>(id))
                .map(|g| g.inner().reshape([n]));
            let value = (self.f)(&self.path.join("."), tensor.inner().reshape([n]), grad);
            let mut value = value.reshape(shape);
            if autodiff {
                value = Tensor::from_inner(value);
            }
            if trainable {
                value = value.require_grad();
            }
            Param::from_mapped_value(id, value, mapper)
        }
    }
    module.map(&mut Map {
        path: Vec::new(),
        grads,
        f,
    })
}

/// Replaces gradient entries that are NaN or ±Inf by zero (`nan_to_num`), returning how many
/// there were and the global L2 norm of the sanitised gradient.
///
/// One read-back from the device in the usual case: the squared norm of every parameter's
/// gradient, computed on the device and read as one vector. A finite total means every entry is
/// finite and nothing is masked; only a non-finite total (rare: a diverging step) walks the
/// parameters again to count and zero the bad entries. On a GPU every read-back stalls the
/// pipeline, so this is one stall per phase instead of two per parameter.
pub fn sanitize_grads<M: Module>(module: &M, grads: &mut GradientsParams) -> (u64, f64) {
    struct Ids(Vec<(burn::module::ParamId, usize)>);
    impl ModuleVisitor for Ids {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push((param.id, D));
        }
    }
    let mut ids = Ids(Vec::new());
    module.visit(&mut ids);
    let squares: Vec<Tensor<1>> = ids
        .0
        .iter()
        .filter_map(|&(id, rank)| flat_grad(grads, id, rank).map(|g| g.square().sum()))
        .collect();
    if squares.is_empty() {
        return (0, 0.0);
    }
    let sq = sum_f64(Tensor::cat(squares, 0));
    if sq.is_finite() {
        return (0, sq.sqrt());
    }
    let mut bad = 0u64;
    let mut sq = 0.0f64;
    for (id, rank) in ids.0 {
        match rank {
            1 => sanitize_one::<1>(grads, id, &mut bad, &mut sq),
            2 => sanitize_one::<2>(grads, id, &mut bad, &mut sq),
            3 => sanitize_one::<3>(grads, id, &mut bad, &mut sq),
            4 => sanitize_one::<4>(grads, id, &mut bad, &mut sq),
            _ => {}
        }
    }
    (bad, sq.sqrt())
}

/// The gradient of parameter `id` (of rank `rank`), flattened, for the parameter ranks in use
/// (1: biases and norms, 2: linear weights, 4: convolutions; 3 for completeness).
fn flat_grad(grads: &GradientsParams, id: burn::module::ParamId, rank: usize) -> Option<Tensor<1>> {
    fn flat<const D: usize>(
        grads: &GradientsParams,
        id: burn::module::ParamId,
    ) -> Option<Tensor<1>> {
        grads.get::<D>(id).map(|g| {
            let n = g.shape().num_elements();
            g.reshape([n])
        })
    }
    match rank {
        1 => flat::<1>(grads, id),
        2 => flat::<2>(grads, id),
        3 => flat::<3>(grads, id),
        4 => flat::<4>(grads, id),
        _ => None,
    }
}

/// The sum of a vector's entries, in f64 on the host (one read-back).
fn sum_f64(t: Tensor<1>) -> f64 {
    t.into_data().iter::<f32>().map(f64::from).sum()
}

fn sanitize_one<const D: usize>(
    grads: &mut GradientsParams,
    id: burn::module::ParamId,
    bad: &mut u64,
    sq: &mut f64,
) {
    let Some(g) = grads.remove::<D>(id) else {
        return;
    };
    let finite = g.clone().is_finite();
    let n_bad = finite.clone().bool_not().int().sum().into_scalar::<i64>();
    let g = if n_bad > 0 {
        *bad += n_bad as u64;
        g.zeros_like().mask_where(finite, g)
    } else {
        g
    };
    *sq += f64::from(g.clone().square().sum().into_scalar::<f32>());
    grads.register(id, g);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nets::mlp::MlpConfig;
    use crate::nets::mlp::MlpDenoiser;
    use crate::rng::{Stream, rng_for};

    #[test]
    fn paths_name_every_parameter_once() {
        let device = Device::flex();
        let config = MlpConfig {
            width: 8,
            depth: 2,
            noise_frequencies: 2,
        };
        let net = MlpDenoiser::new(&config, 2, 0.5, &mut rng_for(0, 0, Stream::Init), &device);
        let names: Vec<String> = named_params(&net).into_keys().collect();
        assert_eq!(
            names,
            [
                "hidden.0.bias",
                "hidden.0.weight",
                "hidden.1.bias",
                "hidden.1.weight",
                "output.bias",
                "output.weight"
            ]
        );
    }

    /// The default 2-D MLP, seeded.
    fn default_mlp(device: &Device) -> MlpDenoiser {
        let rng = &mut rng_for(0, 0, Stream::Init);
        MlpDenoiser::new(&MlpConfig::default(), 2, 0.5, rng, device)
    }

    /// A finite gradient takes the one-read-back path: nothing is counted or changed, and the
    /// norm is the hand-computed one. `loss = Σ (2·w)` over every parameter has gradient 2 in
    /// every entry, so `‖g‖ = 2·√(number of entries)`.
    #[test]
    fn sanitising_a_finite_gradient_changes_nothing() {
        let device = Device::flex().autodiff();
        let net = default_mlp(&device);
        let entries: usize = named_params(&net)
            .values()
            .map(|p| p.shape.iter().product::<usize>())
            .sum();
        struct Sum(Option<Tensor<1>>);
        impl ModuleVisitor for Sum {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                let s = param.val().sum();
                self.0 = Some(match self.0.take() {
                    Some(total) => total.add(s),
                    None => s,
                });
            }
        }
        let mut sum = Sum(None);
        net.visit(&mut sum);
        let loss = sum.0.expect("the MLP has parameters").mul_scalar(2.0);
        let mut grads = GradientsParams::from_grads(loss.backward(), &net);
        let (bad, norm) = sanitize_grads(&net, &mut grads);
        assert_eq!(bad, 0);
        let expected = 2.0 * (entries as f64).sqrt();
        assert!(
            (norm - expected).abs() < 1e-9 * expected,
            "{norm} vs {expected}"
        );
    }

    #[test]
    fn sanitising_zeroes_non_finite_entries() {
        let device = Device::flex().autodiff();
        let net = default_mlp(&device);
        let x = Tensor::<2>::from_floats([[f32::NAN, 0.0], [1.0, 1.0]], &device);
        let sigma = Tensor::<2>::from_floats([[1.0], [1.0]], &device);
        use crate::diffusion::denoiser::Denoiser;
        let loss = net.denoise(x, sigma).sum();
        let mut grads = GradientsParams::from_grads(loss.backward(), &net);
        let (bad, norm) = sanitize_grads(&net, &mut grads);
        assert!(bad > 0, "a NaN input must poison some gradient entries");
        assert!(norm.is_finite());
    }
}
