//! Host side of `shaders/sinkhorn.wgsl`: batched log-domain Sinkhorn-Knopp for the
//! balanced bucket assignment (DESIGN.md §4, after SwAV).

use crate::error::Result;
use crate::gpu::batch::{Batch, assert_len, assert_no_alias, index_u32};
use crate::gpu::buffer::GpuBuffer;
use crate::gpu::shader::{Access, Kernel, SINKHORN};

use Access::{Read, ReadWrite};

/// Invocations per workgroup (WG in the shader).
const WG: usize = 64;

static SOLVE: Kernel = Kernel {
    shader: &SINKHORN,
    entry: "sinkhorn_solve",
    bindings: &[(1, Read), (2, ReadWrite)],
};
static LOG_PLAN: Kernel = Kernel {
    shader: &SINKHORN,
    entry: "sinkhorn_log_plan",
    bindings: &[(1, Read), (3, Read), (4, ReadWrite)],
};
static ARGMAX: Kernel = Kernel {
    shader: &SINKHORN,
    entry: "sinkhorn_argmax",
    bindings: &[(1, Read), (3, Read), (5, ReadWrite)],
};

/// `problems` independent balanced-assignment problems, each a score matrix of `n`
/// items × `m` buckets (row-major, consecutive). Entropic regularisation `eps`
/// (DESIGN.md: ε ≈ 0.05) and `iters` column-then-row normalisations (3+). The plan
/// `Π = exp(S/ε + u_i + v_j)` ends with rows summing to exactly 1/n and columns to
/// about 1/m. Potentials: `problems × (n + m)`, u then v per problem.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sinkhorn {
    pub problems: usize,
    pub n: usize,
    pub m: usize,
    pub eps: f32,
    pub iters: u32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    problems: u32,
    n: u32,
    m: u32,
    iters: u32,
    inv_eps: f32,
    log_row_mass: f32,
    log_col_mass: f32,
}

impl Sinkhorn {
    fn params(&self, op: &str) -> Result<Params> {
        assert!(self.eps > 0.0, "{op}: eps = {} must be positive", self.eps);
        index_u32(op, "problems × n × m", self.problems * self.n * self.m)?;
        index_u32(op, "problems × (n + m)", self.problems * (self.n + self.m))?;
        Ok(Params {
            problems: index_u32(op, "problems", self.problems)?,
            n: index_u32(op, "n", self.n)?,
            m: index_u32(op, "m", self.m)?,
            iters: self.iters,
            inv_eps: 1.0 / self.eps,
            log_row_mass: -(self.n.max(1) as f32).ln(),
            log_col_mass: -(self.m.max(1) as f32).ln(),
        })
    }

    fn check(&self, op: &str, scores: &GpuBuffer, potentials: &GpuBuffer) {
        let dims = format!("problems {} × n {} × m {}", self.problems, self.n, self.m);
        assert_len(
            op,
            "scores",
            scores.len(),
            self.problems * self.n * self.m,
            &dims,
        );
        assert_len(
            op,
            "potentials",
            potentials.len(),
            self.problems * (self.n + self.m),
            &dims,
        );
    }
}

/// Runs the iterations, one workgroup per problem, and writes the potentials.
pub fn sinkhorn_solve(
    batch: &mut Batch<'_>,
    shape: &Sinkhorn,
    scores: &GpuBuffer,
    potentials: &GpuBuffer,
) -> Result<()> {
    const OP: &str = "sinkhorn_solve";
    let params = shape.params(OP)?;
    shape.check(OP, scores, potentials);
    assert_no_alias(
        OP,
        &[("potentials", potentials.id())],
        &[("scores", scores.id()), ("potentials", potentials.id())],
    );
    let groups = batch.grid(OP, shape.problems)?;
    batch.dispatch(
        &SOLVE,
        &[],
        &params,
        &[scores.raw(), potentials.raw()],
        groups,
    )
}

/// Writes the log transport plan `log Π` (problems × n × m) from solved potentials.
pub fn sinkhorn_log_plan(
    batch: &mut Batch<'_>,
    shape: &Sinkhorn,
    scores: &GpuBuffer,
    potentials: &GpuBuffer,
    plan: &GpuBuffer,
) -> Result<()> {
    const OP: &str = "sinkhorn_log_plan";
    let params = shape.params(OP)?;
    shape.check(OP, scores, potentials);
    assert_len(OP, "plan", plan.len(), scores.len(), "problems × n × m");
    let all = [
        ("plan", plan.id()),
        ("scores", scores.id()),
        ("potentials", potentials.id()),
    ];
    assert_no_alias(OP, &all[..1], &all);
    let groups = batch.grid(OP, plan.len().div_ceil(WG))?;
    batch.dispatch(
        &LOG_PLAN,
        &[],
        &params,
        &[scores.raw(), potentials.raw(), plan.raw()],
        groups,
    )
}

