// softmax.wgsl — row softmax and log-softmax over a rows × cols matrix, forward and
// backward. Needs a reduction prelude (reduce_subgroup.wgsl or reduce_workgroup.wgsl)
// for WG, Lanes, NEG_MAX, row_sum and row_max.
//
// Bindings (group 0):
//   0  p      uniform Params
//   1  x      storage, read        rows × cols   forward input
//   2  y      storage, read_write  rows × cols   forward output (probabilities or log-probabilities)
//   3  y_in   storage, read        rows × cols   backward: the saved forward output
//   4  dy     storage, read        rows × cols   backward: gradient w.r.t. the output
//   5  dx     storage, read_write  rows × cols   backward: gradient w.r.t. the input, ACCUMULATED (+=)
//
// One workgroup of WG invocations per row; invocation l handles columns l, l+WG, ...
// Each invocation re-reads only what it wrote itself, so the only barriers are the
// ones inside the reductions. Dispatch: rows workgroups, folded into (x, y) when rows
// exceeds the per-dimension limit (row = wg.x + wg.y · num_workgroups.x).
//
// Forward:  softmax      y = exp(x − max) / Σ exp(x − max)
//           log_softmax  y = x − max − log Σ exp(x − max)
// Backward: softmax      dx += y ⊙ (dy − Σ y ⊙ dy)
//           log_softmax  dx += dy − exp(y) · Σ dy

struct Params {
    rows: u32,
    cols: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> y_in: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

// Maximum and Σ exp(x − maximum) of the row starting at `base`.
fn max_and_sum(base: u32, lanes: Lanes) -> vec2<f32> {
    var m = NEG_MAX;
    for (var col = lanes.lid; col < p.cols; col += WG) {
        m = max(m, x[base + col]);
    }
    m = row_max(m, lanes);
    var s = 0.0;
    for (var col = lanes.lid; col < p.cols; col += WG) {
        s += exp(x[base + col] - m);
    }
    return vec2<f32>(m, row_sum(s, lanes));
}

@compute @workgroup_size(WG)
fn softmax_forward(lanes: Lanes, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = wg.x + wg.y * nwg.x;
    if row >= p.rows {
        return;
    }
    let base = row * p.cols;
    let ms = max_and_sum(base, lanes);
    let inv = 1.0 / ms.y;
    for (var col = lanes.lid; col < p.cols; col += WG) {
        y[base + col] = exp(x[base + col] - ms.x) * inv;
    }
}

@compute @workgroup_size(WG)
fn log_softmax_forward(lanes: Lanes, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = wg.x + wg.y * nwg.x;
    if row >= p.rows {
        return;
    }
    let base = row * p.cols;
    let ms = max_and_sum(base, lanes);
    let shift = ms.x + log(ms.y);
    for (var col = lanes.lid; col < p.cols; col += WG) {
        y[base + col] = x[base + col] - shift;
    }
}

@compute @workgroup_size(WG)
fn softmax_backward(lanes: Lanes, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = wg.x + wg.y * nwg.x;
    if row >= p.rows {
        return;
    }
    let base = row * p.cols;
    var d = 0.0;
    for (var col = lanes.lid; col < p.cols; col += WG) {
        d += y_in[base + col] * dy[base + col];
    }
    d = row_sum(d, lanes);
    for (var col = lanes.lid; col < p.cols; col += WG) {
        dx[base + col] += y_in[base + col] * (dy[base + col] - d);
    }
}

@compute @workgroup_size(WG)
fn log_softmax_backward(lanes: Lanes, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = wg.x + wg.y * nwg.x;
    if row >= p.rows {
        return;
    }
    let base = row * p.cols;
    var s = 0.0;
    for (var col = lanes.lid; col < p.cols; col += WG) {
        s += dy[base + col];
    }
    s = row_sum(s, lanes);
    for (var col = lanes.lid; col < p.cols; col += WG) {
        dx[base + col] += dy[base + col] - exp(y_in[base + col]) * s;
    }
}
