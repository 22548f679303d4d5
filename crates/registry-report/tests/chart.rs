//! The score chart tells data apart: versions evaluated on different data
//! get their own labelled bands, and the score lines break between them.

mod common;

use registry_core::ModelVersion;
use registry_report::{ReportData, render_html};

#[test]
fn versions_on_different_data_get_their_own_bands_and_lines() {
    let registry = common::registry(0);
    for i in 0..4u64 {
        let mut info = common::info(i);
        if let Some(d) = info.lineage.data.as_mut() {
            d.name = if i < 2 { "films.tsv" } else { "products.tsv" }.into();
            d.sha256 = if i < 2 { "aa" } else { "bb" }.repeat(32);
        }
        registry
            .save_model(&ModelVersion::new(1, 0, i), &vec![i as u32; 4], info)
            .unwrap();
    }
    let page = render_html(&ReportData::collect(&registry).unwrap());
    assert_eq!(
        page.matches("class=\"data-band\"").count(),
        2,
        "one band per run of data"
    );
    assert!(page.contains("data: films.tsv@aaaaaaaa") && page.contains("data: products.tsv@bbbbbbbb"));
    assert_eq!(
        page.matches("<polyline class=\"line-test\"").count(),
        2,
        "the test line breaks"
    );

    // One dataset: no bands, one line per score.
    let same = common::registry(3);
    let page = render_html(&ReportData::collect(&same).unwrap());
    assert_eq!(page.matches("class=\"data-band\"").count(), 0);
    assert_eq!(page.matches("<polyline class=\"line-test\"").count(), 1);
}
