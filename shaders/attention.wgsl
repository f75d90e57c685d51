// attention.wgsl — fused multi-head self-attention over short sequences (T ≤ 32
// tokens, head dim ≤ 32), no mask, forward (saving the probabilities) and backward.
//
// Layout (row-major, C = heads · head_dim):
//   qkv  (B, T, 3C): q = columns [0, C), k = [C, 2C), v = [2C, 3C); head h owns the
//        head_dim columns starting at h · head_dim inside each of the three
//        (the output of one fused Linear C → 3C)
//   out  (B, T, C): heads concatenated
//   att  (B, H, T, T): softmax(q·kᵀ · scale), row t = query t
//
// Bindings (group 0):
//   0  p       uniform Params
//   1  qkv     storage, read        B·T·3C
//   2  out     storage, read_write  B·T·C      forward output (overwritten)
//   3  att     storage, read_write  B·H·T·T    forward: saved probabilities (overwritten)
//   4  att_in  storage, read        B·H·T·T    backward: saved probabilities
//   5  dout    storage, read        B·T·C      backward: gradient w.r.t. out
//   6  dqkv    storage, read_write  B·T·3C     backward: ACCUMULATED (+=)
//
// One workgroup of 32 (= MAX_T) invocations per (batch, head): dispatch B·H
// workgroups, folded into (x, y). K and V of the head are staged in workgroup memory
// (2 · 32 · 32 floats = 8 KiB; the backward adds the T×T score gradient, 12 KiB in all,
// under WebGPU's 16 KiB minimum). In the forward, invocation t owns query row t: its
// scores, softmax and output row stay in registers. In the backward, invocation t
// first produces dS[t, :] and dq_t, then (after one barrier) invocation j produces
// dk_j and dv_j.
//
// Forward:  S = scale · q kᵀ,  P = softmax_rows(S),  out = P v
// Backward: dv = Pᵀ dout,  dP = dout vᵀ,  dS = P ⊙ (dP − rowsum(P ⊙ dP)),
//           dq = scale · dS k,  dk = scale · dSᵀ q

