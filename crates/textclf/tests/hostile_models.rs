//! Model bytes from a registry are untrusted: whatever they are, decoding
//! either fails with an error or yields a model that predicts without
//! panicking, looping or producing a non-probability. Real models are
//! mutated the ways a careless tool or an attacker would (flips,
//! truncations, splices, duplicated runs, edited length prefixes).

use proptest::prelude::*;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use textclf::{ClassifierConfig, TextClassifier, Tokenizer, VectorizerConfig};

/// Two real models: additive with character n-grams, and TF-IDF words.
fn models() -> &'static [Vec<u8>; 2] {
    static MODELS: OnceLock<[Vec<u8>; 2]> = OnceLock::new();
    MODELS.get_or_init(|| {
        let data = textclf::Dataset::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/tiny.tsv"
        )))
        .unwrap();
        let texts: Vec<&str> = data.texts.iter().map(String::as_str).collect();
        let fit = |config, classifier| {
            TextClassifier::fit(&texts, &data.labels, config, classifier)
                .unwrap()
                .to_bytes()
                .unwrap()
        };
        let additive = VectorizerConfig {
            tokenizer: Tokenizer {
                char_ngrams: Some((2, 4)),
                ..Tokenizer::default()
            },
            tf: textclf::TfMode::Raw,
            idf: false,
            l2_norm: false,
            ..VectorizerConfig::default()
        };
        [
            fit(additive, ClassifierConfig::NbLogisticRegression { alpha: 1.0, c: 1.0 }),
            fit(
                VectorizerConfig::default(),
                ClassifierConfig::LogisticRegression { c: 3.0 },
            ),
        ]
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, mask: u8 },
    Truncate { len: usize },
    Splice { from: usize, to: usize, len: usize },
    Duplicate { at: usize, len: usize },
    SetByte { at: usize, value: u8 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = 0usize..1_000_000;
    prop_oneof![
        (at.clone(), 1u8..=255).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        at.clone().prop_map(|len| Mutation::Truncate { len }),
        (at.clone(), at.clone(), 1usize..64).prop_map(|(from, to, len)| Mutation::Splice { from, to, len }),
        (at.clone(), 1usize..64).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
        // Length prefixes are varints: 0x00, 0x7f and 0xff make them zero,
        // small, or the start of a huge number.
        (at, prop_oneof![Just(0u8), Just(0x7f), Just(0xff), any::<u8>()])
            .prop_map(|(at, value)| Mutation::SetByte { at, value }),
    ]
}

fn apply(bytes: &[u8], m: &Mutation) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let n = out.len();
    match *m {
        Mutation::Flip { at, mask } => out[at % n] ^= mask,
        Mutation::Truncate { len } => out.truncate(len % n),
        Mutation::Splice { from, to, len } => {
            let (from, to) = (from % n, to % n);
            let len = len.min(n - from).min(n - to);
            let piece = out[from..from + len].to_vec();
            out[to..to + len].copy_from_slice(&piece);
        }
        Mutation::Duplicate { at, len } => {
            let at = at % n;
            let len = len.min(n - at);
            let piece = out[at..at + len].to_vec();
            out.splice(at..at, piece);
        }
        Mutation::SetByte { at, value } => out[at % n] = value,
    }
    out
}

const TEXTS: [&str; 6] = [
    "a great film",
    "dull, dull, dull",
    "",
    "unseenword ÜNICODE ünïcödé ☃",
    "x y z x y z x y z x y z x y z x y z x y z x y z x y z x y z x y z x y z",
    "don't stop",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn mutated_model_bytes_fail_cleanly_or_predict_sanely(which in 0usize..2, m in mutation()) {
        let bytes = apply(&models()[which], &m);
        let started = Instant::now();
        if let Ok(model) = TextClassifier::from_bytes(&bytes) {
            let mut scratch = textclf::Scratch::default();
            // 100 rounds: past the 64 predictions after which the derived
            // tables take over.
            for _ in 0..100 {
                for text in TEXTS {
                    let p = model.predict_proba_with(text, &mut scratch).to_vec();
                    prop_assert_eq!(p.len(), model.labels().len());
                    let sum: f64 = p.iter().sum();
                    prop_assert!(p.iter().all(|x| x.is_finite()) && (sum - 1.0).abs() < 1e-6, "{:?}", p);
                }
            }
        }
        prop_assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    }
}
