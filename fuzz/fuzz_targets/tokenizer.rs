//! The tokenizer on any text: no panic, well-formed words, and the same
//! terms on the prediction path as on the naming path.
#![no_main]
use libfuzzer_sys::fuzz_target;
use textclf::{TokenScratch, Tokenizer};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for char_ngrams in [None, Some((2, 5))] {
        let t = Tokenizer {
            lowercase: true,
            ngram_max: 3,
            char_ngrams,
        };
        for w in t.words(&text) {
            assert!(!w.is_empty() && !w.starts_with('\'') && !w.ends_with('\''));
        }
        let mut ids = Vec::new();
        t.term_ids(&text, &mut TokenScratch::default(), &mut ids);
        let mut named = std::collections::BTreeSet::new();
        t.terms_with_text(&text, |id, _| {
            named.insert(id);
        });
        let ids: std::collections::BTreeSet<u64> = ids.into_iter().collect();
        assert_eq!(ids, named);
    }
});
