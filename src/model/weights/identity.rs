//! The model identity: a stable 64-bit hash of a set of named tensors, recorded by an index
//! so that it refuses queries embedded by a different model.

use super::NamedTensor;

/// FNV-1a 64-bit offset basis and prime (Fowler, Noll, Vo; the published constants).
const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// A stable hash of `tensors`' names, shapes and values: FNV-1a 64 over this byte stream,
/// tensors taken in byte order of their names (so the order they are listed or stored in
/// does not matter), integers little-endian:
///
/// ```text
/// for each tensor: [u64 name length][name, UTF-8][u64 rank][u64 per dimension]
///                  [u32 bit pattern per f32 value, row-major]
/// ```
///
/// Values are hashed by bit pattern, so `-0.0` and `0.0` differ, and so do NaN payloads.
/// The same weights stored as F16 hash as the f32 values they load as. FNV-1a is not
/// cryptographic: this detects a different or retrained model, not a forgery. Changing
/// this stream invalidates every index ever built, so a test pins its value.
pub fn identity(tensors: &[NamedTensor]) -> u64 {
    let mut order: Vec<&NamedTensor> = tensors.iter().collect();
    order.sort_by(|a, b| a.name.cmp(&b.name));
    let mut h = Fnv1a::new();
    for t in order {
        h.write(&(t.name.len() as u64).to_le_bytes());
        h.write(t.name.as_bytes());
        h.write(&(t.shape.len() as u64).to_le_bytes());
        for &d in &t.shape {
            h.write(&(d as u64).to_le_bytes());
        }
        for &x in &t.data {
            h.write(&x.to_bits().to_le_bytes());
        }
    }
    h.finish()
}

/// FNV-1a, 64-bit: per byte, `h = (h ^ byte) * prime`.
struct Fnv1a(u64);

impl Fnv1a {
    fn new() -> Self {
        Fnv1a(FNV_OFFSET_BASIS)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(FNV_PRIME);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fnv(bytes: &[u8]) -> u64 {
        let mut h = Fnv1a::new();
        h.write(bytes);
        h.finish()
    }

    /// Published FNV-1a 64 test vectors (from the reference test suite by Noll).
    #[test]
    fn fnv1a_matches_published_vectors() {
        assert_eq!(fnv(b""), 0xcbf29ce484222325);
        assert_eq!(fnv(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn streaming_in_pieces_equals_hashing_at_once() {
        let mut h = Fnv1a::new();
        h.write(b"foo");
        h.write(b"");
        h.write(b"bar");
        assert_eq!(h.finish(), fnv(b"foobar"));
    }
}
