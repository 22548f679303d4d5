//! serde helpers that store numeric arrays as one little-endian byte blob.
//!
//! postcard writes a `Vec<u64>` element by element as varints (10 bytes for
//! a hash); as a blob the same array is one copy and a tight conversion loop.
//! This is what makes loading a model take about a millisecond.

/// Backs a large, fresh vector's memory in one system call
/// (`MADV_POPULATE_WRITE`) instead of one page fault per 4 KB page as it is
/// filled. Loading the default model fills ~1.8 MB of new arrays; on the
/// 2-core VM a fault costs 1-4 µs, so this takes ~0.2 ms off a command-line
/// prediction (docs/PERFORMANCE.md). Only advice: before Linux 5.14 and on
/// other systems nothing happens.
pub(crate) fn prefault<T>(v: &mut Vec<T>) {
    const WORTH_IT: usize = 256 * 1024;
    const PAGE: usize = 4096;
    let bytes = v.capacity() * std::mem::size_of::<T>();
    if bytes < WORTH_IT {
        return;
    }
    let start = v.as_mut_ptr() as usize;
    let (aligned, end) = (start.div_ceil(PAGE) * PAGE, (start + bytes) / PAGE * PAGE);
    #[cfg(target_os = "linux")]
    if end > aligned {
        // SAFETY: the range lies inside the vector's own allocation, and
        // MADV_POPULATE_WRITE only faults pages in: contents and mapping stay.
        unsafe {
            libc::madvise(aligned as *mut libc::c_void, end - aligned, libc::MADV_POPULATE_WRITE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (aligned, end);
}

macro_rules! blob {
    ($name:ident, $t:ty, $n:expr) => {
        pub mod $name {
            use serde::{Deserializer, Serializer};

            pub fn serialize<S: Serializer>(v: &[$t], s: S) -> Result<S::Ok, S::Error> {
                let mut bytes = Vec::with_capacity(v.len() * $n);
                for x in v {
                    bytes.extend_from_slice(&x.to_le_bytes());
                }
                s.serialize_bytes(&bytes)
            }

            pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<$t>, D::Error> {
                struct Blob;
                impl<'de> serde::de::Visitor<'de> for Blob {
                    type Value = Vec<$t>;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        write!(f, "a byte blob of little-endian {}", stringify!($t))
                    }
                    // Borrowed straight from the input (postcard): one copy.
                    fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<Self::Value, E> {
                        if bytes.len() % $n != 0 {
                            return Err(E::custom(format!(
                                "array blob of {} bytes is not a multiple of {}",
                                bytes.len(),
                                $n
                            )));
                        }
                        let mut out: Vec<$t> = Vec::with_capacity(bytes.len() / $n);
                        crate::raw::prefault(&mut out);
                        out.extend(bytes.chunks_exact($n).map(|c| {
                            let mut a = [0u8; $n];
                            a.copy_from_slice(c);
                            <$t>::from_le_bytes(a)
                        }));
                        Ok(out)
                    }
                    // Self-describing formats without a bytes type (JSON).
                    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                        let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                        while let Some(b) = seq.next_element::<u8>()? {
                            bytes.push(b);
                        }
                        self.visit_bytes(&bytes)
                    }
                }
                d.deserialize_bytes(Blob)
            }
        }
    };
}

blob!(u64s, u64, 8);
blob!(u32s, u32, 4);
blob!(f32s, f32, 4);
