//! serde helpers that store numeric arrays as one little-endian byte blob.
//!
//! postcard writes a `Vec<u64>` element by element as varints (10 bytes for
//! a hash); as a blob the same array is one copy and a tight conversion loop.
//! This is what makes loading a model take about a millisecond.

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
                        Ok(bytes
                            .chunks_exact($n)
                            .map(|c| {
                                let mut a = [0u8; $n];
                                a.copy_from_slice(c);
                                <$t>::from_le_bytes(a)
                            })
                            .collect())
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
