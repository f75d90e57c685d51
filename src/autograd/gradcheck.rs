//! Finite-difference gradient checking (after ggml's `test-backend-ops`).
//!
//! The function under test `f` maps inputs to a tensor `y`; the scalar checked is
//! `L = Σ R ⊙ y` for a fixed random `R`, so that every output element matters with its own
//! weight. The analytic gradient comes from the tape (seeded with `R`); the numeric one
//! from central differences, `(L(x + h) − L(x − h)) / (x₊ − x₋)`, where `L` is summed in
//! f64 and the denominator is the f32 step actually taken (not the nominal `2h`). At most
//! `max_elements` elements per tensor are checked, sampled at random.
//!
//! Kinks (ReLU at 0) break central differences; callers keep inputs away from them, or set
//! `skip_kinks`: an element whose numeric derivative changes when the step is halved is
//! then skipped and counted, not failed. A wrong analytic gradient does not make the numeric
//! one inconsistent, so skipping cannot hide a bug.

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::{ParamId, ParamStore, Tape, Var};
use crate::tensor::Tensor;

/// Settings of one check.
#[derive(Clone, Copy, Debug)]
pub struct GradCheck {
    /// Central-difference step `h` (absolute; inputs are O(1)).
    pub step: f32,
    /// Passing: `|analytic − numeric| ≤ atol + rtol · max(|analytic|, |numeric|)`.
    pub rtol: f64,
    pub atol: f64,
    /// Elements checked per tensor, at most.
    pub max_elements: usize,
    /// Skip elements where the numeric derivative is inconsistent between `h` and `h/2`.
    pub skip_kinks: bool,
    /// Seed for `R` and the element sample.
    pub seed: u64,
}

impl Default for GradCheck {
    /// `h = 1e-2`: central differences err by O(h²·f‴) ≈ 1e-4 relative, f32 rounding of
    /// the outputs by ≈ 1e-7·|y|/h ≈ 1e-5; so 1e-2 relative is a safe, still sharp bound.
    fn default() -> Self {
        GradCheck {
            step: 1e-2,
            rtol: 1e-2,
            atol: 1e-3,
            max_elements: 48,
            skip_kinks: false,
            seed: 0x5eed,
        }
    }
}

/// One element whose gradients disagree.
#[derive(Clone, Debug)]
pub struct Mismatch {
    pub tensor: String,
    pub index: usize,
    pub analytic: f64,
    pub numeric: f64,
}

/// The outcome of a check.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Elements compared.
    pub checked: usize,
    /// Elements skipped as kinks.
    pub skipped: usize,
    /// Largest `|a − n| / (atol + rtol·max(|a|, |n|))` seen (≤ 1 passes), and where.
    pub worst: f64,
    pub worst_at: Option<Mismatch>,
    pub failures: Vec<Mismatch>,
}

impl Report {
    /// Panics, listing the first failures, unless every element passed and at most
    /// `max_skipped_fraction` of them were skipped as kinks.
    pub fn assert_ok(&self, what: &str, max_skipped_fraction: f64) {
        let total = (self.checked + self.skipped).max(1);
        assert!(
            self.failures.is_empty()
                && self.skipped as f64 <= max_skipped_fraction * total as f64
                && self.checked > 0,
            "gradcheck {what}: {} of {} elements failed, {} skipped as kinks, worst {:.2} at {:?}; first: {:?}",
            self.failures.len(),
            self.checked,
            self.skipped,
            self.worst,
            self.worst_at,
            &self.failures[..self.failures.len().min(5)]
        );
    }
}

/// Checks the gradients of `f` with respect to `inputs` (each becomes a leaf).
pub fn check(inputs: &[Tensor], f: impl Fn(&mut Tape, &[Var]) -> Var, cfg: &GradCheck) -> Report {
    let mut store = ParamStore::new();
    let ids: Vec<ParamId> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| store.add(format!("input.{i}"), t.clone()))
        .collect();
    check_params(
        &mut store,
        |tape, store| {
            let vars: Vec<Var> = ids.iter().map(|&id| tape.param(store, id)).collect();
            f(tape, &vars)
        },
        cfg,
    )
}

/// Checks the gradients of `f` with respect to every parameter of `store` (values are
/// perturbed in place and restored).
pub fn check_params(
    store: &mut ParamStore,
    f: impl Fn(&mut Tape, &ParamStore) -> Var,
    cfg: &GradCheck,
) -> Report {
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    // Analytic: one backward pass seeded with R.
    store.zero_grad();
    let mut tape = Tape::new();
    let y = f(&mut tape, store);
    let r = Tensor::randn(y.shape(), 1.0, &mut rng);
    tape.backward_from(&y, r.clone());
    tape.accumulate_param_grads(store);
    drop(tape);

    let loss = |store: &ParamStore| -> f64 {
        let mut tape = Tape::no_grad();
        let y = f(&mut tape, store);
        y.data()
            .iter()
            .zip(r.data())
            .map(|(&a, &b)| a as f64 * b as f64)
            .sum()
    };
    let mut report = Report::default();
    let ids: Vec<ParamId> = store.ids().collect();
    for id in ids {
        let n = store.value(id).numel();
        let picks = if n <= cfg.max_elements {
            (0..n).collect()
        } else {
            rand::seq::index::sample(&mut rng, n, cfg.max_elements).into_vec()
        };
        for e in picks {
            let analytic = store.grad(id).data()[e] as f64;
            let numeric = central_difference(store, id, e, cfg.step, &loss);
            if cfg.skip_kinks {
                let half = central_difference(store, id, e, cfg.step / 2.0, &loss);
                if !within(numeric, half, cfg).0 {
                    report.skipped += 1;
                    continue;
                }
            }
            let (ok, ratio) = within(analytic, numeric, cfg);
            let here = || Mismatch {
                tensor: store.name(id).to_string(),
                index: e,
                analytic,
                numeric,
            };
            report.checked += 1;
            if ratio >= report.worst {
                report.worst = ratio;
                report.worst_at = Some(here());
            }
            if !ok {
                report.failures.push(here());
            }
        }
    }
    report
}

fn central_difference(
    store: &mut ParamStore,
    id: ParamId,
    e: usize,
    h: f32,
    loss: &impl Fn(&ParamStore) -> f64,
) -> f64 {
    let orig = store.value(id).data()[e];
    let (plus, minus) = (orig + h, orig - h);
    store.value_mut(id).data_mut()[e] = plus;
    let lp = loss(store);
    store.value_mut(id).data_mut()[e] = minus;
    let lm = loss(store);
    store.value_mut(id).data_mut()[e] = orig;
    (lp - lm) / (plus as f64 - minus as f64)
}

/// (passes, |a − n| / allowed).
fn within(a: f64, n: f64, cfg: &GradCheck) -> (bool, f64) {
    let allowed = cfg.atol + cfg.rtol * a.abs().max(n.abs());
    let ratio = (a - n).abs() / allowed;
    (ratio <= 1.0, ratio)
}
