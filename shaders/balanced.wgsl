// balanced.wgsl — the balanced bucket assignment of the training objective (DESIGN.md §4,
// the CPU's `train::sinkhorn::sinkhorn_factored` + `assign_factored`): log-domain
// Sinkhorn-Knopp over N items (the batch, then the queue of recent q̂) × 2^K buckets
// without ever storing the N × 2^K score matrix.
//
// Bucket k = h · 2^kl + l is the sign vector b_k ∈ {−1, +1}^K (bit i set ⇔ +1); its score
// over ε factorises into a high-half and a low-half table per item:
//   s_nk / ε = β q̂_n · b_k = T_n(h) + T_n(nh + l),   β = 1 / (ε √K),
//   T_n(h)      = β Σ_{j < kh} q̂_{n, kl + j} b_{h, j}      (nh = 2^kh entries)
//   T_n(nh + l) = β Σ_{j < kl} q̂_{n, j} b_{l, j}           (nl = 2^kl entries)
// The schedule is the CPU's (SwAV's): u from the closed-form first row pass, then
// `iterations` times v ← column pass, u ← row pass (the last row pass skipped):
//   u_n = log(1/N) − Σ_i log(2 cosh(β q̂_ni))                    (first rows, v = 0)
//   v_k = log c − lse_n(u_n + s_nk/ε)        (clamped at 0 for the capacity marginal)
//   u_n = log(1/N) − lse_k(s_nk/ε + v_k)
//   k*_n = argmax_k (s_nk/ε + v_k), lowest k on ties, for the B batch items n < B.
// Every pass is a dense log-sum-exp over all N · 2^K pairs (2 table reads and one exp
// each): the work a GPU does well, and no exponent can underflow the result.
//
// Bindings (group 0):
//   0  p       uniform Params
//   1  qhat    storage, read        N × K     unit hash directions, batch rows first
//   2  tables  storage, read_write  N × (nh + nl)
//   3  u       storage, read_write  N         item potentials
//   4  v       storage, read_write  2^K       bucket potentials
//   5  assign  storage, read_write  B (u32)   k* of the batch items
//
// balanced_tables: one invocation per table entry, ceil(N (nh + nl) / 64) workgroups.
// balanced_first_rows: one invocation per item, ceil(N / 64).
// balanced_columns: one invocation per bucket (an online lse over the N items; adjacent
//   invocations read adjacent low-half entries), ceil(2^K / 64).
// balanced_rows, balanced_argmax: one workgroup of 64 per item, each invocation a
//   strided share of the 2^K buckets, merged by a tree in workgroup memory; N resp. B
//   workgroups. All grids folded into (x, y).

