//! A larger labelled corpus for measuring how training scales (issue #19):
//! `cargo run --release -p textclf --example corpus -- FACTOR OUT.tsv`
//! writes FACTOR × the bundled Rotten Tomatoes snippets. The first copy is
//! the snippets as they are; each further row joins the first half of one
//! snippet to the second half of another with the same label, chosen with
//! a seeded generator (splitmix64, seed 42), so the vocabulary and the
//! label balance stay those of real reviews and every run writes the same
//! bytes. Not for accuracy claims: recombined sentences are easier than
//! new reviews. Provenance and licence: fixtures/README.md.
//!
//! What it does not reproduce: a real corpus's vocabulary grows with its
//! rows, a recombined one's barely does (18,854 -> 20,835 word features from
//! 1x to 16x). It still shows where the full grid stops scaling: at 16x the
//! dual solver's passes stay flat (NB-LR on words + character n-grams:
//! 10-16 passes at every size) while each pass over its 330 MB matrix costs
//! more per non-zero (cache and TLB misses on randomly ordered rows);
//! `just bench-scale` measures it (docs/PERFORMANCE.md).
use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, factor, out] = args.as_slice() else {
        return Err("usage: corpus FACTOR OUT.tsv".into());
    };
    let factor: usize = factor.parse()?;
    let source = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/rotten_tomatoes_snippets.tsv"
    );
    let text = std::fs::read_to_string(source)?;
    let rows: Vec<(&str, &str)> = text.lines().skip(1).filter_map(|l| l.split_once('\t')).collect();
    let mut by_label: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (label, text) in &rows {
        by_label.entry(label).or_default().push(text);
    }
    let mut state = 42u64;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let half = |s: &str, first: bool| -> String {
        let words: Vec<&str> = s.split(' ').collect();
        let mid = words.len() / 2;
        if first {
            words[..mid].join(" ")
        } else {
            words[mid..].join(" ")
        }
    };
    let mut w = std::io::BufWriter::new(std::fs::File::create(out)?);
    writeln!(w, "label\ttext")?;
    for copy in 0..factor {
        for (label, text) in &rows {
            if copy == 0 {
                writeln!(w, "{label}\t{text}")?;
                continue;
            }
            let pool = &by_label[label];
            let other = pool[(next() % pool.len() as u64) as usize];
            let joined = format!("{} {}", half(text, true), half(other, false));
            writeln!(w, "{label}\t{}", joined.trim())?;
        }
    }
    w.flush()?;
    Ok(())
}
