//! Adam / AdamW with bias correction, a warm-up + cosine learning-rate schedule, and global
//! gradient-norm clipping, over a [`ParamStore`].
//!
//! ```text
//! g ← grad (+ wd·p for Adam's L2 decay)
//! m ← β₁ m + (1 − β₁) g          v ← β₂ v + (1 − β₂) g²
//! p ← p − lr · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)   (AdamW first: p ← p (1 − lr·wd))
//! ```
//! The same update as PyTorch's `torch.optim.Adam` / `AdamW`.

use crate::autograd::{ParamError, ParamStore};
use crate::tensor::Tensor;

/// Adam's settings. [`AdamConfig::adam`] and [`AdamConfig::adamw`] give PyTorch's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    /// Weight decay coefficient (0 for none).
    pub weight_decay: f32,
    /// `true`: decoupled decay, `p ← p(1 − lr·wd)` (AdamW); `false`: L2, `g ← g + wd·p` (Adam).
    pub decoupled: bool,
    /// Exempt parameters with fewer than two dimensions (biases, norm gains) from decay.
    pub skip_decay_on_vectors: bool,
}

impl AdamConfig {
    /// Adam: β = (0.9, 0.999), ε = 1e-8, no decay.
    pub fn adam() -> Self {
        AdamConfig {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
            skip_decay_on_vectors: false,
        }
    }

    /// AdamW with decoupled weight decay `wd` (PyTorch's default is 0.01), on every parameter.
    pub fn adamw(weight_decay: f32) -> Self {
        AdamConfig {
            weight_decay,
            decoupled: true,
            ..Self::adam()
        }
    }
}

/// Adam's state: first and second moments per parameter and the step count.
pub struct Adam {
    pub config: AdamConfig,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    step: u64,
}

/// Names of the exported state tensors: `optim.m.<param>`, `optim.v.<param>`, `optim.step`.
const M_PREFIX: &str = "optim.m.";
const V_PREFIX: &str = "optim.v.";
const STEP_NAME: &str = "optim.step";
/// The step count is exported as one f32, exact for integers below 2²⁴ ≈ 16.7 M steps.
const MAX_EXACT_STEP: u64 = 1 << 24;

impl Adam {
    /// Zero moments shaped like `store`'s parameters.
    pub fn new(config: AdamConfig, store: &ParamStore) -> Self {
        let zeros = || {
            store
                .ids()
                .map(|id| Tensor::zeros(store.shape(id)))
                .collect()
        };
        Adam {
            config,
            m: zeros(),
            v: zeros(),
            step: 0,
        }
    }

    /// Updates taken so far.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// One update of every parameter from its gradient, at learning rate `lr`. Gradients
    /// are read, not cleared (call [`ParamStore::zero_grad`]).
    pub fn step(&mut self, store: &mut ParamStore, lr: f32) {
        assert_eq!(
            self.m.len(),
            store.len(),
            "Adam::step: state for {} parameters, store has {}",
            self.m.len(),
            store.len()
        );
        let _p = crate::profile::scope("adam", 12 * store.num_elements() as u64);
        self.step += 1;
        let AdamConfig {
            beta1,
            beta2,
            eps,
            weight_decay,
            decoupled,
            skip_decay_on_vectors,
        } = self.config;
        let t = self.step as i32;
        let (bc1, bc2) = (1.0 - beta1.powi(t), 1.0 - beta2.powi(t));
        let ids: Vec<_> = store.ids().collect();
        for (i, id) in ids.into_iter().enumerate() {
            let decays =
                weight_decay != 0.0 && !(skip_decay_on_vectors && store.shape(id).len() < 2);
            let wd = if decays { weight_decay } else { 0.0 };
            let (p, g) = store.value_and_grad_mut(id);
            assert_eq!(
                p.shape(),
                self.m[i].shape(),
                "Adam::step: parameter {i} changed shape"
            );
            let (m, v) = (self.m[i].data_mut(), self.v[i].data_mut());
            for (((p, &g), m), v) in p.data_mut().iter_mut().zip(g.data()).zip(m).zip(v) {
                let g = if decoupled { g } else { g + wd * *p };
                if decoupled {
                    *p *= 1.0 - lr * wd;
                }
                *m = beta1 * *m + (1.0 - beta1) * g;
                *v = beta2 * *v + (1.0 - beta2) * g * g;
                *p -= lr * (*m / bc1) / ((*v / bc2).sqrt() + eps);
            }
        }
    }

