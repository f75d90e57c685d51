//! L_r, the balanced hash loss: pull q̂(x) and q̂(x⁺) towards the bucket k* that the
//! balanced assignment (see [`crate::train::sinkhorn`]) gave x.
//!
//! Buckets are the sign vectors b_k ∈ {−1,+1}^K with centroids c_k = b_k / √K, scores
//! s_k = q̂·c_k. DESIGN §4:
//!
//! ```text
//! L_r = −½ mean_batch [ log softmax_k(s(x)/τ)_{k*} + log softmax_k(s(x⁺)/τ)_{k*} ]
//! ```
//!
//! The softmax over all 2^K buckets factorises per bit, because Σ_k exp(s_k/τ) =
//! Π_i 2·cosh(y_i) with y_i = q̂_i / (τ√K):
//!
//! ```text
//! log softmax(s/τ)_k = Σ_i [ y_i b_{k,i} − log(e^{y_i} + e^{−y_i}) ] = Σ_i log σ(2 y_i b_{k,i})
//! ```
//!
//! so the loss and its gradient cost O(K) per item, exactly. With z_i = γ q̂_i b_i,
//! γ = 2 / (τ√K): ∂(−log σ(z_i))/∂q̂_i = −γ b_i σ(−z_i).
//!
//! k* is a constant (no gradient flows through the assignment).

use crate::train::sinkhorn::bit_sign;

/// What [`balanced_hash_backward`] needs: ∂loss/∂q̂ for dloss = 1.
#[derive(Clone, Debug)]
pub struct BalancedHashCache {
    batch: usize,
    bits: usize,
    /// (B, K) for the anchors x, then (B, K) for the positives x⁺.
    grad: Vec<f32>,
}

/// log σ(z) = −softplus(−z), stable for every z.
fn log_sigmoid(z: f32) -> f32 {
    -((-z).max(0.0) + (-z.abs()).exp().ln_1p())
}

/// Forward: returns L_r and the cache for [`balanced_hash_backward`].
///
/// `qx`, `qp`: (B, K) unit hash directions q̂ of the anchors and positives; `targets`: (B)
/// buckets k* (bit i of k* set ⇔ b_{k*,i} = +1); τ > 0.
pub fn balanced_hash_forward(
    qx: &[f32],
    qp: &[f32],
    targets: &[u32],
    bits: usize,
    temperature: f32,
) -> (f32, BalancedHashCache) {
    let b = targets.len();
    assert!(
        (1..=32).contains(&bits) && qx.len() == b * bits && qp.len() == b * bits,
        "balanced_hash_forward: q̂(x) {} and q̂(x⁺) {} must be (B={b}, K={bits}), 1 ≤ K ≤ 32",
        qx.len(),
        qp.len()
    );
    assert!(
        temperature > 0.0,
        "balanced_hash_forward: temperature {temperature} must be > 0"
    );
    let gamma = 2.0 / (temperature * (bits as f32).sqrt());
    // Each of the 2B log-probabilities enters with weight 1 / (2B).
    let w = 1.0 / (2 * b) as f32;
    let mut grad = vec![0.0; 2 * b * bits];
    let mut total = 0.0f64;
    for (side, q) in [qx, qp].into_iter().enumerate() {
        for (n, row) in q.chunks_exact(bits).enumerate() {
            let g = &mut grad[(side * b + n) * bits..(side * b + n + 1) * bits];
            for (i, (&qi, gi)) in row.iter().zip(g).enumerate() {
                let sign = bit_sign(targets[n], i);
                let z = gamma * qi * sign;
                total -= log_sigmoid(z) as f64;
                // σ(−z) = 1 / (1 + e^z)
                *gi = -w * gamma * sign / (1.0 + z.exp());
            }
        }
    }
    let loss = if b == 0 {
        0.0
    } else {
        (total / (2 * b) as f64) as f32
    };
    (
        loss,
        BalancedHashCache {
            batch: b,
            bits,
            grad,
        },
    )
}

