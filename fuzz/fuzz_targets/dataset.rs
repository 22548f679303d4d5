//! Dataset files: any bytes, as TSV and as CSV, give a dataset or an error
//! naming a line, never a panic; a dataset has as many labels as texts.
#![no_main]
use libfuzzer_sys::fuzz_target;
use textclf::Dataset;

fuzz_target!(|data: &[u8]| {
    for delimiter in [b'\t', b','] {
        if let Ok(d) = Dataset::parse(data, "fuzz.tsv", delimiter) {
            assert_eq!(d.texts.len(), d.labels.len());
            assert!(!d.texts.is_empty());
        }
    }
});
