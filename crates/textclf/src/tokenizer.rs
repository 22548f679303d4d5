//! Unicode-aware word tokenizer and n-gram term ids.
//!
//! Terms are identified by a 64-bit hash (xxh3 for words, a mixing function
//! for n-grams) rather than by their text: a vocabulary lookup then costs one
//! probe of an integer table, with no string comparison and no allocation.
//! With 64-bit ids the chance that any two of 10^6 distinct terms collide is
//! about 3 in 10^8.

use crate::ascii_words::for_each_ascii_word;
use crate::ids::IdSet;
use rayon::prelude::*;
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

/// A text's terms as [`Tokenizer::split_terms`] finds them, and the buffers
/// every pass over terms reuses between calls (a warm call allocates
/// nothing).
#[derive(Debug, Default)]
pub struct TokenScratch {
    /// The normalised text.
    pub(crate) buf: String,
    /// Each word's id, in text order.
    pub(crate) words: Vec<u64>,
    /// Each word's bytes in `buf`.
    pub(crate) spans: Vec<(u32, u32)>,
    /// With character n-grams on: whether word `i` is the first occurrence
    /// of its id in the text (a word's character n-grams count once per
    /// text). Empty otherwise.
    pub(crate) first: Vec<bool>,
    /// The word n-grams (2 up to `ngram_max` words), in [`Tokenizer::for_each_ngram`] order.
    pub(crate) ngrams: Vec<u64>,
    padded: String,
    bounds: Vec<usize>,
    seen: IdSet,
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

    /// Appends the ids of the distinct character n-grams of one word (of an
    /// already normalised text) to `out`; nothing if character n-grams are
    /// off. `padded` and `bounds` are scratch space.
    #[inline]
    fn push_char_ngrams(&self, word: &str, padded: &mut String, bounds: &mut Vec<usize>, out: &mut Vec<u64>) {
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

    /// Calls `f(start, n, id)` for every word n-gram of `words` (word ids),
    /// `n` from 2 to `ngram_max`, shorter n-grams first: the one place word
    /// n-grams are formed, for training, naming and every scoring path.
    #[inline]
    pub(crate) fn for_each_ngram(&self, words: &[u64], mut f: impl FnMut(usize, usize, u64)) {
        for n in 2..=self.ngram_max.max(1) as usize {
            for (start, window) in words.windows(n).enumerate() {
                f(start, n, ngram_id(window));
            }
        }
    }

    /// Splits `text` into its terms, in `scratch`: the normalised text, each
    /// word's id and bytes, (with character n-grams on) whether it is the
    /// word's first occurrence, and the word n-grams. Every pass over a
    /// text's terms starts here, so training and the scoring paths cannot
    /// disagree on what the terms are; character n-grams are produced on
    /// demand ([`Tokenizer::char_ngrams_of`]), since a scoring path needs
    /// them only for words the model never saw.
    // Always inlined: in the scoring paths it is most of a prediction, and
    // a call boundary there costs ~5 % of the instructions (callgrind).
    #[inline(always)]
    pub(crate) fn split_terms(&self, text: &str, scratch: &mut TokenScratch) {
        let TokenScratch {
            buf,
            words,
            spans,
            first,
            ngrams,
            seen,
            ..
        } = scratch;
        self.normalize_into(text, buf);
        words.clear();
        spans.clear();
        first.clear();
        ngrams.clear();
        seen.clear();
        let base = buf.as_ptr() as usize;
        self.for_each_word(buf, |w| {
            words.push(word_id(w));
            let start = w.as_ptr() as usize - base;
            spans.push((start as u32, (start + w.len()) as u32));
        });
        if self.char_ngrams.is_some() {
            // A pass of its own keeps the per-word closure above small
            // enough to stay cheap (it is the hot loop of a prediction).
            let mut filter = 0u64;
            first.extend((0..words.len()).map(|i| first_occurrence(words[i], &words[..i], seen, &mut filter)));
        }
        self.for_each_ngram(words, |_, _, id| ngrams.push(id));
    }

    /// Appends the ids of the distinct character n-grams of word `i` of the
    /// text last split into `scratch` to `out`.
    #[inline]
    pub(crate) fn char_ngrams_of(&self, scratch: &mut TokenScratch, i: usize, out: &mut Vec<u64>) {
        let (start, end) = scratch.spans[i];
        let word = &scratch.buf[start as usize..end as usize];
        self.push_char_ngrams(word, &mut scratch.padded, &mut scratch.bounds, out);
    }

    /// Appends the ids of all terms (character n-grams of each distinct
    /// word if configured, words, then word n-grams up to `ngram_max`) of
    /// `text` to `out`. `scratch` keeps its buffers between calls.
    ///
    /// Each distinct word contributes each of its distinct character
    /// n-grams once: a gram's count is the number of distinct words holding
    /// it. That keeps a document's score a sum over its distinct words,
    /// which is what lets a model precompute every known word's character
    /// n-gram score.
    pub fn term_ids(&self, text: &str, scratch: &mut TokenScratch, out: &mut Vec<u64>) {
        self.split_terms(text, scratch);
        for i in 0..scratch.first.len() {
            if scratch.first[i] {
                self.char_ngrams_of(scratch, i, out);
            }
        }
        out.extend_from_slice(&scratch.words);
        out.extend_from_slice(&scratch.ngrams);
    }

    /// Every text's term ids ([`Tokenizer::term_ids`]), on all cores.
    pub fn tokenize_all(&self, texts: &[&str]) -> Vec<Vec<u64>> {
        texts
            .par_iter()
            .map_init(TokenScratch::default, |scratch, t| {
                let mut out = Vec::new();
                self.term_ids(t, scratch, &mut out);
                out
            })
            .collect()
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
        self.for_each_ngram(&ids, |start, n, id| {
            if wanted(id) {
                f(id, &|| words[start..start + n].join(" "));
            }
        });
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

/// Whether word `id` is not among `before` (the words of the text so far).
/// A 64-bit filter answers most such questions at once; a scan (short
/// texts) or a set (long ones) the rest. `seen` and `filter` start empty for
/// each text.
#[inline]
fn first_occurrence(id: u64, before: &[u64], seen: &mut IdSet, filter: &mut u64) -> bool {
    let bit = 1u64 << (id >> 58);
    let maybe_seen = *filter & bit != 0;
    *filter |= bit;
    if before.len() < 32 {
        return !maybe_seen || !before.contains(&id);
    }
    if seen.is_empty() {
        seen.extend(before.iter().copied());
    }
    seen.insert(id)
}

#[cfg(test)]
mod tests {
    use super::*;

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
