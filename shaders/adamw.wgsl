// adamw.wgsl — one AdamW step (Loshchilov & Hutter; as torch.optim.AdamW) over a flat
// parameter vector, in place, with g = grad_scale · grad (grad_scale < 1 is global
// gradient-norm clipping, 1 otherwise):
//   m ← β1 m + (1 − β1) g
//   v ← β2 v + (1 − β2) g²
//   θ ← θ − lr · ( (m / bc1) / (sqrt(v / bc2) + eps) + weight_decay · θ )
// with the bias corrections bc1 = 1 − β1^t, bc2 = 1 − β2^t for step t ≥ 1, computed by
// the host in f64 (β^t in f32 loses digits of 1 − β^t early in training).
//
// Bindings (group 0):
//   0  p      uniform Params
//   1  grad   storage, read        n
//   2  param  storage, read_write  n
//   3  m      storage, read_write  n   first moment
//   4  v      storage, read_write  n   second moment
//
// One invocation per element; dispatch ceil(n / 256), folded into (x, y).

struct Params {
    n: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    bc1: f32,
    bc2: f32,
    grad_scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> param: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

const WG: u32 = 256u;

@compute @workgroup_size(WG)
fn adamw(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = (wg.x + wg.y * nwg.x) * WG + lid;
    if i >= p.n {
        return;
    }
    let g = p.grad_scale * grad[i];
    let mi = p.beta1 * m[i] + (1.0 - p.beta1) * g;
    let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    let theta = param[i];
    let step = (mi / p.bc1) / (sqrt(vi / p.bc2) + p.eps);
    param[i] = theta - p.lr * (step + p.weight_decay * theta);
}
