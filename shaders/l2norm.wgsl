// l2norm.wgsl — L2 normalisation of the rows of a rows × cols matrix, forward and
// backward. Needs a reduction prelude (reduce_subgroup.wgsl or reduce_workgroup.wgsl)
// for WG, Lanes, row_sum.
//
// Bindings (group 0):
//   0  p        uniform Params
//   1  x        storage, read        rows × cols   forward input
//   2  y        storage, read_write  rows × cols   forward output
//   3  norm     storage, read_write  rows          forward: saved ‖x‖ (not clamped)
//   4  y_in     storage, read        rows × cols   backward: saved forward output
//   5  norm_in  storage, read        rows          backward: saved ‖x‖
//   6  dy       storage, read        rows × cols   backward: gradient w.r.t. y
//   7  dx       storage, read_write  rows × cols   backward: ACCUMULATED (+=)
//
// One workgroup of WG invocations per row (dispatch rows workgroups, folded into (x, y)).
//
// Forward:  n = ‖x‖,  y = x / max(n, eps)            (as torch.nn.functional.normalize)
// Backward: n > eps:  dx += (dy − y · (y · dy)) / n
//           n ≤ eps:  dx += dy / eps                 (the clamp is constant there)

struct Params {
    rows: u32,
    cols: u32,
    eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> norm: array<f32>;
@group(0) @binding(4) var<storage, read> y_in: array<f32>;
@group(0) @binding(5) var<storage, read> norm_in: array<f32>;
@group(0) @binding(6) var<storage, read> dy: array<f32>;
@group(0) @binding(7) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn l2norm_forward(lanes: Lanes, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = wg.x + wg.y * nwg.x;
    if row >= p.rows {
        return;
    }
    let base = row * p.cols;
    var ss = 0.0;
    for (var col = lanes.lid; col < p.cols; col += WG) {
        let v = x[base + col];
        ss += v * v;
    }
    let n = sqrt(row_sum(ss, lanes));
    let inv = 1.0 / max(n, p.eps);
    for (var col = lanes.lid; col < p.cols; col += WG) {
        y[base + col] = x[base + col] * inv;
    }
    if lanes.lid == 0u {
        norm[row] = n;
    }
}

@compute @workgroup_size(WG)
fn l2norm_backward(lanes: Lanes, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = wg.x + wg.y * nwg.x;
    if row >= p.rows {
        return;
    }
    let base = row * p.cols;
    let n = norm_in[row];
    var d = 0.0;
    for (var col = lanes.lid; col < p.cols; col += WG) {
        d += y_in[base + col] * dy[base + col];
    }
    d = row_sum(d, lanes);
    if n > p.eps {
        let inv = 1.0 / n;
        for (var col = lanes.lid; col < p.cols; col += WG) {
            dx[base + col] += (dy[base + col] - y_in[base + col] * d) * inv;
        }
    } else {
        let inv = 1.0 / p.eps;
        for (var col = lanes.lid; col < p.cols; col += WG) {
            dx[base + col] += dy[base + col] * inv;
        }
    }
}
