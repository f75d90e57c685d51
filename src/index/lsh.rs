//! The p-stable LSH baseline (Datar, Immorlica, Indyk, Mirrokni 2004) with query-directed
//! multi-probe (after Lv, Josephson, Wang, Charikar, Li 2007), on the library's stored
//! embeddings. The tables live in memory only: they are built when a
//! [`Searcher`](super::Searcher) is made for [`Method::Lsh`](super::Method::Lsh).
//!
//! Each of L tables hashes an embedding v with k functions h_j(v) = ⌊(a_j·v + b_j) / w⌋,
//! a_j ~ N(0, I_D), b_j ~ U[0, w), and files it under the concatenation (h_1, …, h_k).
//! The k integers are mixed into one 64-bit key; two different tuples sharing a key (odds
//! about n²/2^64 per table) would merge their buckets, which only adds candidates.
//!
//! Multi-probe, simplified from Lv et al.: for a query, f_j = (a_j·q + b_j)/w lies at
//! distance x_j = min(frac f_j, 1 − frac f_j) from its nearer slot boundary. A probe
//! perturbs a set S of coordinates by one slot towards their nearer boundary, and costs
//! Σ_{j∈S} x_j² (Lv et al.'s score). Lv et al. also consider the farther boundary (cost
//! ≥ 0.25 each, so such probes come late); we omit it, which makes the probe sequence a
//! walk over subsets in increasing summed cost — exactly what the hash-table search's
//! bucket enumeration does (`earmark_kernels::probe` with the x_j² as logit
//! magnitudes), so the same kernel serves both. Each table is probed `probes` times,
//! interleaved across tables (every table's best probe first).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use earmark_kernels::dot::scan_f32;
use earmark_kernels::probe::{Probe, ProbeSlot, slots_for};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::library::{Library, QueryVector};
use super::random::standard_normal;

/// LSH parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LshParams {
    /// Hash functions per table, concatenated (1..=32).
    pub k: usize,
    /// Number of tables L.
    pub tables: usize,
    /// Slot width w, in units of the embedding (unit vectors: a·v ~ N(0, 1)).
    pub width: f32,
    /// Buckets probed per table, the home bucket included (1 = no multi-probe).
    pub probes: usize,
    /// Seed of the projections and offsets.
    pub seed: u64,
}

impl Default for LshParams {
    /// The cheaper of the two settings `benches/search.rs` runs: at 2·10^5 rows, k = 12
    /// hashes of width 1.5 make buckets of a few rows; 8 tables × 8 probes score about
    /// 0.08 % of the rows per query segment.
    fn default() -> Self {
        LshParams {
            k: 12,
            tables: 8,
            width: 1.5,
            probes: 8,
            seed: 0x15b_5eed,
        }
    }
}

/// Hashes a table key by taking it as is: keys come out of [`mix`] already well spread,
/// and this saves SipHash's cost on every probe.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed (`write_u64`); fold anything else in for completeness.
        for &b in bytes {
            self.0 = mix(self.0, i32::from(b));
        }
    }

    fn write_u64(&mut self, key: u64) {
        self.0 = key;
    }
}

/// One table: the rows sorted by key, and each non-empty bucket's range of them (one
/// hash lookup per probe, instead of a binary search over all rows).
struct Table {
    rows: Vec<u32>,
    buckets: HashMap<u64, (u32, u32), BuildHasherDefault<KeyHasher>>,
}

impl Table {
    /// `(key, row)` pairs sorted by key (and row) → the table.
    fn new(sorted: Vec<(u64, u32)>) -> Table {
        let mut buckets = HashMap::default();
        let mut start = 0;
        for bucket in sorted.chunk_by(|a, b| a.0 == b.0) {
            buckets.insert(bucket[0].0, (start as u32, (start + bucket.len()) as u32));
            start += bucket.len();
        }
        // Read at random like the library's rows, so given huge pages as they are.
        let mut rows = Vec::with_capacity(sorted.len());
        super::pages::advise_huge_pages(rows.spare_capacity_mut());
        rows.extend(sorted.into_iter().map(|(_, row)| row));
        Table { rows, buckets }
    }

    /// The rows of the bucket `key` (empty if absent).
    fn bucket(&self, key: u64) -> &[u32] {
        self.buckets.get(&key).map_or(&[], |&(start, end)| {
            &self.rows[start as usize..end as usize]
        })
    }
}

/// LSH tables over a library's rows.
pub struct LshIndex {
    params: LshParams,
    /// (L·k) × D projection vectors a, table-major.
    projections: Vec<f32>,
    /// L·k offsets b ∈ [0, w).
    offsets: Vec<f32>,
    tables: Vec<Table>,
}

