//! General matrix multiply, `C ← α·op(A)·op(B) + β·C`, through `matrixmultiply::sgemm`
//! (packed AVX2/FMA micro-kernels), split over [`threads`] by us.
//!
//! Threads: C's longer side is cut into one block per thread, each block one
//! single-threaded sgemm. matrixmultiply's own pool (its `threading` feature) splits inside
//! one call and gave 145–148 GFLOP/s on the encoder's backward GEMMs on 2 cores, where
//! blocks give 159–163 (`cargo bench --bench train -- 5 --profile`, one sitting): a `paper`
//! step 0.375 → 0.349 s. Every element of C is the same k-ordered sum whatever the blocks,
//! so the split does not change a single bit of the result.
//!
//! Every matrix is a row-major slice; a transposed operand is read through swapped strides,
//! so no copy is ever made. [`gemm_naive`] is the obviously-correct twin the tests compare
//! against.

use std::ops::Range;

use super::parallel::threads;

/// One matrix operand: a row-major slice, read as its transpose when `trans` is set.
///
/// With `trans == false` the slice holds `rows × cols` of `op(X)` directly; with
/// `trans == true` it holds the `cols × rows` matrix `X`, and `op(X) = Xᵀ`.
#[derive(Clone, Copy)]
pub struct Mat<'a> {
    pub data: &'a [f32],
    pub trans: bool,
}

impl<'a> Mat<'a> {
    /// `X` as stored.
    pub fn n(data: &'a [f32]) -> Self {
        Mat { data, trans: false }
    }
    /// `Xᵀ` of the stored `X`.
    pub fn t(data: &'a [f32]) -> Self {
        Mat { data, trans: true }
    }
    pub fn with_trans(data: &'a [f32], trans: bool) -> Self {
        Mat { data, trans }
    }

    /// (row stride, column stride) of `op(X)`, an `rows × cols` matrix.
    fn strides(&self, cols_of_op: usize, rows_of_op: usize) -> (isize, isize) {
        if self.trans {
            (1, rows_of_op as isize)
        } else {
            (cols_of_op as isize, 1)
        }
    }
}

/// `C (m×n) ← alpha · op(A) (m×k) · op(B) (k×n) + beta · C`.
///
/// With `beta == 0` the old content of `c` is ignored (it may hold anything, even NaN).
/// Panics (naming the sizes) if a slice is shorter than its matrix. (BLAS's argument
/// order, kept on purpose: it reads like the formula.)
#[allow(clippy::too_many_arguments)]
pub fn gemm(m: usize, k: usize, n: usize, alpha: f32, a: Mat, b: Mat, beta: f32, c: &mut [f32]) {
    check_sizes("gemm", m, k, n, &a, &b, c);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // Nothing to multiply: C ← beta·C (sgemm would do the same, but say it plainly).
        for x in &mut c[..m * n] {
            *x = if beta == 0.0 { 0.0 } else { beta * *x };
        }
        return;
    }
    gemm_blocks(m, k, n, alpha, a, b, beta, c, blocks_for(m, k, n));
}

/// Below this many FLOPs per block a GEMM is not split: starting a scoped thread costs
/// ≈ 20–40 µs, about what 2^21 FLOPs take on one core.
const MIN_BLOCK_FLOPS: u64 = 1 << 21;

/// How many blocks (threads) a GEMM of this size is split into.
fn blocks_for(m: usize, k: usize, n: usize) -> usize {
    let most = (flops(m, k, n) / MIN_BLOCK_FLOPS).max(1);
    threads().min(most as usize)
}