/// Backward: accumulates (`+=`) ∂loss/∂q̂(x) and ∂loss/∂q̂(x⁺), each (B, K), scaled by
/// `dloss`.
pub fn balanced_hash_backward(
    cache: &BalancedHashCache,
    dloss: f32,
    dqx: &mut [f32],
    dqp: &mut [f32],
) {
    let n = cache.batch * cache.bits;
    assert!(
        dqx.len() == n && dqp.len() == n,
        "balanced_hash_backward: cache is for (B={}, K={}); got dqx {}, dqp {}",
        cache.batch,
        cache.bits,
        dqx.len(),
        dqp.len()
    );
    let (gx, gp) = cache.grad.split_at(n);
    for (d, g) in dqx.iter_mut().zip(gx).chain(dqp.iter_mut().zip(gp)) {
        *d += dloss * g;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// −log softmax_k(s/τ)_{target} over all 2^K buckets written out, and its gradient
    /// −(1/(τ√K)) (b_target − Σ_k p_k b_k), in f64.
    fn explicit(q: &[f64], target: u32, tau: f64) -> (f64, Vec<f64>) {
        let k = q.len();
        let sign = |bucket: u32, i: usize| bit_sign(bucket, i) as f64;
        let logits: Vec<f64> = (0..1u32 << k)
            .map(|bk| (0..k).map(|i| q[i] * sign(bk, i)).sum::<f64>() / ((k as f64).sqrt() * tau))
            .collect();
        let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = logits.iter().map(|l| (l - max).exp()).sum();
        let nll = max + z.ln() - logits[target as usize];
        let mut mean_b = vec![0.0; k];
        for (bk, l) in logits.iter().enumerate() {
            let pk = (l - max).exp() / z;
            (0..k).for_each(|i| mean_b[i] += pk * sign(bk as u32, i));
        }
        let c = 1.0 / ((k as f64).sqrt() * tau);
        let grad = (0..k).map(|i| -c * (sign(target, i) - mean_b[i])).collect();
        (nll, grad)
    }

    fn unit(rng: &mut StdRng, k: usize) -> Vec<f32> {
        let v: Vec<f32> = (0..k).map(|_| rng.random_range(-1.0..1.0)).collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / n).collect()
    }

    #[test]
    fn factorised_loss_and_gradient_equal_explicit_softmax_over_all_buckets() {
        let mut rng = StdRng::seed_from_u64(11);
        let tau = 0.1;
        for bits in 2..=10 {
            let b = 3;
            let qx: Vec<f32> = (0..b).flat_map(|_| unit(&mut rng, bits)).collect();
            let qp: Vec<f32> = (0..b).flat_map(|_| unit(&mut rng, bits)).collect();
            let targets: Vec<u32> = (0..b).map(|_| rng.random_range(0..1u32 << bits)).collect();
            let (loss, cache) = balanced_hash_forward(&qx, &qp, &targets, bits, tau);
            let (mut dqx, mut dqp) = (vec![0.0; b * bits], vec![0.0; b * bits]);
            balanced_hash_backward(&cache, 1.0, &mut dqx, &mut dqp);

            let mut want = 0.0;
            for (q, dq) in [(&qx, &dqx), (&qp, &dqp)] {
                for n in 0..b {
                    let row: Vec<f64> = q[n * bits..(n + 1) * bits]
                        .iter()
                        .map(|&v| v as f64)
                        .collect();
                    let (nll, g) = explicit(&row, targets[n], tau as f64);
                    want += nll / (2 * b) as f64;
                    for i in 0..bits {
                        let (got, exp) = (dq[n * bits + i] as f64, g[i] / (2 * b) as f64);
                        assert!(
                            (got - exp).abs() < 1e-5 + 1e-4 * exp.abs(),
                            "K={bits}: {got} vs {exp}"
                        );
                    }
                }
            }
            assert!(
                (loss as f64 - want).abs() < 1e-4 * want.max(1.0),
                "K={bits}: {loss} vs {want}"
            );
        }
    }

    /// The explicit form's gradient is itself checked against central differences, so
    /// that the comparison above is anchored to the definition.
    #[test]
    fn explicit_softmax_gradient_matches_finite_differences() {
        let mut rng = StdRng::seed_from_u64(12);
        let q: Vec<f64> = unit(&mut rng, 6).into_iter().map(|v| v as f64).collect();
        let (_, g) = explicit(&q, 0b101101, 0.1);
        for i in 0..q.len() {
            let at = |d: f64| {
                let mut q = q.clone();
                q[i] += d;
                explicit(&q, 0b101101, 0.1).0
            };
            let fd = (at(1e-6) - at(-1e-6)) / 2e-6;
            assert!(
                (g[i] - fd).abs() < 1e-6 + 1e-6 * fd.abs(),
                "{} vs {fd}",
                g[i]
            );
        }
    }

    #[test]
    fn gradient_pulls_towards_the_target_bucket() {
        // A code that already sits in its target bucket loses little and is pushed further
        // along every bit's sign; the opposite bucket costs more.
        let q = [0.5f32, -0.5, 0.5, -0.5];
        let home = 0b0101; // bits 0 and 2 set ⇔ q_0, q_2 > 0
        let (near, cache) = balanced_hash_forward(&q, &q, &[home], 4, 0.1);
        let (far, _) = balanced_hash_forward(&q, &q, &[!home & 0b1111], 4, 0.1);
        assert!(near < far, "{near} vs {far}");
        let (mut dx, mut dp) = ([0.0f32; 4], [0.0f32; 4]);
        balanced_hash_backward(&cache, 1.0, &mut dx, &mut dp);
        for i in 0..4 {
            // Gradient descent moves q_i in the direction of b_i.
            assert!(-dx[i] * bit_sign(home, i) > 0.0 && dx[i] == dp[i]);
        }
    }

    #[test]
    #[should_panic(expected = "balanced_hash_forward")]
    fn rejects_mismatched_shapes() {
        balanced_hash_forward(&[0.0; 8], &[0.0; 8], &[0, 1, 2], 4, 0.1);
    }
}
