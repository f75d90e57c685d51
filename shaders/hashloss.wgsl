// hashloss.wgsl — the per-bit factorised bucket loss L_r (DESIGN.md §4), forward and
// gradient w.r.t. the normalised hash logits q̂.
//
// Buckets are the 2^K sign vectors b_k ∈ {−1, +1}^K with centroids b_k / √K, scored
// s_k = q̂ · b_k / √K. The softmax over all 2^K buckets factorises per bit:
//   log softmax_k(s / τ) = Σ_i log σ(c · q̂_i · b_{k,i}),   c = 2 / (τ √K).
// For item r with target bucket k*_r (from Sinkhorn), anchor q̂_a and positive q̂_p:
//   L_r = −½ Σ_i [ log σ(c q̂_a,i b_i) + log σ(c q̂_p,i b_i) ],    b = b_{k*_r}
//   ∂L_r/∂q̂_a,i = −½ c b_i σ(−c q̂_a,i b_i)                       (same for q̂_p)
// Bit i of the u32 key k*_r (bit 0 = least significant) set ⇔ b_i = +1, i.e. the key
// of a bucket is the bit pattern of sign(q) with bit i = [q_i > 0].
// The host reduces the losses to their mean over the n items; the backward scales by
// dloss / n.
//
// Bindings (group 0):
//   0  p       uniform Params
//   1  qa      storage, read        n × K   anchors' q̂
//   2  qp      storage, read        n × K   positives' q̂
//   3  keys    storage, read        n       target bucket k*_r (u32 bit pattern)
//   4  losses  storage, read_write  n       forward: L_r (overwritten)
//   5  dloss   storage, read        1       backward: gradient w.r.t. the mean loss
//   6  dqa     storage, read_write  n × K   backward: ACCUMULATED (+=)
//   7  dqp     storage, read_write  n × K   backward: ACCUMULATED (+=)
//
// hashloss_forward: one invocation per item, dispatch ceil(n / 64), folded into (x, y).
// hashloss_backward: one invocation per (item, bit), dispatch ceil(n·K / 64), folded.

struct Params {
    n: u32,
    bits: u32,
    // c = 2 / (τ √K).
    coef: f32,
    // 1 / n: the mean over items.
    inv_n: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qa: array<f32>;
@group(0) @binding(2) var<storage, read> qp: array<f32>;
@group(0) @binding(3) var<storage, read> keys: array<u32>;
@group(0) @binding(4) var<storage, read_write> losses: array<f32>;
@group(0) @binding(5) var<storage, read> dloss: array<f32>;
@group(0) @binding(6) var<storage, read_write> dqa: array<f32>;
@group(0) @binding(7) var<storage, read_write> dqp: array<f32>;

const WG: u32 = 64u;

// log σ(z) = min(z, 0) − log(1 + exp(−|z|)), without overflow for large |z|.
fn log_sigmoid(z: f32) -> f32 {
    return min(z, 0.0) - log(1.0 + exp(-abs(z)));
}

fn sigmoid(z: f32) -> f32 {
    if z >= 0.0 {
        return 1.0 / (1.0 + exp(-z));
    }
    let e = exp(z);
    return e / (1.0 + e);
}

// b_i ∈ {−1, +1} of the key.
fn key_sign(key: u32, bit: u32) -> f32 {
    return select(-1.0, 1.0, ((key >> bit) & 1u) == 1u);
}

@compute @workgroup_size(WG)
fn hashloss_forward(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = (wg.x + wg.y * nwg.x) * WG + lid;
    if r >= p.n {
        return;
    }
    let key = keys[r];
    var l = 0.0;
    for (var i = 0u; i < p.bits; i++) {
        let b = key_sign(key, i);
        l += log_sigmoid(p.coef * qa[r * p.bits + i] * b) + log_sigmoid(p.coef * qp[r * p.bits + i] * b);
    }
    losses[r] = -0.5 * l;
}

@compute @workgroup_size(WG)
fn hashloss_backward(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let at = (wg.x + wg.y * nwg.x) * WG + lid;
    if at >= p.n * p.bits {
        return;
    }
    let b = key_sign(keys[at / p.bits], at % p.bits);
    let g = -0.5 * p.coef * b * dloss[0] * p.inv_n;
    dqa[at] += g * sigmoid(-p.coef * qa[at] * b);
    dqp[at] += g * sigmoid(-p.coef * qp[at] * b);
}