/// Folds one hash value into a table key (a multiply–xorshift mix, so that the k-tuple
/// order matters and nearby tuples get unrelated keys).
fn mix(key: u64, h: i32) -> u64 {
    let x = (key ^ u64::from(h as u32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^ (x >> 29)
}

/// Seed of every table key before its k values are folded in.
const KEY_SEED: u64 = 0x243F_6A88_85A3_08D3;

impl LshIndex {
    /// Builds the tables over every row of `library`: L·k projection scans of all rows
    /// (the SIMD dot scan, with the projection vector as the query), then one sort per
    /// table.
    ///
    /// Panics if `params` are out of range (k in 1..=32, at least one table and probe,
    /// positive width).
    pub fn build(library: &Library, params: LshParams) -> LshIndex {
        assert!(
            (1..=32).contains(&params.k)
                && params.tables > 0
                && params.probes > 0
                && params.width > 0.0,
            "LshIndex::build: bad parameters {params:?}"
        );
        let dim = library.config().dim as usize;
        let n = library.rows();
        let hashes = params.k * params.tables;
        let mut rng = StdRng::seed_from_u64(params.seed);
        let projections: Vec<f32> = (0..hashes * dim)
            .map(|_| standard_normal(&mut rng))
            .collect();
        let offsets: Vec<f32> = (0..hashes)
            .map(|_| rng.random::<f32>() * params.width)
            .collect();

        let mut values = vec![0.0f32; n];
        let mut projection = QueryVector::default();
        let tables = (0..params.tables)
            .map(|l| {
                let mut keys = vec![KEY_SEED; n];
                for j in l * params.k..(l + 1) * params.k {
                    projection.set(&projections[j * dim..(j + 1) * dim]);
                    library.score_rows(&projection, 0..n, &mut values);
                    for (key, &v) in keys.iter_mut().zip(&values) {
                        *key = mix(*key, slot(v, offsets[j], params.width));
                    }
                }
                let mut order: Vec<(u64, u32)> = keys.into_iter().zip(0..n as u32).collect();
                order.sort_unstable();
                Table::new(order)
            })
            .collect();
        LshIndex {
            params,
            projections,
            offsets,
            tables,
        }
    }

    pub fn params(&self) -> &LshParams {
        &self.params
    }

    /// Appends to `out` the rows of the buckets probed for query embedding `query` (D
    /// values), in probe order, stopping once `candidate_budget` rows were collected (a
    /// row found in several tables counts each time). Rows may repeat.
    pub fn candidates(&self, query: &[f32], candidate_budget: usize, out: &mut Vec<u32>) {
        let LshParams {
            k, width, probes, ..
        } = self.params;
        let mut values = vec![0.0f32; self.offsets.len()];
        scan_f32(query, &self.projections, &mut values);
        let mut storage = vec![ProbeSlot::EMPTY; slots_for(probes)];
        let mut costs = [0.0f32; 32];
        let mut home = [0i32; 32];
        let mut towards = [0i32; 32];
        // One probe iterator per table needs one heap each; probes ≤ a few dozen, so the
        // sequences are cheap to compute up front: `sequence[l]` lists table l's keys.
        let mut sequence: Vec<Vec<u64>> = Vec::with_capacity(self.tables.len());
        for l in 0..self.tables.len() {
            for i in 0..k {
                let j = l * k + i;
                let f = (values[j] + self.offsets[j]) / width;
                let h = f.floor();
                let frac = f - h;
                home[i] = h as i32;
                (towards[i], costs[i]) = if frac < 0.5 {
                    (-1, frac * frac)
                } else {
                    (1, (1.0 - frac) * (1.0 - frac))
                };
            }
            // Logits ≥ 0 make the best key all ones; a 0 bit in a probed key marks a
            // perturbed coordinate.
            let all = if k == 32 { u32::MAX } else { (1u32 << k) - 1 };
            let probe = Probe::new(&costs[..k], &mut storage);
            sequence.push(
                probe
                    .take(probes)
                    .map(|(key, _)| {
                        let flips = all ^ key;
                        (0..k).fold(KEY_SEED, |acc, i| {
                            let h = home[i] + if flips >> i & 1 == 1 { towards[i] } else { 0 };
                            mix(acc, h)
                        })
                    })
                    .collect(),
            );
        }
        let start = out.len();
        for rank in 0..probes {
            for (table, keys) in self.tables.iter().zip(&sequence) {
                if let Some(&key) = keys.get(rank) {
                    out.extend_from_slice(table.bucket(key));
                    if out.len() - start >= candidate_budget {
                        return;
                    }
                }
            }
        }
    }
}

/// ⌊(v + b) / w⌋ as a hash value.
fn slot(v: f32, b: f32, width: f32) -> i32 {
    ((v + b) / width).floor() as i32
}
