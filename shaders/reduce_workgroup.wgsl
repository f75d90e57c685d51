// reduce_workgroup.wgsl — workgroup-wide reductions for one-row-per-workgroup kernels,
// without subgroup operations: a tree in workgroup memory (log2(WG) + 2 barriers).
// The fallback twin of reduce_subgroup.wgsl, with the same names; used when the
// adapter lacks Features::SUBGROUP (WebGPU, GL, some mobile drivers), and compared
// against it in the tests.
//
// Provides: override WG, struct Lanes, NEG_MAX, row_sum(v, lanes), row_max(v, lanes).
// Call in workgroup-uniform control flow; every invocation gets the same result.

// Invocations per workgroup: a power of two, 1 ≤ WG ≤ 256.
override WG: u32 = 64u;

// The most negative finite f32: the identity of max for finite data.
const NEG_MAX: f32 = -3.40282347e38;

struct Lanes {
    @builtin(local_invocation_index) lid: u32,
}

var<workgroup> red_tree: array<f32, 256>;

fn row_sum(v: f32, lanes: Lanes) -> f32 {
    red_tree[lanes.lid] = v;
    workgroupBarrier();
    for (var span = WG / 2u; span > 0u; span /= 2u) {
        if lanes.lid < span {
            red_tree[lanes.lid] += red_tree[lanes.lid + span];
        }
        workgroupBarrier();
    }
    let total = red_tree[0];
    workgroupBarrier(); // the tree is reused by the next reduction
    return total;
}

fn row_max(v: f32, lanes: Lanes) -> f32 {
    red_tree[lanes.lid] = v;
    workgroupBarrier();
    for (var span = WG / 2u; span > 0u; span /= 2u) {
        if lanes.lid < span {
            red_tree[lanes.lid] = max(red_tree[lanes.lid], red_tree[lanes.lid + span]);
        }
        workgroupBarrier();
    }
    let best = red_tree[0];
    workgroupBarrier();
    return best;
}
