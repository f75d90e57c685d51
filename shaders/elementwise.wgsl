// elementwise.wgsl — small element-wise kernels and sums used around the fused ones.
//
// Bindings (group 0):
//   0  p    uniform Params
//   1  a    storage, read        n (or rows × cols)
//   2  b    storage, read        n
//   3  out  storage, read_write  n, cols, or 1 (see each entry point)
//
// Entry points (n = p.n; rows × cols = p.n when a matrix):
//   add            out = a + b                                 one invocation per element
//   axpy           out += alpha · a                            (gradient accumulation)
//   relu_forward   out = max(a, 0)
//   relu_backward  out += b · [a > 0]       a = ReLU input, b = dy, out = dx (ACCUMULATED)
//   sum_rows       out[col] += alpha · Σ_row a[row, col]       one invocation per column
//                  (a bias gradient: db += Σ_rows dy)
//   sum_all        out[0] = alpha · Σ_i a[i]                   ONE workgroup, tree in
//                  workgroup memory (a loss mean; n is small)
//   sum_squares    out[cols] = Σ_i a[i]²                       ONE workgroup, as sum_all
//                  (`cols` is the output slot: one per parameter of a gradient norm)
// Element-wise dispatch: ceil(n / 256) workgroups folded into (x, y); sum_rows:
// ceil(cols / 256); sum_all, sum_squares: exactly 1.

struct Params {
    n: u32,
    cols: u32,
    alpha: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const WG: u32 = 256u;

var<workgroup> tree: array<f32, WG>;

fn flat(lid: u32, wg: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return (wg.x + wg.y * nwg.x) * WG + lid;
}

@compute @workgroup_size(WG)
fn add(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat(lid, wg, nwg);
    if i < p.n {
        out[i] = a[i] + b[i];
    }
}

@compute @workgroup_size(WG)
fn axpy(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat(lid, wg, nwg);
    if i < p.n {
        out[i] += p.alpha * a[i];
    }
}

@compute @workgroup_size(WG)
fn relu_forward(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat(lid, wg, nwg);
    if i < p.n {
        out[i] = max(a[i], 0.0);
    }
}

@compute @workgroup_size(WG)
fn relu_backward(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat(lid, wg, nwg);
    if i < p.n && a[i] > 0.0 {
        out[i] += b[i];
    }
}

@compute @workgroup_size(WG)
fn sum_rows(@builtin(global_invocation_id) gid: vec3<u32>) {
    let col = gid.x;
    if col >= p.cols {
        return;
    }
    var s = 0.0;
    for (var at = col; at < p.n; at += p.cols) {
        s += a[at];
    }
    out[col] += p.alpha * s;
}

@compute @workgroup_size(WG)
fn sum_all(@builtin(local_invocation_index) lid: u32) {
    var s = 0.0;
    for (var i = lid; i < p.n; i += WG) {
        s += a[i];
    }
    tree[lid] = s;
    workgroupBarrier();
    for (var span = WG / 2u; span > 0u; span /= 2u) {
        if lid < span {
            tree[lid] += tree[lid + span];
        }
        workgroupBarrier();
    }
    if lid == 0u {
        out[0] = p.alpha * tree[0];
    }
}

@compute @workgroup_size(WG)
fn sum_squares(@builtin(local_invocation_index) lid: u32) {
    var s = 0.0;
    for (var i = lid; i < p.n; i += WG) {
        s += a[i] * a[i];
    }
    tree[lid] = s;
    workgroupBarrier();
    for (var span = WG / 2u; span > 0u; span /= 2u) {
        if lid < span {
            tree[lid] += tree[lid + span];
        }
        workgroupBarrier();
    }
    if lid == 0u {
        out[p.cols] = tree[0];
    }
}