/// [`gemm`] with C's longer side cut into `blocks` blocks (multiples of 16 rows or
/// columns), one per scoped thread (the calling thread takes the first).
#[allow(clippy::too_many_arguments)]
fn gemm_blocks(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: Mat,
    b: Mat,
    beta: f32,
    c: &mut [f32],
    blocks: usize,
) {
    check_sizes("gemm", m, k, n, &a, &b, c);
    let (rsa, csa) = a.strides(k, m);
    let (rsb, csb) = b.strides(n, k);
    let c_ptr = OutPtr(c.as_mut_ptr());
    let run = |rows: Range<usize>, cols: Range<usize>| {
        let c_ptr = &c_ptr;
        // SAFETY: `check_sizes` above proved that `a` holds m·k, `b` k·n and `c` m·n
        // floats; the block is rows × cols of C with rows ⊆ 0..m and cols ⊆ 0..n, so with
        // the strides above every index sgemm forms from the offset pointers stays inside
        // its slice.
        // `c` is an exclusive borrow; blocks run at the same time are disjoint, and within
        // one block (unit column stride, row stride n ≥ 1) no two elements alias each
        // other or `a`/`b`.
        unsafe {
            matrixmultiply::sgemm(
                rows.len(),
                k,
                cols.len(),
                alpha,
                a.data.as_ptr().offset(rows.start as isize * rsa),
                rsa,
                csa,
                b.data.as_ptr().offset(cols.start as isize * csb),
                rsb,
                csb,
                beta,
                c_ptr.0.add(rows.start * n + cols.start),
                n as isize,
                1,
            );
        }
    };
    let split_rows = m >= n;
    let len = if split_rows { m } else { n };
    let step = len.div_ceil(blocks.max(1)).next_multiple_of(16).min(len);
    let block = |start: usize| {
        let part = start..(start + step).min(len);
        if split_rows {
            (part, 0..n)
        } else {
            (0..m, part)
        }
    };
    if step == len {
        run(0..m, 0..n);
        return;
    }
    std::thread::scope(|scope| {
        for start in (step..len).step_by(step) {
            let (rows, cols) = block(start);
            let run = &run;
            scope.spawn(move || run(rows, cols));
        }
        let (rows, cols) = block(0);
        run(rows, cols);
    });
}

/// C's base pointer, shared with the scoped threads that write its disjoint blocks.
struct OutPtr(*mut f32);
// SAFETY: each thread writes only its own block of C (see `gemm_blocks`).
unsafe impl Sync for OutPtr {}

/// The same contract as [`gemm`], by the textbook triple loop (accumulating in f64).
/// Slow; the reference the fast path is tested against.
#[allow(clippy::too_many_arguments)]
pub fn gemm_naive(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: Mat,
    b: Mat,
    beta: f32,
    c: &mut [f32],
) {
    check_sizes("gemm_naive", m, k, n, &a, &b, c);
    let at = |i: usize, p: usize| {
        if a.trans {
            a.data[p * m + i]
        } else {
            a.data[i * k + p]
        }
    };
    let bt = |p: usize, j: usize| {
        if b.trans {
            b.data[j * k + p]
        } else {
            b.data[p * n + j]
        }
    };
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0.0f64;
            for p in 0..k {
                acc += at(i, p) as f64 * bt(p, j) as f64;
            }
            let old = if beta == 0.0 {
                0.0
            } else {
                beta * c[i * n + j]
            };
            c[i * n + j] = alpha * acc as f32 + old;
        }
    }
}

/// FLOPs of one `m×k · k×n` product (one multiply and one add per term).
pub fn flops(m: usize, k: usize, n: usize) -> u64 {
    2 * m as u64 * k as u64 * n as u64
}

