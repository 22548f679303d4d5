//! Maps and sets keyed by term ids.
//!
//! Term ids are already well-mixed 64-bit hashes, so these use the id
//! itself as the hash instead of hashing it again.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Term ids are already well-mixed hashes: hashing them again is waste.
#[derive(Default)]
pub(crate) struct IdHasher(u64);
impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 keys are hashed")
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}
/// A map from term id to `V`.
pub(crate) type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;
/// A set of term ids.
pub(crate) type IdSet = HashSet<u64, BuildHasherDefault<IdHasher>>;
