//! A safe, bounds-checked front to `matrixmultiply::sgemm` for the losses and Sinkhorn.
//!
//! Every matrix is a row-major slice; a transposed operand is read through swapped
//! strides, never copied. The tensor engine has its own GEMM; this one exists so that the
//! slice-level losses do not depend on the tensor type.

/// How an operand is read: as stored, or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// The slice holds the (rows × cols) operand itself.
    N,
    /// The slice holds the transpose, (cols × rows), row-major.
    T,
}

/// `c (m × n) = alpha · op(a) (m × k) · op(b) (k × n) + beta · c`, all row-major.
///
/// With `beta == 0` the old content of `c` is ignored (NaNs in it do not leak).
/// Panics (with the shapes) if a slice is too short for its operand.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: &[f32],
    op_a: Op,
    b: &[f32],
    op_b: Op,
    beta: f32,
    c: &mut [f32],
) {
    assert!(
        a.len() >= m * k && b.len() >= k * n && c.len() >= m * n,
        "sgemm: operands too short for ({m} × {k}) · ({k} × {n}): a {}, b {}, c {}",
        a.len(),
        b.len(),
        c.len()
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // matrixmultiply handles k = 0, but scaling by beta here keeps the contract obvious.
        c[..m * n]
            .iter_mut()
            .for_each(|x| *x = if beta == 0.0 { 0.0 } else { *x * beta });
        return;
    }
    // (row stride, column stride) of op(x) inside its row-major storage.
    let (rsa, csa) = match op_a {
        Op::N => (k as isize, 1),
        Op::T => (1, m as isize),
    };
    let (rsb, csb) = match op_b {
        Op::N => (n as isize, 1),
        Op::T => (1, k as isize),
    };
    // SAFETY: the assert above guarantees that every element addressed by the strides is
    // inside its slice: op(a) reaches at most index (m−1)·k + (k−1) < m·k (N) or
    // (k−1)·m + (m−1) < m·k (T), likewise for b and for c with (n, 1). `c` is borrowed
    // mutably and does not alias `a` or `b` (Rust borrow rules).
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            rsa,
            csa,
            b.as_ptr(),
            rsb,
            csb,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, k: usize, n: usize, a: &[f32], ta: Op, b: &[f32], tb: Op) -> Vec<f32> {
        let at = |i: usize, p: usize| {
            if ta == Op::N {
                a[i * k + p]
            } else {
                a[p * m + i]
            }
        };
        let bt = |p: usize, j: usize| {
            if tb == Op::N {
                b[p * n + j]
            } else {
                b[j * k + p]
            }
        };
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| at(i, p) * bt(p, j)).sum();
            }
        }
        c
    }

    #[test]
    fn sgemm_matches_naive_for_every_transpose() {
        // Integer-valued entries make every product exact in f32.
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|i| (i % 5) as f32 - 2.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 7) as f32 - 3.0).collect();
        for ta in [Op::N, Op::T] {
            for tb in [Op::N, Op::T] {
                let mut c = vec![f32::NAN; m * n];
                sgemm(m, k, n, 1.0, &a, ta, &b, tb, 0.0, &mut c);
                assert_eq!(c, naive(m, k, n, &a, ta, &b, tb), "{ta:?} {tb:?}");
                // beta = 1 accumulates.
                sgemm(m, k, n, 2.0, &a, ta, &b, tb, 1.0, &mut c);
                let want: Vec<f32> = naive(m, k, n, &a, ta, &b, tb)
                    .iter()
                    .map(|x| 3.0 * x)
                    .collect();
                assert_eq!(c, want);
            }
        }
    }

    #[test]
    #[should_panic(expected = "sgemm: operands too short")]
    fn sgemm_rejects_short_operands() {
        let mut c = vec![0.0; 4];
        sgemm(
            2,
            3,
            2,
            1.0,
            &[0.0; 5],
            Op::N,
            &[0.0; 6],
            Op::N,
            0.0,
            &mut c,
        );
    }
}
