// sinkhorn.wgsl — batched log-domain Sinkhorn-Knopp for balanced assignment.
//
// Each of `problems` independent problems has a score matrix S (n items × m buckets,
// row-major; problem q starts at q·n·m). With ε the entropic regularisation, the plan
//   log Π[i, j] = S[i, j] / ε + u_i + v_j
// is driven towards row sums 1/n (each item is one item) and column sums 1/m (every
// bucket gets an equal share) by alternating, from u = v = 0, `iters` times:
//   v_j = −log m − lse_i(S[i, j]/ε + u_i)      (columns)
//   u_i = −log n − lse_j(S[i, j]/ε + v_j)      (rows)
// so after the last step the rows sum exactly to 1/n and the columns approximately
// to 1/m. The balanced assignment of item i is argmax_j Π[i, j] = argmax_j S/ε + v_j.
//
// Bindings (group 0):
//   0  p        uniform Params
//   1  scores   storage, read        problems × n × m
//   2  pot      storage, read_write  problems × (n + m)   u then v (sinkhorn_solve, overwritten)
//   3  pot_in   storage, read        problems × (n + m)   the solved potentials
//   4  plan     storage, read_write  problems × n × m     log Π (sinkhorn_log_plan, overwritten)
//   5  assign   storage, read_write  problems × n (u32)   argmax per row (sinkhorn_argmax)
//
// sinkhorn_solve: one workgroup of 64 per problem, all iterations in one dispatch; the
// potentials live in `pot` and storageBarrier() orders the half-steps. Invocation l
// owns columns l, l+64, ... (neighbouring invocations read neighbouring scores), then
// rows l, l+64, ...; each log-sum-exp is a single online pass. Dispatch `problems`
// workgroups, folded into (x, y). Suited to many small problems (e.g. one per hash bit,
// or per batch shard); a single huge problem would want one workgroup per row/column.
// sinkhorn_log_plan: one invocation per element; sinkhorn_argmax: one per row
// (lowest index on ties). Dispatch ceil(count / 64), folded.

struct Params {
    problems: u32,
    n: u32,
    m: u32,
    iters: u32,
    // 1 / ε.
    inv_eps: f32,
    // −log n and −log m: the log row and column masses.
    log_row_mass: f32,
    log_col_mass: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> scores: array<f32>;
@group(0) @binding(2) var<storage, read_write> pot: array<f32>;
@group(0) @binding(3) var<storage, read> pot_in: array<f32>;
@group(0) @binding(4) var<storage, read_write> plan: array<f32>;
@group(0) @binding(5) var<storage, read_write> assign: array<u32>;

const WG: u32 = 64u;
// The most negative finite f32: the identity of max.
const NEG_MAX: f32 = -3.40282347e38;

// Online log-sum-exp: state (max, Σ exp(· − max)) extended by one value.
fn lse_push(state: vec2<f32>, v: f32) -> vec2<f32> {
    if v > state.x {
        return vec2<f32>(v, state.y * exp(state.x - v) + 1.0);
    }
    return vec2<f32>(state.x, state.y + exp(v - state.x));
}

@compute @workgroup_size(WG)
fn sinkhorn_solve(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let q = wg.x + wg.y * nwg.x;
    if q >= p.problems {
        return;
    }
    let s0 = q * p.n * p.m;
    let u0 = q * (p.n + p.m);
    let v0 = u0 + p.n;
    for (var i = lid; i < p.n; i += WG) {
        pot[u0 + i] = 0.0;
    }
    for (var j = lid; j < p.m; j += WG) {
        pot[v0 + j] = 0.0;
    }
    storageBarrier();
    for (var it = 0u; it < p.iters; it++) {
        for (var j = lid; j < p.m; j += WG) {
            var st = vec2<f32>(NEG_MAX, 0.0);
            for (var i = 0u; i < p.n; i++) {
                st = lse_push(st, scores[s0 + i * p.m + j] * p.inv_eps + pot[u0 + i]);
            }
            pot[v0 + j] = p.log_col_mass - (st.x + log(st.y));
        }
        storageBarrier();
        for (var i = lid; i < p.n; i += WG) {
            var st = vec2<f32>(NEG_MAX, 0.0);
            for (var j = 0u; j < p.m; j++) {
                st = lse_push(st, scores[s0 + i * p.m + j] * p.inv_eps + pot[v0 + j]);
            }
            pot[u0 + i] = p.log_row_mass - (st.x + log(st.y));
        }
        storageBarrier();
    }
}

@compute @workgroup_size(WG)
fn sinkhorn_log_plan(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let at = (wg.x + wg.y * nwg.x) * WG + lid;
    let per_problem = p.n * p.m;
    if at >= p.problems * per_problem {
        return;
    }
    let q = at / per_problem;
    let i = (at % per_problem) / p.m;
    let j = at % p.m;
    let u0 = q * (p.n + p.m);
    plan[at] = scores[at] * p.inv_eps + pot_in[u0 + i] + pot_in[u0 + p.n + j];
}

@compute @workgroup_size(WG)
fn sinkhorn_argmax(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = (wg.x + wg.y * nwg.x) * WG + lid;
    if row >= p.problems * p.n {
        return;
    }
    let q = row / p.n;
    let v0 = q * (p.n + p.m) + p.n;
    var best = NEG_MAX;
    var best_j = 0u;
    for (var j = 0u; j < p.m; j++) {
        let v = scores[row * p.m + j] * p.inv_eps + pot_in[v0 + j];
        if v > best {
            best = v;
            best_j = j;
        }
    }
    assign[row] = best_j;
}