    /// The state as named tensors `(name, shape, data)`: `optim.m.<param>`,
    /// `optim.v.<param>` for every parameter of `store` in its order, then `optim.step`
    /// (shape `[1]`).
    pub fn export_state(&self, store: &ParamStore) -> Vec<(String, Vec<usize>, Vec<f32>)> {
        assert!(
            self.step < MAX_EXACT_STEP,
            "Adam::export_state: step {} is not exact in f32",
            self.step
        );
        let mut out = Vec::with_capacity(2 * store.len() + 1);
        for (prefix, moments) in [(M_PREFIX, &self.m), (V_PREFIX, &self.v)] {
            for (id, t) in store.ids().zip(moments) {
                out.push((
                    format!("{prefix}{}", store.name(id)),
                    t.shape().to_vec(),
                    t.data().to_vec(),
                ));
            }
        }
        out.push((STEP_NAME.to_string(), vec![1], vec![self.step as f32]));
        out
    }

    /// Restores a state written by [`Adam::export_state`] for the same parameters; the
    /// whole set is checked first, and on error nothing changes.
    pub fn import_state(
        &mut self,
        store: &ParamStore,
        tensors: impl IntoIterator<Item = (String, Vec<usize>, Vec<f32>)>,
    ) -> Result<(), ParamError> {
        // Reuse the parameter store's checks: a store with one entry per state tensor.
        let mut expected = ParamStore::new();
        for id in store.ids() {
            expected.add(
                format!("{M_PREFIX}{}", store.name(id)),
                Tensor::zeros(store.shape(id)),
            );
        }
        for id in store.ids() {
            expected.add(
                format!("{V_PREFIX}{}", store.name(id)),
                Tensor::zeros(store.shape(id)),
            );
        }
        let step_id = expected.add(STEP_NAME, Tensor::zeros(&[1]));
        expected.load(tensors)?;
        let step = expected.value(step_id).item();
        if step < 0.0 || step.fract() != 0.0 || step >= MAX_EXACT_STEP as f32 {
            let problem = format!("{step} is not a whole step count below 2^24");
            return Err(ParamError::Value {
                name: STEP_NAME.to_string(),
                problem,
            });
        }
        let n = store.len();
        let mut values: Vec<Tensor> = expected
            .ids()
            .map(|id| expected.value(id).clone())
            .collect();
        values.truncate(2 * n);
        self.v = values.split_off(n);
        self.m = values;
        self.step = step as u64;
        Ok(())
    }
}

/// Warm-up then cosine decay: linear from `peak/warmup` up to `peak` over `warmup` steps,
/// then `final_lr + ½(peak − final_lr)(1 + cos(π·progress))` to `final_lr` at `total`,
/// and `final_lr` after.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LrSchedule {
    pub peak: f32,
    pub warmup: u64,
    pub total: u64,
    pub final_lr: f32,
}

impl LrSchedule {
    /// The learning rate for update number `step` (0-based).
    pub fn lr(&self, step: u64) -> f32 {
        if step < self.warmup {
            return self.peak * (step + 1) as f32 / self.warmup as f32;
        }
        let span = self.total.saturating_sub(self.warmup).max(1);
        let progress = ((step - self.warmup) as f64 / span as f64).min(1.0);
        let cos = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
        (self.final_lr as f64 + (self.peak - self.final_lr) as f64 * cos) as f32
    }
}

/// The L2 norm of all gradients together.
pub fn grad_norm(store: &ParamStore) -> f32 {
    let sq: f64 = store
        .iter()
        .flat_map(|(_, _, _, g)| g.data())
        .map(|&x| x as f64 * x as f64)
        .sum();
    sq.sqrt() as f32
}