struct Params {
    batch: u32,
    tokens: u32,
    heads: u32,
    head_dim: u32,
    // Multiplies the scores: 1 / sqrt(head_dim) for standard attention.
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> att: array<f32>;
@group(0) @binding(4) var<storage, read> att_in: array<f32>;
@group(0) @binding(5) var<storage, read> dout: array<f32>;
@group(0) @binding(6) var<storage, read_write> dqkv: array<f32>;

const MAX_T: u32 = 32u;
const MAX_D: u32 = 32u;
// The most negative finite f32: the identity of max.
const NEG_MAX: f32 = -3.40282347e38;

var<workgroup> k_tile: array<f32, 1024>;  // MAX_T × MAX_D, k_tile[j · head_dim + d]
var<workgroup> v_tile: array<f32, 1024>;  // MAX_T × MAX_D
var<workgroup> ds_tile: array<f32, 1024>; // MAX_T × MAX_T, ds_tile[t · tokens + j]

// Offset of element (b, t, column 0) of qkv.
fn qkv_row(b: u32, t: u32) -> u32 {
    return (b * p.tokens + t) * 3u * p.heads * p.head_dim;
}

// Copies head h's keys and values of sequence b into k_tile and v_tile.
fn stage_kv(b: u32, h: u32, lid: u32) {
    let c = p.heads * p.head_dim;
    for (var i = lid; i < p.tokens * p.head_dim; i += MAX_T) {
        let t = i / p.head_dim;
        let col = h * p.head_dim + i % p.head_dim;
        k_tile[i] = qkv[qkv_row(b, t) + c + col];
        v_tile[i] = qkv[qkv_row(b, t) + 2u * c + col];
    }
}

@compute @workgroup_size(32)
fn attention_forward(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let bh = wg.x + wg.y * nwg.x;
    if bh >= p.batch * p.heads {
        return;
    }
    let b = bh / p.heads;
    let h = bh % p.heads;
    let c = p.heads * p.head_dim;
    stage_kv(b, h, lid);
    workgroupBarrier();

    let t = lid;
    if t >= p.tokens {
        return;
    }
    var q: array<f32, MAX_D>;
    let q_at = qkv_row(b, t) + h * p.head_dim;
    for (var d = 0u; d < p.head_dim; d++) {
        q[d] = qkv[q_at + d];
    }
    var s: array<f32, MAX_T>;
    var m = NEG_MAX;
    for (var j = 0u; j < p.tokens; j++) {
        var dot = 0.0;
        for (var d = 0u; d < p.head_dim; d++) {
            dot += q[d] * k_tile[j * p.head_dim + d];
        }
        s[j] = dot * p.scale;
        m = max(m, s[j]);
    }
    var sum = 0.0;
    for (var j = 0u; j < p.tokens; j++) {
        s[j] = exp(s[j] - m);
        sum += s[j];
    }
    let inv = 1.0 / sum;
    let att_at = (bh * p.tokens + t) * p.tokens;
    for (var j = 0u; j < p.tokens; j++) {
        s[j] *= inv;
        att[att_at + j] = s[j];
    }
    let out_at = (b * p.tokens + t) * c + h * p.head_dim;
    for (var d = 0u; d < p.head_dim; d++) {
        var o = 0.0;
        for (var j = 0u; j < p.tokens; j++) {
            o += s[j] * v_tile[j * p.head_dim + d];
        }
        out[out_at + d] = o;
    }
}

@compute @workgroup_size(32)
fn attention_backward(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let bh = wg.x + wg.y * nwg.x;
    if bh >= p.batch * p.heads {
        return;
    }
    let b = bh / p.heads;
    let h = bh % p.heads;
    let c = p.heads * p.head_dim;
    let tt = p.tokens;
    let hd = p.head_dim;
    stage_kv(b, h, lid);
    workgroupBarrier();

    // Phase 1: invocation t owns query row t: dS[t, :] into ds_tile, then dq_t.
    let t = lid;
    if t < tt {
        var g: array<f32, MAX_D>;
        let dout_at = (b * tt + t) * c + h * hd;
        for (var d = 0u; d < hd; d++) {
            g[d] = dout[dout_at + d];
        }
        let att_at = (bh * tt + t) * tt;
        var dp: array<f32, MAX_T>;
        var pdp = 0.0;
        for (var j = 0u; j < tt; j++) {
            var dot = 0.0;
            for (var d = 0u; d < hd; d++) {
                dot += g[d] * v_tile[j * hd + d];
            }
            dp[j] = dot;
            pdp += att_in[att_at + j] * dot;
        }
        for (var j = 0u; j < tt; j++) {
            ds_tile[t * tt + j] = att_in[att_at + j] * (dp[j] - pdp);
        }
        let dq_at = qkv_row(b, t) + h * hd;
        for (var d = 0u; d < hd; d++) {
            var acc = 0.0;
            for (var j = 0u; j < tt; j++) {
                acc += ds_tile[t * tt + j] * k_tile[j * hd + d];
            }
            dqkv[dq_at + d] += p.scale * acc;
        }
    }
    workgroupBarrier();

    // Phase 2: invocation j owns key/value row j: dk_j = scale · Σ_t dS[t, j] q_t,
    // dv_j = Σ_t P[t, j] dout_t.
    let j = lid;
    if j < tt {
        let dk_at = qkv_row(b, j) + c + h * hd;
        let dv_at = qkv_row(b, j) + 2u * c + h * hd;
        for (var d = 0u; d < hd; d++) {
            var dk = 0.0;
            var dv = 0.0;
            for (var s = 0u; s < tt; s++) {
                dk += ds_tile[s * tt + j] * qkv[qkv_row(b, s) + h * hd + d];
                dv += att_in[(bh * tt + s) * tt + j] * dout[(b * tt + s) * c + h * hd + d];
            }
            dqkv[dk_at + d] += p.scale * dk;
            dqkv[dv_at + d] += dv;
        }
    }
}
