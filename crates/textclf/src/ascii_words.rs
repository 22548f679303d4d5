//! Splitting ASCII text into words 16 bytes at a time, on bit masks.

/// ASCII letters and digits, by byte: one load instead of range tests.
pub(crate) static WORD_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    t
};

/// Calls `f(start, end)` for each word of ASCII text: maximal runs of
/// letters and digits, an apostrophe between two of them included (`don't`).
///
/// Why not byte by byte: that loop took ~770 instructions of a ~7,000
/// instruction prediction (two branches per byte). Here 16 bytes at a time
/// become bit masks (SSE2 on x86-64, a portable loop elsewhere), and words
/// are found with `trailing_zeros` on the masks: a few instructions per
/// word instead of per byte.
#[inline]
pub(crate) fn for_each_ascii_word(bytes: &[u8], mut f: impl FnMut(usize, usize)) {
    let n = bytes.len();
    let mut start: Option<usize> = None;
    let mut base = 0;
    while base < n {
        let len = (n - base).min(64);
        let (alnum, apostrophes) = masks(&bytes[base..base + len]);
        // An apostrophe joins when the bytes on both sides are letters or
        // digits; the byte after a chunk's last byte comes from the next one.
        let next_alnum = bytes.get(base + len).is_some_and(|&b| WORD_BYTE[b as usize]) as u64;
        let alnum_after = (alnum >> 1) | (next_alnum << (len - 1));
        let alnum_before = (alnum << 1) | start.is_some() as u64;
        let word = alnum | (apostrophes & alnum_after & alnum_before);
        let mut pos = 0usize;
        while pos < len {
            let rest = word >> pos;
            match start {
                Some(s) => {
                    let gap = (!rest).trailing_zeros() as usize;
                    if pos + gap >= len {
                        break;
                    }
                    f(s, base + pos + gap);
                    start = None;
                    pos += gap;
                }
                None => {
                    if rest == 0 {
                        break;
                    }
                    let skip = rest.trailing_zeros() as usize;
                    start = Some(base + pos + skip);
                    pos += skip;
                }
            }
        }
        base += len;
    }
    if let Some(s) = start {
        f(s, n);
    }
}

/// Bit `i` of the first mask: `chunk[i]` is an ASCII letter or digit; of
/// the second: it is an apostrophe. `chunk` has 1 to 64 bytes.
#[inline]
fn masks(chunk: &[u8]) -> (u64, u64) {
    let mut alnum = 0u64;
    let mut apostrophes = 0u64;
    let mut i = 0;
    #[cfg(target_arch = "x86_64")]
    while i + 16 <= chunk.len() {
        let (a, q) = sse2_masks(&chunk[i..i + 16]);
        alnum |= (a as u64) << i;
        apostrophes |= (q as u64) << i;
        i += 16;
    }
    while i < chunk.len() {
        let b = chunk[i];
        alnum |= (WORD_BYTE[b as usize] as u64) << i;
        apostrophes |= ((b == b'\'') as u64) << i;
        i += 1;
    }
    (alnum, apostrophes)
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn sse2_masks(sixteen: &[u8]) -> (u32, u32) {
    use std::arch::x86_64::*;
    debug_assert_eq!(sixteen.len(), 16);
    // SAFETY: SSE2 is part of the x86-64 baseline, and the load reads
    // exactly the 16 bytes of `sixteen` (unaligned load allowed).
    unsafe {
        let v = _mm_loadu_si128(sixteen.as_ptr() as *const __m128i);
        // ASCII bytes are below 0x80, so signed comparisons are exact.
        let between = |lo: u8, hi: u8| {
            _mm_and_si128(
                _mm_cmpgt_epi8(v, _mm_set1_epi8(lo as i8 - 1)),
                _mm_cmplt_epi8(v, _mm_set1_epi8(hi as i8 + 1)),
            )
        };
        let alnum = _mm_or_si128(
            _mm_or_si128(between(b'a', b'z'), between(b'A', b'Z')),
            between(b'0', b'9'),
        );
        let apostrophe = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\'' as i8));
        (_mm_movemask_epi8(alnum) as u32, _mm_movemask_epi8(apostrophe) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-by-byte ASCII word splitter that [`for_each_ascii_word`]
    /// replaces: the reference its tests compare against.
    fn for_each_ascii_word_bytewise<'t>(normalized: &'t str, mut f: impl FnMut(&'t str)) {
        let bytes = normalized.as_bytes();
        {
            let mut start: Option<usize> = None;
            for (i, &b) in bytes.iter().enumerate() {
                if WORD_BYTE[b as usize] {
                    if start.is_none() {
                        start = Some(i);
                    }
                } else if b == b'\'' && start.is_some() && bytes.get(i + 1).is_some_and(u8::is_ascii_alphanumeric) {
                    // An in-word apostrophe: keep going.
                } else if let Some(s) = start.take() {
                    f(&normalized[s..i]);
                }
            }
            if let Some(s) = start {
                f(&normalized[s..]);
            }
        }
    }

    fn split_both_ways(text: &str) -> (Vec<String>, Vec<String>) {
        let mut fast = Vec::new();
        for_each_ascii_word(text.as_bytes(), |s, e| fast.push(text[s..e].to_string()));
        let mut slow = Vec::new();
        for_each_ascii_word_bytewise(text, |w| slow.push(w.to_string()));
        (fast, slow)
    }

    #[test]
    fn the_masked_splitter_agrees_with_the_bytewise_one_at_chunk_edges() {
        // Words and apostrophes on every position around the 16- and
        // 64-byte chunk boundaries.
        let pieces = ["a", "don't", "x'", "'y", "''", " ", "--", "rock'n'roll", "0", "'", "z9"];
        for len in [15usize, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 200] {
            for offset in 0..pieces.len() {
                let mut text = String::new();
                let mut k = offset;
                while text.len() < len {
                    text.push_str(pieces[k % pieces.len()]);
                    k += 3;
                }
                text.truncate(len);
                let (fast, slow) = split_both_ways(&text);
                assert_eq!(fast, slow, "{text:?}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn the_masked_splitter_agrees_with_the_bytewise_one(text in "[a-zA-Z0-9' .,!-]{0,300}") {
            let (fast, slow) = split_both_ways(&text);
            proptest::prop_assert_eq!(fast, slow);
        }
    }
}
