//! serde helpers that store numeric arrays as one little-endian byte blob.
//!
//! postcard writes a `Vec<u64>` element by element as varints (10 bytes for
//! a hash); as a blob the same array is one copy and a tight conversion loop.
//! This is what makes loading a model take about a millisecond.

macro_rules! blob {
    ($name:ident, $t:ty, $n:expr) => {
        pub mod $name {
            use serde::{Deserialize, Deserializer, Serializer};

            pub fn serialize<S: Serializer>(v: &[$t], s: S) -> Result<S::Ok, S::Error> {
                let mut bytes = Vec::with_capacity(v.len() * $n);
                for x in v {
                    bytes.extend_from_slice(&x.to_le_bytes());
                }
                s.serialize_bytes(&bytes)
            }

            pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<$t>, D::Error> {
                let bytes = serde_bytes::ByteBuf::deserialize(d)?;
                if bytes.len() % $n != 0 {
                    return Err(serde::de::Error::custom(format!(
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
        }
    };
}

blob!(u64s, u64, 8);
blob!(u32s, u32, 4);
blob!(f32s, f32, 4);
