//! Unicode-aware word tokenizer and n-gram term ids.
//!
//! Terms are identified by a 64-bit hash (xxh3 for words, a mixing function
//! for n-grams) rather than by their text: a vocabulary lookup then costs one
//! probe of an integer table, with no string comparison and no allocation.
//! With 64-bit ids the chance that any two of 10^6 distinct terms collide is
//! about 3 in 10^8.

use serde::{Deserialize, Serialize};

/// How text becomes terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tokenizer {
    /// Lower-case before splitting (Unicode-aware).
    pub lowercase: bool,
    /// Longest word n-gram produced (1 = words only, 2 = words and bigrams).
    pub ngram_max: u8,
    /// Also character n-grams of these lengths (inclusive) inside each word
    /// padded with a space on both sides, like scikit-learn's
    /// `analyzer="char_wb"`. They catch misspellings, inflections and
    /// sub-word sentiment ("unfunny") at the cost of ~20 more terms a word.
    #[serde(default)]
    pub char_ngrams: Option<(u8, u8)>,
}

impl Default for Tokenizer {
    fn default() -> Self {
        Tokenizer {
            lowercase: true,
            ngram_max: 2,
            char_ngrams: None,
        }
    }
}

/// Buffers [`Tokenizer::term_ids`] reuses between calls.
#[derive(Debug, Default)]
pub struct TokenScratch {
    pub(crate) buf: String,
    pub(crate) words: Vec<u64>,
    pub(crate) padded: String,
    pub(crate) bounds: Vec<usize>,
    pub(crate) seen: crate::vectorizer::IdSet,
}

/// Longest word prefix (bytes) that character n-grams are taken from.
pub const MAX_CHAR_NGRAM_WORD: usize = 64;

/// The part of `word` its character n-grams come from: its first
/// [`MAX_CHAR_NGRAM_WORD`] bytes, cut at a character boundary.
fn char_ngram_source(word: &str) -> &str {
    let mut cut = word.len().min(MAX_CHAR_NGRAM_WORD);
    while !word.is_char_boundary(cut) {
        cut -= 1;
    }
    &word[..cut]
}

/// Character n-grams are hashed with their own seed, so `"ok"` the word
/// and `"ok"` the character bigram are different terms.
const CHAR_SEED: u64 = 0xC4A2_5EED;

/// Calls `f` with the byte ranges of the character n-grams (lengths `lo..=hi`)
/// of `padded`, a word with a space before and after. `bounds` is scratch.
#[inline]
fn for_each_char_ngram(padded: &str, lo: usize, hi: usize, bounds: &mut Vec<usize>, mut f: impl FnMut(&str)) {
    bounds.clear();
    bounds.extend(padded.char_indices().map(|(i, _)| i));
    bounds.push(padded.len());
    let n_chars = bounds.len() - 1;
    for n in lo..=hi {
        if n >= n_chars {
            // The whole padded word, once, as scikit-learn does.
            f(padded);
            break;
        }
        for start in 0..=n_chars - n {
            f(&padded[bounds[start]..bounds[start + n]]);
        }
    }
}

