// ntxent.wgsl — the two steps of NT-Xent (InfoNCE, both directions) that are not
// matrix products. Given L2-normalised anchors z_a and positives z_p (n × dim), and
// m ≥ 0 hard negatives z_h (m × dim) that are negatives for the anchors only, the host
// first forms the logits S = z_a [z_p; z_h]ᵀ / τ (n × c, c = n + m) with gemm.wgsl; then
//
//   loss = 1/(2n) · Σ_i [ lse(S[i, 0..c]) − S[i, i] ]  +  [ lse(S[0..n, i]) − S[i, i] ]
//
// i.e. the mean over both directions (anchor → positives and hard negatives, positive →
// anchors) of −log softmax at the positive, with lse(v) = log Σ exp(v). The gradient is
//
//   dS[i, j] = dloss / (2n) · ( P[i, j] + Q[i, j] − 2·[i = j] ),
//   P = softmax over the rows of S, Q = softmax over the first n columns (Q = 0 on the
//   hard-negative columns j ≥ n),
//
// and the host finishes with gemm: dz_a += dS [z_p; z_h] / τ, d[z_p; z_h] += dSᵀ z_a / τ.
//
// Bindings (group 0):
//   0  p        uniform Params
//   1  logits   storage, read        n × c    S
//   2  lse      storage, read_write  2n       forward: lse of rows 0..n, then of columns 0..n
//   3  losses   storage, read_write  2n       forward: per-direction, per-item loss
//   4  lse_in   storage, read        2n       backward: saved lse
//   5  dloss    storage, read        1        backward: gradient w.r.t. the mean loss
//   6  dlogits  storage, read_write  n × c    backward: dS (overwritten)
//
// ntxent_forward: one invocation per row (i < n) or column (n ≤ i < 2n) of S, an
// online (single-pass) log-sum-exp; dispatch ceil(2n / 64), folded into (x, y).
// ntxent_backward: one invocation per element of S; dispatch ceil(n·c / 64), folded.

struct Params {
    n: u32,
    // c = n + m: the columns of S.
    cols: u32,
    // 1 / (2n): the mean over both directions.
    inv_count: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> lse: array<f32>;
@group(0) @binding(3) var<storage, read_write> losses: array<f32>;
@group(0) @binding(4) var<storage, read> lse_in: array<f32>;
@group(0) @binding(5) var<storage, read> dloss: array<f32>;
@group(0) @binding(6) var<storage, read_write> dlogits: array<f32>;

const WG: u32 = 64u;
// The most negative finite f32: the identity of max.
const NEG_MAX: f32 = -3.40282347e38;

@compute @workgroup_size(WG)
fn ntxent_forward(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = (wg.x + wg.y * nwg.x) * WG + lid;
    if i >= 2u * p.n {
        return;
    }
    // Row i of S (c entries, stride 1), or column i − n (n entries, stride c).
    var start = i * p.cols;
    var step = 1u;
    var count = p.cols;
    var diag = i * p.cols + i;
    if i >= p.n {
        start = i - p.n;
        step = p.cols;
        count = p.n;
        diag = (i - p.n) * p.cols + (i - p.n);
    }
    var m = NEG_MAX;
    var s = 0.0;
    for (var j = 0u; j < count; j++) {
        let v = logits[start + j * step];
        if v > m {
            s = s * exp(m - v) + 1.0;
            m = v;
        } else {
            s += exp(v - m);
        }
    }
    let l = m + log(s);
    lse[i] = l;
    losses[i] = l - logits[diag];
}

@compute @workgroup_size(WG)
fn ntxent_backward(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let at = (wg.x + wg.y * nwg.x) * WG + lid;
    if at >= p.n * p.cols {
        return;
    }
    let i = at / p.cols;
    let j = at % p.cols;
    let s = logits[at];
    var g = exp(s - lse_in[i]);
    if j < p.n {
        g += exp(s - lse_in[p.n + j]);
    }
    if i == j {
        g -= 2.0;
    }
    dlogits[at] = dloss[0] * p.inv_count * g;
}
