// gemm.wgsl — batched, tiled matrix product with transposes and a fused epilogue:
//
//     C[b] = alpha · op(A[b]) · op(B[b]) + beta · C[b]  (+ bias, broadcast over rows)  (then ReLU)
//
// op(A) is M×K: A is stored M×K row-major, or K×M when TRANS_A (so Aᵀ is used).
// op(B) is K×N: B is stored K×N row-major, or N×K when TRANS_B (a Linear layer's
// weight stored out×in is used as Bᵀ). The weight-gradient shape dW = dYᵀ·X is TRANS_A.
//
// Bindings (group 0):
//   0  p     uniform Params
//   1  a     storage, read        batch × (M×K | K×M)   element (b, i) at b·a_stride + i
//   2  b     storage, read        batch × (K×N | N×K)   element (b, i) at b·b_stride + i
//   3  bias  storage, read        N (read only when p.bias != 0; any buffer otherwise)
//   4  c     storage, read_write  batch × M×N            element (b, i) at b·M·N + i
//
// Workgroup 16×16 invocations. A workgroup owns a 64×64 tile of C; each invocation
// keeps a 4×4 register block of it, at rows ty + 16·i and columns tx + 16·j (strided,
// so that neighbouring invocations store neighbouring columns). K is walked in steps
// of 16: both operands' 64×16 slices are staged in workgroup memory as vec4s that
// hold one invocation's four rows (A) or four columns (B) at one k, then each
// invocation does 16 rank-1 updates of its 4×4 block (four vec4 accumulators): two
// vec4 workgroup-memory loads per 16 FMAs; from global memory, each element is read
// once per 64-wide tile.
// Dispatch: (ceil(N/64), ceil(M/64), batch).
//
// Specialisation: override constants TRANS_A, TRANS_B (tile-load order only);
// the epilogue flags are uniforms, branched on once per output element.

override TRANS_A: bool = false;
override TRANS_B: bool = false;

struct Params {
    m: u32,
    n: u32,
    k: u32,
    // Elements between consecutive matrices of the batch (0 = one matrix shared by all).
    a_stride: u32,
    b_stride: u32,
    alpha: f32,
    beta: f32,
    // 1 = add bias[col] to every row; 0 = no bias.
    bias: u32,
    // 1 = clamp the result at zero (ReLU); 0 = identity.
    relu: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

const BM: u32 = 64u;      // tile rows (of C)
const BN: u32 = 64u;      // tile columns (of C)
const BK: u32 = 16u;      // K-slice staged per step
const TM: u32 = 4u;       // register block rows per invocation
const TN: u32 = 4u;       // register block columns per invocation
const WG_X: u32 = 16u;    // = BN / TN
const WG_Y: u32 = 16u;    // = BM / TM
const THREADS: u32 = 256u;
const LOADS: u32 = 4u;    // = BK·BM / THREADS = BK·BN / THREADS
const PITCH: u32 = 17u;   // vec4 slots per staged k: 16 + 1 against bank conflicts

// The staged slices, laid out for the inner loop: slot kk·PITCH + ty of a_tile holds
// the 4 rows ty, ty+16, ty+32, ty+48 of op(A) at k0 + kk — exactly one invocation's
// register-block rows — and slot kk·PITCH + tx of b_tile its 4 columns of op(B).
// So the inner loop reads two vec4s per 16 FMAs.
var<workgroup> a_tile: array<vec4<f32>, 272>; // BK × PITCH
var<workgroup> b_tile: array<vec4<f32>, 272>; // BK × PITCH

// op(A)[row, col] of the matrix starting at `base`, or 0 outside M×K.
fn load_a(base: u32, row: u32, col: u32) -> f32 {
    if row >= p.m || col >= p.k {
        return 0.0;
    }
    if TRANS_A {
        return a[base + col * p.m + row];
    }
    return a[base + row * p.k + col];
}

// op(B)[row, col] of the matrix starting at `base`, or 0 outside K×N.
fn load_b(base: u32, row: u32, col: u32) -> f32 {
    if row >= p.k || col >= p.n {
        return 0.0;
    }
    if TRANS_B {
        return b[base + col * p.k + row];
    }
    return b[base + row * p.n + col];
}

@compute @workgroup_size(16, 16, 1)
fn gemm(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
    let tx = lid.x;
    let ty = lid.y;
    let t = ty * WG_X + tx;
    let row0 = wg.y * BM;
    let col0 = wg.x * BN;
    let a_base = wg.z * p.a_stride;
    let b_base = wg.z * p.b_stride;
    // Row i of the register block is acc_i; its columns j = 0..3 are the vector lanes.
    // Plain vec4 variables (no indexed arrays) stay in registers on every compiler.
    var acc0 = vec4<f32>();
    var acc1 = vec4<f32>();
    var acc2 = vec4<f32>();
    var acc3 = vec4<f32>();
    for (var k0 = 0u; k0 < p.k; k0 += BK) {
        // Stage op(A)[row0.., k0..] and op(B)[k0.., col0..]; consecutive invocations
        // walk the dimension that is contiguous in memory.
        for (var e = 0u; e < LOADS; e++) {
            let idx = t + e * THREADS;
            var r: u32;
            var kk: u32;
            if TRANS_A {
                kk = idx / BM;
                r = idx % BM;
            } else {
                r = idx / BK;
                kk = idx % BK;
            }
            a_tile[kk * PITCH + r % WG_Y][r / WG_Y] = load_a(a_base, row0 + r, k0 + kk);
            var cc: u32;
            if TRANS_B {
                cc = idx / BK;
                kk = idx % BK;
            } else {
                kk = idx / BN;
                cc = idx % BN;
            }
            b_tile[kk * PITCH + cc % WG_X][cc / WG_X] = load_b(b_base, k0 + kk, col0 + cc);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
            let av = a_tile[kk * PITCH + ty];
            let bv = b_tile[kk * PITCH + tx];
            acc0 += av.x * bv;
            acc1 += av.y * bv;
            acc2 += av.z * bv;
            acc3 += av.w * bv;
        }
        workgroupBarrier();
    }

    let c_base = wg.z * p.m * p.n;
    store_row(c_base, row0 + ty, col0 + tx, acc0);
    store_row(c_base, row0 + ty + WG_Y, col0 + tx, acc1);
    store_row(c_base, row0 + ty + 2u * WG_Y, col0 + tx, acc2);
    store_row(c_base, row0 + ty + 3u * WG_Y, col0 + tx, acc3);
}

// The epilogue for one row of a register block: columns col, col+16, col+32, col+48
// of C get alpha·acc (+ beta·C) (+ bias) (ReLU), where inside M×N.
fn store_row(c_base: u32, row: u32, col: u32, acc: vec4<f32>) {
    if row >= p.m {
        return;
    }
    for (var j = 0u; j < TN; j++) {
        let cj = col + j * WG_X;
        if cj < p.n {
            let at = c_base + row * p.n + cj;
            var v = p.alpha * acc[j];
            if p.beta != 0.0 {
                v += p.beta * c[at];
            }
            if p.bias != 0u {
                v += bias[cj];
            }
            if p.relu != 0u {
                v = max(v, 0.0);
            }
            c[at] = v;
        }
    }
}
