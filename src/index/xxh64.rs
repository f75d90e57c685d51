//! XXH64 (Yann Collet's xxHash, 64-bit variant, seed 0): the index file's checksum.
//!
//! Written here rather than pulled in as a crate so that the core stays dependency-light.
//! [`Xxh64`] hashes a stream fed in pieces of any size and gives the same value as
//! [`xxh64`] over the concatenation; the tests pin both to the reference implementation's
//! published values.

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;
const P5: u64 = 0x27D4_EB2F_1656_67C5;

/// Bytes consumed per round: four 8-byte lanes.
const STRIPE: usize = 32;

/// Streaming XXH64 state.
#[derive(Clone, Debug)]
pub struct Xxh64 {
    lanes: [u64; 4],
    /// Bytes of a not yet complete stripe.
    pending: [u8; STRIPE],
    pending_len: usize,
    total_len: u64,
}

impl Default for Xxh64 {
    fn default() -> Self {
        Self::new()
    }
}

#[inline]
fn round(acc: u64, input: u64) -> u64 {
    acc.wrapping_add(input.wrapping_mul(P2))
        .rotate_left(31)
        .wrapping_mul(P1)
}

#[inline]
fn merge_round(acc: u64, lane: u64) -> u64 {
    (acc ^ round(0, lane)).wrapping_mul(P1).wrapping_add(P4)
}

#[inline]
fn read_u64(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"))
}

#[inline]
fn read_u32(bytes: &[u8]) -> u32 {
    u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes"))
}

impl Xxh64 {
    /// A fresh state (seed 0).
    pub fn new() -> Self {
        Xxh64 {
            lanes: [P1.wrapping_add(P2), P2, 0, 0u64.wrapping_sub(P1)],
            pending: [0; STRIPE],
            pending_len: 0,
            total_len: 0,
        }
    }

    fn stripe(&mut self, bytes: &[u8]) {
        for (lane, word) in self.lanes.iter_mut().zip(bytes.chunks_exact(8)) {
            *lane = round(*lane, read_u64(word));
        }
    }

    /// Feeds `bytes` (any length) into the hash.
    pub fn update(&mut self, mut bytes: &[u8]) {
        self.total_len += bytes.len() as u64;
        if self.pending_len > 0 {
            let take = (STRIPE - self.pending_len).min(bytes.len());
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&bytes[..take]);
            self.pending_len += take;
            bytes = &bytes[take..];
            if self.pending_len < STRIPE {
                return;
            }
            let stripe = self.pending;
            self.stripe(&stripe);
            self.pending_len = 0;
        }
        let mut stripes = bytes.chunks_exact(STRIPE);
        for stripe in &mut stripes {
            self.stripe(stripe);
        }
        let rest = stripes.remainder();
        self.pending[..rest.len()].copy_from_slice(rest);
        self.pending_len = rest.len();
    }

    /// The hash of everything fed so far (the state is left unchanged).
    pub fn digest(&self) -> u64 {
        let [v1, v2, v3, v4] = self.lanes;
        let mut h = if self.total_len >= STRIPE as u64 {
            let h = v1
                .rotate_left(1)
                .wrapping_add(v2.rotate_left(7))
                .wrapping_add(v3.rotate_left(12))
                .wrapping_add(v4.rotate_left(18));
            [v1, v2, v3, v4].into_iter().fold(h, merge_round)
        } else {
            P5 // v3 holds the seed, 0
        };
        h = h.wrapping_add(self.total_len);
        let mut tail = &self.pending[..self.pending_len];
        while tail.len() >= 8 {
            h = (h ^ round(0, read_u64(tail)))
                .rotate_left(27)
                .wrapping_mul(P1)
                .wrapping_add(P4);
            tail = &tail[8..];
        }
        if tail.len() >= 4 {
            h = (h ^ u64::from(read_u32(tail)).wrapping_mul(P1))
                .rotate_left(23)
                .wrapping_mul(P2)
                .wrapping_add(P3);
            tail = &tail[4..];
        }
        for &byte in tail {
            h = (h ^ u64::from(byte).wrapping_mul(P5))
                .rotate_left(11)
                .wrapping_mul(P1);
        }
        h ^= h >> 33;
        h = h.wrapping_mul(P2);
        h ^= h >> 29;
        h = h.wrapping_mul(P3);
        h ^ (h >> 32)
    }
}

/// XXH64 of `bytes` with seed 0.
pub fn xxh64(bytes: &[u8]) -> u64 {
    let mut state = Xxh64::new();
    state.update(bytes);
    state.digest()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 768 bytes 0, 1, ..., 255 repeated three times: many full stripes plus a tail.
    fn ramp() -> Vec<u8> {
        (0..768).map(|i| (i % 256) as u8).collect()
    }

    #[test]
    fn matches_reference_values() {
        // Values from the reference implementation (python-xxhash 3.x, seed 0).
        assert_eq!(xxh64(b""), 0xEF46_DB37_51D8_E999);
        assert_eq!(xxh64(b"a"), 0xD24E_C4F1_A98C_6E5B);
        assert_eq!(xxh64(b"abc"), 0x44BC_2CF5_AD77_0999);
        assert_eq!(
            xxh64(b"Nobody inspects the spammish repetition"),
            0xFBCE_A83C_8A37_8BF1
        );
        assert_eq!(xxh64(&ramp()), 0x8E03_C838_C596_036F);
    }

    #[test]
    fn streaming_equals_one_shot_for_every_split() {
        let data = ramp();
        for len in [0, 1, 7, 8, 31, 32, 33, 63, 64, 65, 100, 768] {
            let bytes = &data[..len];
            let whole = xxh64(bytes);
            for split in 0..=len {
                for piece in [1, 3, 13, 32, 40] {
                    let mut state = Xxh64::new();
                    state.update(&bytes[..split]);
                    for chunk in bytes[split..].chunks(piece) {
                        state.update(chunk);
                    }
                    assert_eq!(
                        state.digest(),
                        whole,
                        "len {len} split {split} piece {piece}"
                    );
                }
            }
        }
    }
}
