// layernorm.wgsl — LayerNorm over the last dimension of a rows × cols matrix, forward
// (saving mean and rstd) and backward (dx; dgamma and dbeta). Needs a reduction
// prelude (reduce_subgroup.wgsl or reduce_workgroup.wgsl) for WG, Lanes, row_sum.
//
// Bindings (group 0):
//   0  p         uniform Params
//   1  x         storage, read        rows × cols   input (forward and backward)
//   2  gamma     storage, read        cols          scale
//   3  beta      storage, read        cols          shift
//   4  y         storage, read_write  rows × cols   forward output
//   5  mean      storage, read_write  rows          forward: saved row mean
//   6  rstd      storage, read_write  rows          forward: saved 1 / sqrt(var + eps)
//   7  dy        storage, read        rows × cols   backward: gradient w.r.t. y
//   8  mean_in   storage, read        rows          backward: saved mean
//   9  rstd_in   storage, read        rows          backward: saved rstd
//  10  dx        storage, read_write  rows × cols   backward: ACCUMULATED (+=)
//  11  dgamma    storage, read_write  cols          backward: ACCUMULATED (+=)
//  12  dbeta     storage, read_write  cols          backward: ACCUMULATED (+=)
//
// layernorm_forward, layernorm_backward: one workgroup of WG invocations per row
// (dispatch rows workgroups, folded into (x, y)); the variance is computed in a second
// pass over the row, (x − mean)², not as E[x²] − mean².
// layernorm_backward_params: one invocation per column, looping over all rows
// (dispatch ceil(cols / WG) workgroups); neighbouring invocations read neighbouring
// columns.
//
// Forward:  x̂ = (x − mean) · rstd,  y = x̂ ⊙ gamma + beta
// Backward: g = gamma ⊙ dy,  dx += rstd · (g − mean(g) − x̂ · mean(g ⊙ x̂))
//           dgamma += Σ_rows dy ⊙ x̂,  dbeta += Σ_rows dy

struct Params {
    rows: u32,
    cols: u32,
    eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> mean: array<f32>;
@group(0) @binding(6) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(7) var<storage, read> dy: array<f32>;
@group(0) @binding(8) var<storage, read> mean_in: array<f32>;
@group(0) @binding(9) var<storage, read> rstd_in: array<f32>;
@group(0) @binding(10) var<storage, read_write> dx: array<f32>;
@group(0) @binding(11) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(12) var<storage, read_write> dbeta: array<f32>;

@compute @workgroup_size(WG)
fn layernorm_forward(lanes: Lanes, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = wg.x + wg.y * nwg.x;
    if row >= p.rows {
        return;
    }
    let base = row * p.cols;
    let inv_cols = 1.0 / f32(p.cols);
    var s = 0.0;
    for (var col = lanes.lid; col < p.cols; col += WG) {
        s += x[base + col];
    }
    let mu = row_sum(s, lanes) * inv_cols;
    var ss = 0.0;
    for (var col = lanes.lid; col < p.cols; col += WG) {
        let d = x[base + col] - mu;
        ss += d * d;
    }
    let r = inverseSqrt(row_sum(ss, lanes) * inv_cols + p.eps);
    for (var col = lanes.lid; col < p.cols; col += WG) {
        y[base + col] = (x[base + col] - mu) * r * gamma[col] + beta[col];
    }
    if lanes.lid == 0u {
        mean[row] = mu;
        rstd[row] = r;
    }
}

@compute @workgroup_size(WG)
fn layernorm_backward(lanes: Lanes, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = wg.x + wg.y * nwg.x;
    if row >= p.rows {
        return;
    }
    let base = row * p.cols;
    let mu = mean_in[row];
    let r = rstd_in[row];
    var sg = 0.0;
    var sgx = 0.0;
    for (var col = lanes.lid; col < p.cols; col += WG) {
        let g = gamma[col] * dy[base + col];
        sg += g;
        sgx += g * (x[base + col] - mu) * r;
    }
    let inv_cols = 1.0 / f32(p.cols);
    let mean_g = row_sum(sg, lanes) * inv_cols;
    let mean_gx = row_sum(sgx, lanes) * inv_cols;
    for (var col = lanes.lid; col < p.cols; col += WG) {
        let xhat = (x[base + col] - mu) * r;
        let g = gamma[col] * dy[base + col];
        dx[base + col] += r * (g - mean_g - xhat * mean_gx);
    }
}

@compute @workgroup_size(WG)
fn layernorm_backward_params(@builtin(global_invocation_id) gid: vec3<u32>) {
    let col = gid.x;
    if col >= p.cols {
        return;
    }
    var sg = 0.0;
    var sb = 0.0;
    for (var row = 0u; row < p.rows; row++) {
        let d = dy[row * p.cols + col];
        sg += d * (x[row * p.cols + col] - mean_in[row]) * rstd_in[row];
        sb += d;
    }
    dgamma[col] += sg;
    dbeta[col] += sb;
}
