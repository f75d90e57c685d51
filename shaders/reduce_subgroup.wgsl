// reduce_subgroup.wgsl — workgroup-wide reductions for one-row-per-workgroup kernels,
// built on subgroup operations. Prepended to a kernel body (softmax.wgsl,
// layernorm.wgsl, l2norm.wgsl) when the adapter offers Features::SUBGROUP; its twin
// reduce_workgroup.wgsl defines the same names without subgroups.
//
// Provides: override WG (invocations per workgroup), struct Lanes (the entry point's
// invocation builtins), NEG_MAX, row_sum(v, lanes) and row_max(v, lanes). Both
// reductions must be called in workgroup-uniform control flow; every invocation gets
// the same result (the partials are summed in the same order by everyone).
//
// Cost: one subgroup reduction, then the per-subgroup partials go through workgroup
// memory (2 barriers). With WG equal to the subgroup size (the host's default) there
// is a single partial.

// Invocations per workgroup: a power of two, 1 ≤ WG ≤ 256. The host takes it from the
// adapter's subgroup size.
override WG: u32 = 64u;

// The most negative finite f32: the identity of max for finite data.
const NEG_MAX: f32 = -3.40282347e38;

struct Lanes {
    @builtin(local_invocation_index) lid: u32,
    @builtin(subgroup_invocation_id) sg_lane: u32,
    @builtin(subgroup_id) sg_id: u32,
    @builtin(num_subgroups) sg_count: u32,
}

// One slot per subgroup: WG ≤ 256 invocations and subgroups of ≥ 4 lanes (the host
// falls back to reduce_workgroup.wgsl on adapters with smaller subgroups).
var<workgroup> red_partial: array<f32, 64>;

fn row_sum(v: f32, lanes: Lanes) -> f32 {
    let s = subgroupAdd(v);
    if lanes.sg_lane == 0u {
        red_partial[lanes.sg_id] = s;
    }
    workgroupBarrier();
    var total = 0.0;
    for (var i = 0u; i < lanes.sg_count; i++) {
        total += red_partial[i];
    }
    workgroupBarrier(); // the slots are reused by the next reduction
    return total;
}

fn row_max(v: f32, lanes: Lanes) -> f32 {
    let s = subgroupMax(v);
    if lanes.sg_lane == 0u {
        red_partial[lanes.sg_id] = s;
    }
    workgroupBarrier();
    var best = NEG_MAX;
    for (var i = 0u; i < lanes.sg_count; i++) {
        best = max(best, red_partial[i]);
    }
    workgroupBarrier();
    return best;
}
