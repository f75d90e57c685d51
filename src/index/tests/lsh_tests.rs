//! The LSH baseline's tables: deterministic, stored rows find their own bucket, and
//! multi-probe widens the candidate set.

use std::collections::BTreeSet;

use super::fixtures::{build, config, synth, tracks};
use crate::index::lsh::LshIndex;
use crate::index::{Dtype, LshParams};

const DIM: usize = 128;

fn candidates(index: &LshIndex, query: &[f32], budget: usize) -> Vec<u32> {
    let mut out = Vec::new();
    index.candidates(query, budget, &mut out);
    out
}

#[test]
fn lsh_tables_are_deterministic_and_multi_probe_widens_the_candidates() {
    let s = synth(8);
    let library = build(config(8, Dtype::F32), &tracks(&s, 10, &[100], 3));
    let params = LshParams {
        k: 8,
        tables: 4,
        width: 1.0,
        probes: 1,
        seed: 77,
    };
    let single = LshIndex::build(&library, params);
    let again = LshIndex::build(&library, params);
    let multi = LshIndex::build(
        &library,
        LshParams {
            probes: 6,
            ..params
        },
    );
    let embeddings = match library.embeddings() {
        crate::index::Rows::F32(v) => v.clone(),
        _ => unreachable!("the library is f32"),
    };
    let (mut found_self, mut single_total, mut multi_total) = (0, 0, 0);
    for row in (0..library.rows()).step_by(7) {
        let e = &embeddings[row * DIM..(row + 1) * DIM];
        let one = candidates(&single, e, usize::MAX);
        assert_eq!(one, candidates(&again, e, usize::MAX));
        found_self += usize::from(one.contains(&(row as u32)));
        let one: BTreeSet<u32> = one.into_iter().collect();
        let many: BTreeSet<u32> = candidates(&multi, e, usize::MAX).into_iter().collect();
        assert!(one.is_subset(&many), "row {row}");
        (single_total, multi_total) = (single_total + one.len(), multi_total + many.len());
        // The budget stops collecting after the bucket that crosses it.
        let capped = candidates(&multi, e, 10);
        assert!(capped.len() >= 10.min(many.len()) || capped.len() == many.len());
    }
    assert!(
        multi_total > single_total,
        "{multi_total} vs {single_total}"
    );
    // A stored row hashes to its own bucket (up to a projection that lands exactly on a
    // slot boundary and rounds differently in the query's scan).
    let tried = library.rows().div_ceil(7);
    assert!(found_self * 100 >= tried * 99, "{found_self} of {tried}");
}
