//! Model bytes from a registry, whatever they are: decoding fails with an
//! error, or the model predicts finite probabilities that sum to one, on
//! every scoring path (past the 64 predictions after which the derived
//! tables take over). Seed the corpus with real models (RELIABILITY.md).
#![no_main]
use libfuzzer_sys::fuzz_target;
use textclf::{Scratch, TextClassifier};

const TEXTS: [&str; 4] = ["a great film", "dull, dull and dull", "", "unseen ünïcödé words ☃"];

fuzz_target!(|data: &[u8]| {
    let Ok(model) = TextClassifier::from_bytes(data) else {
        return;
    };
    let mut scratch = Scratch::default();
    for _ in 0..20 {
        for text in TEXTS {
            let p = model.predict_proba_with(text, &mut scratch);
            assert_eq!(p.len(), model.labels().len());
            assert!(p.iter().all(|x| x.is_finite()));
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-6);
        }
    }
});