/// Scales all gradients by `max_norm / norm` when their global norm exceeds `max_norm`
/// (PyTorch's `clip_grad_norm_`). Returns the norm before clipping; a non-finite norm is
/// returned with the gradients untouched, for the caller to skip the step.
pub fn clip_grad_norm(store: &mut ParamStore, max_norm: f32) -> f32 {
    let norm = grad_norm(store);
    if norm.is_finite() && norm > max_norm {
        // The 1e-6 guards against dividing by a vanishing norm (as PyTorch does).
        let s = max_norm / (norm + 1e-6);
        for id in store.ids().collect::<Vec<_>>() {
            for g in store.grad_mut(id).data_mut() {
                *g *= s;
            }
        }
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::layers::Linear;
    use crate::autograd::{ParamId, Tape};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// A two-layer ReLU MLP `in → hidden → 1` registered under `prefix`.
    fn mlp(
        store: &mut ParamStore,
        prefix: &str,
        inputs: usize,
        hidden: usize,
        rng: &mut StdRng,
    ) -> [Linear; 2] {
        [
            Linear::new(store, &format!("{prefix}.fc1"), inputs, hidden, true, rng),
            Linear::new(store, &format!("{prefix}.fc2"), hidden, 1, true, rng),
        ]
    }

    fn mlp_forward(
        t: &mut Tape,
        store: &ParamStore,
        net: &[Linear; 2],
        x: &crate::autograd::Var,
    ) -> crate::autograd::Var {
        let h = net[0].forward(t, store, x);
        let h = t.relu(&h);
        net[1].forward(t, store, &h)
    }

    /// Mean squared error of the student on (x, y), and its gradients in `store`.
    fn mse_step(store: &mut ParamStore, net: &[Linear; 2], x: &Tensor, y: &Tensor) -> f32 {
        let mut t = Tape::new();
        let xv = t.input(x.clone());
        let yv = t.constant(y.clone());
        let pred = mlp_forward(&mut t, store, net, &xv);
        let d = t.sub(&pred, &yv);
        let sq = t.mul(&d, &d);
        let loss = t.mean_all(&sq);
        t.backward(&loss);
        store.zero_grad();
        t.accumulate_param_grads(store);
        loss.item()
    }

    /// A student MLP (4 → 32 → 1) fits a random teacher MLP (4 → 8 → 1) on 64 points to
    /// near-zero loss with Adam, warm-up + cosine schedule and clipping.
    #[test]
    fn adam_fits_a_small_regression() {
        let mut rng = StdRng::seed_from_u64(5);
        let mut teacher_store = ParamStore::new();
        let teacher = mlp(&mut teacher_store, "teacher", 4, 8, &mut rng);
        let x = Tensor::randn(&[64, 4], 1.0, &mut rng);
        let mut t = Tape::no_grad();
        let xv = t.input(x.clone());
        let y = mlp_forward(&mut t, &teacher_store, &teacher, &xv)
            .value()
            .clone();
        let var = y.data().iter().map(|v| v * v).sum::<f32>() / 64.0;

        let mut store = ParamStore::new();
        let net = mlp(&mut store, "student", 4, 32, &mut rng);
        let mut adam = Adam::new(AdamConfig::adam(), &store);
        let schedule = LrSchedule {
            peak: 2e-2,
            warmup: 50,
            total: 1500,
            final_lr: 1e-4,
        };
        let first = mse_step(&mut store, &net, &x, &y);
        let mut last = first;
        for step in 0..1500 {
            last = mse_step(&mut store, &net, &x, &y);
            clip_grad_norm(&mut store, 10.0);
            adam.step(&mut store, schedule.lr(step));
        }
        assert!(
            last < 1e-3 * var && last < 1e-2 * first,
            "loss {first} -> {last} (target variance {var})"
        );
    }

    /// One Adam step from zero state moves each parameter by lr·g/(|g| + ε) ≈ lr·sign(g):
    /// m̂ = g, v̂ = g² after bias correction. AdamW also shrinks by (1 − lr·wd) first.
    #[test]
    fn first_step_is_lr_times_sign() {
        let mut store = ParamStore::new();
        let w = store.add("w", Tensor::new(&[3], vec![1.0, 1.0, 1.0]));
        store
            .grad_mut(w)
            .data_mut()
            .copy_from_slice(&[0.5, -2.0, 0.0]);
        let mut adam = Adam::new(AdamConfig::adam(), &store);
        adam.step(&mut store, 0.1);
        let p = store.value(w).data().to_vec();
        assert!(
            (p[0] - 0.9).abs() < 1e-6 && (p[1] - 1.1).abs() < 1e-6 && p[2] == 1.0,
            "{p:?}"
        );

        let mut store = ParamStore::new();
        let w = store.add("w", Tensor::new(&[1], vec![2.0]));
        let mut adamw = Adam::new(AdamConfig::adamw(0.5), &store);
        adamw.step(&mut store, 0.1);
        // 2·(1 − 0.1·0.5) = 1.9; the zero gradient adds no move.
        assert!((store.value(w).data()[0] - 1.9).abs() < 1e-6);
    }

    /// Exporting after some steps and importing into a fresh optimiser continues
    /// bit-for-bit like the original.
    #[test]
    fn state_round_trip_resumes_exactly() {
        let mut rng = StdRng::seed_from_u64(9);
        let mut store = ParamStore::new();
        let net = mlp(&mut store, "net", 3, 5, &mut rng);
        let x = Tensor::randn(&[8, 3], 1.0, &mut rng);
        let y = Tensor::randn(&[8, 1], 1.0, &mut rng);
        let mut adam = Adam::new(AdamConfig::adamw(0.01), &store);
        for _ in 0..5 {
            mse_step(&mut store, &net, &x, &y);
            adam.step(&mut store, 1e-2);
        }
        let state = adam.export_state(&store);
        assert_eq!(state.len(), 2 * store.len() + 1);
        assert_eq!(state[0].0, "optim.m.net.fc1.weight");
        let saved: Vec<(String, Vec<usize>, Vec<f32>)> = store
            .export()
            .map(|(n, s, d)| (n.to_string(), s.to_vec(), d.to_vec()))
            .collect();

        let mut resumed_store = ParamStore::new();
        let resumed_net = mlp(&mut resumed_store, "net", 3, 5, &mut rng);
        resumed_store.load(saved).unwrap();
        let mut resumed = Adam::new(AdamConfig::adamw(0.01), &resumed_store);
        resumed.import_state(&resumed_store, state).unwrap();
        assert_eq!(resumed.steps(), 5);
        for _ in 0..3 {
            mse_step(&mut store, &net, &x, &y);
            adam.step(&mut store, 1e-2);
            mse_step(&mut resumed_store, &resumed_net, &x, &y);
            resumed.step(&mut resumed_store, 1e-2);
        }
        for id in store.ids() {
            assert_eq!(
                store.value(id),
                resumed_store.value(id),
                "{}",
                store.name(id)
            );
        }
    }

    #[test]
    fn import_rejects_foreign_state() {
        let mut store = ParamStore::new();
        store.add("w", Tensor::zeros(&[2]));
        let mut adam = Adam::new(AdamConfig::adam(), &store);
        let mut state = adam.export_state(&store);
        state[2].2[0] = 1.5;
        let err = adam.import_state(&store, state.clone()).unwrap_err();
        assert!(err.to_string().contains("optim.step"), "{err}");
        state.pop();
        assert_eq!(
            adam.import_state(&store, state).unwrap_err(),
            ParamError::Missing {
                name: "optim.step".into()
            }
        );
    }

    /// Warm-up: lr(0) = peak/warmup, lr(warmup − 1) = peak; the cosine reaches the midpoint
    /// half-way and `final_lr` at `total` and after.
    #[test]
    fn schedule_shape() {
        let s = LrSchedule {
            peak: 1.0,
            warmup: 10,
            total: 110,
            final_lr: 0.0,
        };
        assert_eq!(s.lr(0), 0.1);
        assert_eq!(s.lr(9), 1.0);
        assert_eq!(s.lr(10), 1.0);
        assert!((s.lr(60) - 0.5).abs() < 1e-6);
        assert_eq!(s.lr(110), 0.0);
        assert_eq!(s.lr(1000), 0.0);
    }

    /// Gradients (3, 4) have norm 5; clipping to 1 scales them to (0.6, 0.8).
    #[test]
    fn clipping_scales_to_max_norm() {
        let mut store = ParamStore::new();
        let a: ParamId = store.add("a", Tensor::zeros(&[1]));
        let b = store.add("b", Tensor::zeros(&[1]));
        store.grad_mut(a).data_mut()[0] = 3.0;
        store.grad_mut(b).data_mut()[0] = 4.0;
        assert_eq!(clip_grad_norm(&mut store, 10.0), 5.0);
        assert_eq!(store.grad(a).data()[0], 3.0);
        assert_eq!(clip_grad_norm(&mut store, 1.0), 5.0);
        assert!(
            (store.grad(a).data()[0] - 0.6).abs() < 1e-6
                && (store.grad(b).data()[0] - 0.8).abs() < 1e-6
        );
    }
}