/// Writes each item's bucket under the plan, `argmax_j Π[i, j]` (problems × n; the
/// lowest bucket index on ties).
pub fn sinkhorn_argmax(
    batch: &mut Batch<'_>,
    shape: &Sinkhorn,
    scores: &GpuBuffer,
    potentials: &GpuBuffer,
    assign: &GpuBuffer<u32>,
) -> Result<()> {
    const OP: &str = "sinkhorn_argmax";
    let params = shape.params(OP)?;
    shape.check(OP, scores, potentials);
    assert_len(
        OP,
        "assign",
        assign.len(),
        shape.problems * shape.n,
        "problems × n",
    );
    let groups = batch.grid(OP, assign.len().div_ceil(WG))?;
    batch.dispatch(
        &ARGMAX,
        &[],
        &params,
        &[scores.raw(), potentials.raw(), assign.raw()],
        groups,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::testing::{assert_close, buffer, narrow, random, shared_gpu, wide};

    /// The textbook matrix-scaling Sinkhorn-Knopp on K = exp(S/ε), in f64: scale the
    /// columns to 1/m, then the rows to 1/n, `iters` times. Returns log Π.
    fn sinkhorn_ref(scores: &[f64], n: usize, m: usize, eps: f64, iters: u32) -> Vec<f64> {
        let k: Vec<f64> = scores.iter().map(|s| (s / eps).exp()).collect();
        let (mut r, mut c) = (vec![1.0; n], vec![1.0; m]);
        for _ in 0..iters {
            for j in 0..m {
                c[j] = 1.0 / m as f64 / (0..n).map(|i| k[i * m + j] * r[i]).sum::<f64>();
            }
            for i in 0..n {
                r[i] = 1.0 / n as f64 / (0..m).map(|j| k[i * m + j] * c[j]).sum::<f64>();
            }
        }
        (0..n * m)
            .map(|at| (r[at / m] * k[at] * c[at % m]).ln())
            .collect()
    }

    #[test]
    fn reference_balances_rows_exactly_and_columns_approximately() {
        let (n, m) = (12, 4);
        let plan = sinkhorn_ref(&wide(&random(n * m, 80)), n, m, 0.5, 50);
        for i in 0..n {
            let row: f64 = (0..m).map(|j| plan[i * m + j].exp()).sum();
            assert!((row - 1.0 / n as f64).abs() < 1e-12, "row {i}: {row}");
        }
        for j in 0..m {
            let col: f64 = (0..n).map(|i| plan[i * m + j].exp()).sum();
            assert!((col - 1.0 / m as f64).abs() < 1e-6, "column {j}: {col}");
        }
    }

    fn check(shape: Sinkhorn, seed: u64) {
        let Some(gpu) = shared_gpu() else { return };
        let Sinkhorn {
            problems,
            n,
            m,
            eps,
            iters,
        } = shape;
        let scores = random(problems * n * m, seed);
        let (gscores, pot) = (
            buffer(gpu, &scores),
            buffer(gpu, &vec![0.0; problems * (n + m)]),
        );
        let plan = buffer(gpu, &vec![0.0; problems * n * m]);
        let assign = GpuBuffer::<u32>::zeros(gpu, problems * n).unwrap();
        let mut batch = gpu.batch();
        sinkhorn_solve(&mut batch, &shape, &gscores, &pot).unwrap();
        sinkhorn_log_plan(&mut batch, &shape, &gscores, &pot, &plan).unwrap();
        sinkhorn_argmax(&mut batch, &shape, &gscores, &pot, &assign).unwrap();
        batch.submit();

        let got_plan = plan.read(gpu).unwrap();
        let got_assign = assign.read(gpu).unwrap();
        for q in 0..problems {
            let what = format!("problem {q} of {shape:?}");
            let s = wide(&scores[q * n * m..(q + 1) * n * m]);
            let want = sinkhorn_ref(&s, n, m, f64::from(eps), iters);
            assert_close(
                &format!("log plan {what}"),
                &got_plan[q * n * m..(q + 1) * n * m],
                &narrow(&want),
                1e-4,
            );
            for i in 0..n {
                let row = &want[i * m..(i + 1) * m];
                let best = (0..m).fold(0, |b, j| if row[j] > row[b] { j } else { b });
                assert_eq!(
                    got_assign[q * n + i] as usize,
                    best,
                    "argmax of item {i}, {what}"
                );
            }
        }
    }

    #[test]
    fn solve_plan_and_argmax_match_the_matrix_scaling_reference() {
        check(
            Sinkhorn {
                problems: 3,
                n: 5,
                m: 4,
                eps: 0.25,
                iters: 5,
            },
            81,
        );
        // More rows and columns than the 64 invocations of a workgroup.
        check(
            Sinkhorn {
                problems: 2,
                n: 100,
                m: 70,
                eps: 0.05,
                iters: 3,
            },
            82,
        );
    }
}