struct Params {
    // N, B and K; kl = K / 2 low bits, kh = K − kl high bits.
    items: u32,
    batch: u32,
    bits: u32,
    kl: u32,
    kh: u32,
    // β = 1 / (ε √K).
    beta: f32,
    // log(1/N), the log item marginal.
    log_row: f32,
    // log c, the log bucket marginal, and whether it is an upper bound (1) or exact (0).
    log_col: f32,
    clamp: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qhat: array<f32>;
@group(0) @binding(2) var<storage, read_write> tables: array<f32>;
@group(0) @binding(3) var<storage, read_write> u: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@group(0) @binding(5) var<storage, read_write> assign: array<u32>;

const WG: u32 = 64u;
// The most negative finite f32: the identity of max.
const NEG_MAX: f32 = -3.40282347e38;

var<workgroup> best: array<f32, WG>;
var<workgroup> mass: array<f32, WG>;
var<workgroup> best_at: array<u32, WG>;

fn flat(lid: u32, wg: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return (wg.x + wg.y * nwg.x) * WG + lid;
}

fn group_index(wg: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wg.x + wg.y * nwg.x;
}

// Online log-sum-exp: state (max, Σ exp(· − max)) extended by one value.
fn lse_push(state: vec2<f32>, x: f32) -> vec2<f32> {
    if x > state.x {
        return vec2<f32>(x, state.y * exp(state.x - x) + 1.0);
    }
    return vec2<f32>(state.x, state.y + exp(x - state.x));
}

// s_nk / ε from the tables of item n.
fn score(n: u32, k: u32) -> f32 {
    let nh = 1u << p.kh;
    let nl = 1u << p.kl;
    let row = n * (nh + nl);
    return tables[row + (k >> p.kl)] + tables[row + nh + (k & (nl - 1u))];
}

@compute @workgroup_size(WG)
fn balanced_tables(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let nh = 1u << p.kh;
    let width = nh + (1u << p.kl);
    let at = flat(lid, wg, nwg);
    if at >= p.items * width {
        return;
    }
    let n = at / width;
    var e = at % width;
    // High half: bits kl.. of q̂ against the bits of h; low half: bits 0.. against l.
    var first = p.kl;
    var count = p.kh;
    if e >= nh {
        e -= nh;
        first = 0u;
        count = p.kl;
    }
    var s = 0.0;
    for (var j = 0u; j < count; j++) {
        let q = qhat[n * p.bits + first + j];
        if ((e >> j) & 1u) == 1u {
            s += q;
        } else {
            s -= q;
        }
    }
    tables[at] = p.beta * s;
}

@compute @workgroup_size(WG)
fn balanced_first_rows(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let n = flat(lid, wg, nwg);
    if n >= p.items {
        return;
    }
    var log_z = 0.0;
    for (var i = 0u; i < p.bits; i++) {
        // log(2 cosh y) = |y| + log(1 + e^{−2|y|}), stable for large |y|.
        let y = abs(p.beta * qhat[n * p.bits + i]);
        log_z += y + log(1.0 + exp(-2.0 * y));
    }
    u[n] = p.log_row - log_z;
}

@compute @workgroup_size(WG)
fn balanced_columns(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let k = flat(lid, wg, nwg);
    if k >= (1u << p.bits) {
        return;
    }
    var st = vec2<f32>(NEG_MAX, 0.0);
    for (var n = 0u; n < p.items; n++) {
        st = lse_push(st, u[n] + score(n, k));
    }
    var x = p.log_col - (st.x + log(st.y));
    if p.clamp == 1u {
        x = min(x, 0.0);
    }
    v[k] = x;
}

@compute @workgroup_size(WG)
fn balanced_rows(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let n = group_index(wg, nwg);
    // The whole workgroup takes the same branch: the barriers below stay uniform.
    if n >= p.items {
        return;
    }
    var st = vec2<f32>(NEG_MAX, 0.0);
    for (var k = lid; k < (1u << p.bits); k += WG) {
        st = lse_push(st, score(n, k) + v[k]);
    }
    best[lid] = st.x;
    mass[lid] = st.y;
    workgroupBarrier();
    for (var span = WG / 2u; span > 0u; span /= 2u) {
        if lid < span {
            let m = max(best[lid], best[lid + span]);
            mass[lid] = mass[lid] * exp(best[lid] - m) + mass[lid + span] * exp(best[lid + span] - m);
            best[lid] = m;
        }
        workgroupBarrier();
    }
    if lid == 0u {
        u[n] = p.log_row - (best[0] + log(mass[0]));
    }
}

@compute @workgroup_size(WG)
fn balanced_argmax(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let n = group_index(wg, nwg);
    if n >= p.batch {
        return;
    }
    // Each invocation visits its buckets in increasing order and keeps the first best.
    var top = NEG_MAX;
    var arg = 0xffffffffu;
    for (var k = lid; k < (1u << p.bits); k += WG) {
        let x = score(n, k) + v[k];
        if x > top {
            top = x;
            arg = k;
        }
    }
    best[lid] = top;
    best_at[lid] = arg;
    workgroupBarrier();
    for (var span = WG / 2u; span > 0u; span /= 2u) {
        if lid < span {
            let other = best[lid + span];
            let other_arg = best_at[lid + span];
            if other > best[lid] || (other == best[lid] && other_arg < best_at[lid]) {
                best[lid] = other;
                best_at[lid] = other_arg;
            }
        }
        workgroupBarrier();
    }
    if lid == 0u {
        assign[n] = best_at[0];
    }
}