/// ASCII letters and digits, by byte: one load instead of range tests.
static WORD_BYTE: [bool; 256] = {
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
fn for_each_ascii_word(bytes: &[u8], mut f: impl FnMut(usize, usize)) {
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

fn is_apostrophe(c: char) -> bool {
    c == '\'' || c == '\u{2019}'
}

/// Mixes two term ids into the id of their sequence (splitmix64 finaliser).
#[inline]
pub fn combine(a: u64, b: u64) -> u64 {
    let mut x = a.rotate_left(23) ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 30;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The id of a word n-gram from its words' ids.
#[inline]
pub fn ngram_id(word_ids: &[u64]) -> u64 {
    word_ids[1..].iter().fold(word_ids[0], |acc, &w| combine(acc, w))
}

/// The id of a single word.
#[inline]
pub fn word_id(word: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(word.as_bytes())
}

impl Tokenizer {
    /// Normalises `text` into `buf` (lower-cased if configured, curly
    /// apostrophes made straight), reusing its allocation.
    pub fn normalize_into(&self, text: &str, buf: &mut String) {
        buf.clear();
        if text.is_ascii() {
            buf.push_str(text);
            if self.lowercase {
                buf.make_ascii_lowercase();
            }
            return;
        }
        // ASCII runs are copied whole; only the other characters (in the
        // Rotten Tomatoes snippets mostly a curly apostrophe, in 6 % of
        // them) are handled one by one. A text whose only non-ASCII
        // characters were apostrophes comes out ASCII, and takes the fast
        // word splitter.
        buf.reserve(text.len());
        let mut rest = text;
        while !rest.is_empty() {
            let run = rest.bytes().position(|b| !b.is_ascii()).unwrap_or(rest.len());
            let (ascii, tail) = rest.split_at(run);
            let start = buf.len();
            buf.push_str(ascii);
            if self.lowercase {
                buf[start..].make_ascii_lowercase();
            }
            let mut chars = tail.chars();
            let Some(c) = chars.next() else { break };
            if is_apostrophe(c) {
                buf.push('\'');
            } else if self.lowercase && !c.is_lowercase() {
                buf.extend(c.to_lowercase());
            } else {
                buf.push(c);
            }
            rest = chars.as_str();
        }
    }

    /// Calls `f` with each word of already-normalised text: maximal runs of
    /// alphanumeric characters, keeping apostrophes between two of them
    /// (`don't`, `it's`).
    #[inline]
    pub fn for_each_word<'t>(&self, normalized: &'t str, mut f: impl FnMut(&'t str)) {
        let bytes = normalized.as_bytes();
        if normalized.is_ascii() {
            for_each_ascii_word(bytes, |s, e| f(&normalized[s..e]));
            return;
        }
        let mut start: Option<usize> = None;
        let mut iter = normalized.char_indices().peekable();
        while let Some((i, c)) = iter.next() {
            if c.is_alphanumeric() {
                if start.is_none() {
                    start = Some(i);
                }
            } else if c == '\'' && start.is_some() && iter.peek().is_some_and(|&(_, n)| n.is_alphanumeric()) {
                // An in-word apostrophe: keep going.
            } else if let Some(s) = start.take() {
                f(&normalized[s..i]);
            }
        }
        if let Some(s) = start {
            f(&normalized[s..]);
        }
    }

    /// The byte-by-byte ASCII word splitter that [`for_each_ascii_word`]
    /// replaces: the reference its tests compare against.
    #[cfg(test)]
    fn for_each_ascii_word_bytewise<'t>(&self, normalized: &'t str, mut f: impl FnMut(&'t str)) {
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

    /// Appends the ids of the distinct character n-grams of one word (of an
    /// already normalised text) to `out`; nothing if character n-grams are
    /// off. `padded` and `bounds` are scratch space.
    #[inline]
    pub(crate) fn push_char_ngrams(
        &self,
        word: &str,
        padded: &mut String,
        bounds: &mut Vec<usize>,
        out: &mut Vec<u64>,
    ) {
        let Some((lo, hi)) = self.char_ngrams else {
            return;
        };
        // Character n-grams come from a word's first 64 bytes at most: a
        // 10 MB "word" would otherwise make 40 million of them.
        padded.clear();
        padded.push(' ');
        padded.push_str(char_ngram_source(word));
        padded.push(' ');
        let start = out.len();
        for_each_char_ngram(padded, lo as usize, hi as usize, bounds, |g| {
            out.push(xxhash_rust::xxh3::xxh3_64_with_seed(g.as_bytes(), CHAR_SEED))
        });
        let grams = &mut out[start..];
        grams.sort_unstable();
        let mut unique = 0;
        for i in 0..grams.len() {
            if i == 0 || grams[i] != grams[unique - 1] {
                grams[unique] = grams[i];
                unique += 1;
            }
        }
        out.truncate(start + unique);
    }

    /// Appends the ids of all terms (character n-grams if configured, words,
    /// then word n-grams up to `ngram_max`) of `text` to `out`. `scratch`
    /// keeps its buffers between calls, so a warm call allocates nothing.
    pub fn term_ids(&self, text: &str, scratch: &mut TokenScratch, out: &mut Vec<u64>) {
        let TokenScratch {
            buf,
            words,
            padded,
            bounds,
            seen,
        } = scratch;
        self.normalize_into(text, buf);
        words.clear();
        match self.char_ngrams {
            None => self.for_each_word(buf, |w| words.push(word_id(w))),
            Some(_) => {
                // Each distinct word contributes each of its distinct
                // character n-grams once: a gram's count is the number of
                // distinct words holding it. That keeps a document's score
                // a sum over its distinct words, which is what lets a model
                // precompute every known word's character n-gram score.
                seen.clear();
                self.for_each_word(buf, |w| {
                    let id = word_id(w);
                    words.push(id);
                    if !seen.insert(id) {
                        return;
                    }
                    self.push_char_ngrams(w, padded, bounds, out);
                });
            }
        }
        out.extend_from_slice(words);
        for n in 2..=self.ngram_max.max(1) as usize {
            for window in words.windows(n) {
                out.push(ngram_id(window));
            }
        }
    }

    /// Like [`Tokenizer::term_ids`], but also yields each term's text
    /// (n-grams joined by a space, character n-grams in brackets with `_`
    /// for the padding). Used to name features, never on the prediction path.
    pub fn terms_with_text(&self, text: &str, mut f: impl FnMut(u64, String)) {
        self.named_terms(text, |_| true, |id, text| f(id, text()));
    }

    /// Yields `(id, text)` only for the terms `wanted` accepts, building the
    /// text only for those (naming a vocabulary touches every document).
    pub fn named_terms(&self, text: &str, wanted: impl Fn(u64) -> bool, mut f: impl FnMut(u64, &dyn Fn() -> String)) {
        let mut buf = String::new();
        self.normalize_into(text, &mut buf);
        let mut words: Vec<&str> = Vec::new();
        self.for_each_word(&buf, |w| words.push(w));
        let ids: Vec<u64> = words.iter().map(|w| word_id(w)).collect();
        if let Some((lo, hi)) = self.char_ngrams {
            let mut bounds = Vec::new();
            for w in &words {
                let padded = format!(" {} ", char_ngram_source(w));
                for_each_char_ngram(&padded, lo as usize, hi as usize, &mut bounds, |g| {
                    let id = xxhash_rust::xxh3::xxh3_64_with_seed(g.as_bytes(), CHAR_SEED);
                    if wanted(id) {
                        f(id, &|| format!("[{}]", g.replace(' ', "_")));
                    }
                });
            }
        }
        for (w, id) in words.iter().zip(&ids) {
            if wanted(*id) {
                f(*id, &|| (*w).to_string());
            }
        }
        for n in 2..=self.ngram_max.max(1) as usize {
            for (i, window) in ids.windows(n).enumerate() {
                let id = ngram_id(window);
                if wanted(id) {
                    f(id, &|| words[i..i + n].join(" "));
                }
            }
        }
    }

    /// The words of `text`, as owned strings (for tests and tools).
    pub fn words(&self, text: &str) -> Vec<String> {
        let mut buf = String::new();
        self.normalize_into(text, &mut buf);
        let mut out = Vec::new();
        self.for_each_word(&buf, |w| out.push(w.to_string()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_both_ways(text: &str) -> (Vec<String>, Vec<String>) {
        let t = Tokenizer::default();
        let mut fast = Vec::new();
        t.for_each_word(text, |w| fast.push(w.to_string()));
        let mut slow = Vec::new();
        t.for_each_ascii_word_bytewise(text, |w| slow.push(w.to_string()));
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

    #[test]
    fn splits_lowercases_and_keeps_in_word_apostrophes() {
        let t = Tokenizer::default();
        assert_eq!(
            t.words("Don't stop -- it's GREAT, isn’t it? 'quoted' rock'n'roll 42x"),
            [
                "don't",
                "stop",
                "it's",
                "great",
                "isn't",
                "it",
                "quoted",
                "rock'n'roll",
                "42x"
            ]
        );
    }

    #[test]
    fn unicode_letters_and_case() {
        let t = Tokenizer::default();
        assert_eq!(
            t.words("Ça MARCHE très-bien, ÉTÉ 東京"),
            ["ça", "marche", "très", "bien", "été", "東京"]
        );
        let keep = Tokenizer {
            lowercase: false,
            ngram_max: 1,
            char_ngrams: None,
        };
        assert_eq!(keep.words("Hello World"), ["Hello", "World"]);
    }

    #[test]
    fn empty_and_punctuation_only_text_has_no_terms() {
        let t = Tokenizer::default();
        let (mut scratch, mut out) = (TokenScratch::default(), Vec::new());
        for text in ["", "   ", "!!! ... ---", "'"] {
            out.clear();
            t.term_ids(text, &mut scratch, &mut out);
            assert!(out.is_empty(), "{text:?}");
        }
    }

    /// As scikit-learn's `char_wb` (2, 3) on "ab cde": " a", "ab", "b ",
    /// " ab", "ab " and " c", "cd", "de", "e ", " cd", "cde", "de ".
    #[test]
    fn char_ngrams_inside_padded_words() {
        let t = Tokenizer {
            lowercase: true,
            ngram_max: 1,
            char_ngrams: Some((2, 3)),
        };
        let mut named = Vec::new();
        t.terms_with_text("ab cde", |_, text| named.push(text));
        assert_eq!(
            named,
            [
                "[_a]", "[ab]", "[b_]", "[_ab]", "[ab_]", "[_c]", "[cd]", "[de]", "[e_]", "[_cd]", "[cde]", "[de_]",
                "ab", "cde"
            ]
        );
        let (mut scratch, mut ids) = (TokenScratch::default(), Vec::new());
        t.term_ids("ab cde", &mut scratch, &mut ids);
        let mut from_text = Vec::new();
        t.terms_with_text("ab cde", |id, _| from_text.push(id));
        ids.sort_unstable();
        from_text.sort_unstable();
        assert_eq!(ids, from_text, "the same terms on both paths");
        // Each distinct word's distinct grams once: "aa aa" gives " a", "aa",
        // "a ", " aa", "aa " once (not per occurrence), then the word twice.
        let mut repeated = Vec::new();
        t.term_ids("aa aa", &mut scratch, &mut repeated);
        assert_eq!(repeated.len(), 5 + 2, "{repeated:?}");
        // A word shorter than the shortest n-gram counts once, whole.
        let mut short = Vec::new();
        Tokenizer {
            char_ngrams: Some((4, 5)),
            ..t
        }
        .terms_with_text("a", |_, text| short.push(text));
        assert_eq!(short, ["[_a_]", "a"]);
    }

    /// A pathological "word" cannot blow up the number of terms.
    #[test]
    fn char_ngrams_of_long_words_are_bounded() {
        let t = Tokenizer {
            lowercase: true,
            ngram_max: 1,
            char_ngrams: Some((2, 5)),
        };
        let (mut scratch, mut ids) = (TokenScratch::default(), Vec::new());
        let long = "é".repeat(100_000);
        t.term_ids(&long, &mut scratch, &mut ids);
        assert!(ids.len() <= 4 * (MAX_CHAR_NGRAM_WORD + 2) + 1, "{}", ids.len());
        let mut named = 0;
        t.terms_with_text(&long, |_, _| named += 1);
        assert!(named <= 4 * (MAX_CHAR_NGRAM_WORD + 2) + 1, "{named}");
    }

    #[test]
    fn ngram_ids_match_their_text_form() {
        let t = Tokenizer {
            lowercase: true,
            ngram_max: 3,
            char_ngrams: None,
        };
        let (mut scratch, mut ids) = (TokenScratch::default(), Vec::new());
        t.term_ids("a b c d", &mut scratch, &mut ids);
        assert_eq!(ids.len(), 4 + 3 + 2);
        let mut named = Vec::new();
        t.terms_with_text("a b c d", |id, text| named.push((id, text)));
        let from_text: Vec<u64> = named.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, from_text);
        assert_eq!(named[4].1, "a b");
        assert_eq!(named[8].1, "b c d");
        assert_ne!(combine(ids[0], ids[1]), combine(ids[1], ids[0]), "order matters");
    }
}