fn check_sizes(op: &str, m: usize, k: usize, n: usize, a: &Mat, b: &Mat, c: &[f32]) {
    assert!(
        a.data.len() >= m * k && b.data.len() >= k * n && c.len() >= m * n,
        "{op}: m={m} k={k} n={n} needs A {} B {} C {} floats, got {} {} {}",
        m * k,
        k * n,
        m * n,
        a.data.len(),
        b.data.len(),
        c.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Tensor;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// The fast GEMM equals the triple loop for all four transpose combinations, ragged
    /// sizes (around the micro-kernel tiles), and both beta = 0 (C holds garbage) and
    /// beta ≠ 0.
    #[test]
    fn gemm_matches_naive_for_all_transposes_and_ragged_sizes() {
        let mut rng = StdRng::seed_from_u64(7);
        let sizes = [
            (1, 1, 1),
            (3, 7, 5),
            (17, 1, 9),
            (9, 33, 1),
            (31, 17, 65),
            (130, 67, 129),
        ];
        for &(m, k, n) in &sizes {
            for ta in [false, true] {
                for tb in [false, true] {
                    let a = Tensor::randn(&[m * k], 1.0, &mut rng);
                    let b = Tensor::randn(&[k * n], 1.0, &mut rng);
                    let c0 = Tensor::randn(&[m * n], 1.0, &mut rng);
                    for (alpha, beta) in [(1.0, 0.0), (0.5, 1.0), (-2.0, 0.25)] {
                        let (ma, mb) =
                            (Mat::with_trans(a.data(), ta), Mat::with_trans(b.data(), tb));
                        let mut fast = c0.data().to_vec();
                        if beta == 0.0 {
                            fast.fill(f32::NAN);
                        }
                        let mut slow = c0.data().to_vec();
                        gemm(m, k, n, alpha, ma, mb, beta, &mut fast);
                        gemm_naive(m, k, n, alpha, ma, mb, beta, &mut slow);
                        let err = fast
                            .iter()
                            .zip(&slow)
                            .map(|(x, y)| (x - y).abs())
                            .fold(0.0, f32::max);
                        // Terms ~N(0,1): a sum of k products has size ~√k; f32 rounding ~1e-6·k.
                        assert!(
                            err <= 1e-5 * (k as f32 + 1.0) * 4.0,
                            "m={m} k={k} n={n} ta={ta} tb={tb}: {err}"
                        );
                    }
                }
            }
        }
    }

    /// Cutting C into blocks changes no bit of the result, along rows (m ≥ n) or columns,
    /// for ragged block sizes and every transpose combination; and the blocks are right.
    #[test]
    fn blocks_give_the_unsplit_result_bit_for_bit() {
        let mut rng = StdRng::seed_from_u64(11);
        for &(m, k, n) in &[(131, 40, 37), (29, 75, 150), (64, 9, 64), (5, 3, 200)] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let a = Tensor::randn(&[m * k], 1.0, &mut rng);
                let b = Tensor::randn(&[k * n], 1.0, &mut rng);
                let c0 = Tensor::randn(&[m * n], 1.0, &mut rng);
                let (ma, mb) = (Mat::with_trans(a.data(), ta), Mat::with_trans(b.data(), tb));
                let product = |blocks: usize| {
                    let mut c = c0.data().to_vec();
                    gemm_blocks(m, k, n, 0.5, ma, mb, 1.0, &mut c, blocks);
                    c
                };
                let whole = product(1);
                for blocks in [2, 3, 7] {
                    let split = product(blocks);
                    assert!(
                        whole
                            .iter()
                            .zip(&split)
                            .all(|(x, y)| x.to_bits() == y.to_bits()),
                        "m={m} k={k} n={n} ta={ta} tb={tb}: {blocks} blocks"
                    );
                }
                let mut slow = c0.data().to_vec();
                gemm_naive(m, k, n, 0.5, ma, mb, 1.0, &mut slow);
                let err = whole
                    .iter()
                    .zip(&slow)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0.0, f32::max);
                assert!(err <= 1e-4 * k as f32, "m={m} k={k} n={n}: {err}");
            }
        }
    }

    #[test]
    fn k_zero_scales_c() {
        let mut c = vec![2.0f32; 6];
        gemm(2, 0, 3, 1.0, Mat::n(&[]), Mat::n(&[]), 0.5, &mut c);
        assert_eq!(c, vec![1.0; 6]);
    }

    #[test]
    #[should_panic(expected = "gemm: m=2 k=3 n=4 needs A 6 B 12 C 8 floats, got 6 11 8")]
    fn short_operand_panics_with_sizes() {
        gemm(
            2,
            3,
            4,
            1.0,
            Mat::n(&[0.0; 6]),
            Mat::n(&[0.0; 11]),
            0.0,
            &mut [0.0; 8],
        );
    }
}
