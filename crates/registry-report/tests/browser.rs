//! The report in a real browser: headless Chromium driven over WebDriver
//! (chromedriver), asserting from the DOM.
//!
//! Needs Debian's `chromium` and `chromium-driver` (CI installs them and sets
//! MODELREG_REQUIRE_BROWSER=1, which turns a missing browser into a failure;
//! elsewhere the tests say they were skipped). Screenshots go to
//! `target/report-screenshots/` for a person to look at.

mod common;

use test_support::browser::Browser;

use std::path::{Path, PathBuf};

use registry_report::{ReportData, render_html, render_html_models};
use serde_json::json;

/// Versions of the table's rows, top to bottom; `visible`: only shown ones.
fn row_versions(browser: &Browser, visible: bool) -> Vec<String> {
    let filter = if visible { ".filter(r => !r.hidden)" } else { "" };
    let script = format!(
        "return Array.from(document.querySelectorAll('#versions tbody tr')){filter}.map(r => r.dataset.version);"
    );
    serde_json::from_value(browser.eval(&script)).unwrap()
}

fn write_report(count: u64, dir: &Path) -> (PathBuf, ReportData) {
    let registry = common::registry(count);
    let data = ReportData::collect(&registry).unwrap();
    let path = dir.join("report.html");
    std::fs::write(&path, render_html(&data)).unwrap();
    (path, data)
}

#[test]
fn the_report_renders_sorts_and_loads_nothing() {
    let Some(browser) = Browser::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (path, data) = write_report(12, dir.path());
    browser.open(&path);

    let newest_first: Vec<String> = data.versions.iter().rev().map(|m| m.version.to_string()).collect();
    assert_eq!(
        row_versions(&browser, false),
        newest_first,
        "one row per version, newest first"
    );
    assert_eq!(row_versions(&browser, true).len(), 12, "12 rows fit on one page");
    let points = |class: &str| {
        browser.eval(&format!(
            "return document.querySelectorAll('#chart .{class}[data-version]').length;"
        ))
    };
    assert_eq!(points("pt-test"), json!(12), "one test point per version");
    assert_eq!(points("pt-cv"), json!(12), "one CV point per version");
    let markers = browser.eval(
        "return Array.from(document.querySelectorAll('#chart .alias-marker')).map(g => g.dataset.alias + '=' + g.dataset.version).sort();",
    );
    assert_eq!(markers, json!(["latest=1.0.11", "production=1.0.10", "staging=1.0.0"]));
    // The chart is drawn: points have real positions on the page.
    let width = browser.eval("return document.querySelector('#chart .pt-test').getBoundingClientRect().width;");
    assert!(width.as_f64().unwrap() > 0.0);

    // Sorting by test score: ascending on the first click, descending on the second.
    let mut by_score: Vec<(f64, u64)> = (0..12).map(|i| (common::test_score(i), i)).collect();
    by_score.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let ascending: Vec<String> = by_score.iter().map(|(_, i)| format!("1.0.{i}")).collect();
    browser.click("#versions th:nth-child(3)");
    assert_eq!(row_versions(&browser, false), ascending);
    assert_eq!(
        browser.eval("return document.querySelector('#versions th:nth-child(3)').getAttribute('aria-sort');"),
        json!("ascending")
    );
    browser.click("#versions th:nth-child(3)");
    let mut descending = ascending.clone();
    descending.reverse();
    // Equal scores keep version order in both directions, so compare scores.
    let scores_of = |versions: &[String]| -> Vec<f64> {
        versions
            .iter()
            .map(|v| common::test_score(v.rsplit('.').next().unwrap().parse().unwrap()))
            .collect()
    };
    assert_eq!(scores_of(&row_versions(&browser, false)), scores_of(&descending));
    browser.click("#versions th:nth-child(1)");
    let oldest_first: Vec<String> = newest_first.iter().rev().cloned().collect();
    assert_eq!(row_versions(&browser, false), oldest_first);

    // Alias timelines and a model card with its confusion grid.
    let moves = browser.eval("return document.querySelectorAll('.timeline[data-alias=production] li').length;");
    assert_eq!(moves, json!(4));
    browser.click("a[href='#card-1.0.10']");
    let card = browser.eval(
        "const c = document.getElementById('card-1.0.10'); return [c.open, c.querySelectorAll('.confusion .cell').length];",
    );
    assert_eq!(card, json!([true, 4]));

    // Nothing was fetched: no resource entries, and only the page itself was navigated to.
    let fetched = browser.eval("return performance.getEntriesByType('resource').map(e => e.name);");
    assert_eq!(fetched, json!([]), "the page requested {fetched}");
    let navigations = browser.eval("return performance.getEntriesByType('navigation').map(e => e.name);");
    assert_eq!(navigations.as_array().unwrap().len(), 1);
    let screenshot = browser.screenshot("report-12-versions.png");
    assert!(std::fs::metadata(screenshot).unwrap().len() > 10_000);
}

#[test]
fn a_thousand_versions_stay_paginated_and_quick() {
    let Some(browser) = Browser::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_report(1000, dir.path());
    let bytes = std::fs::metadata(&path).unwrap().len();
    browser.open(&path);
    assert_eq!(row_versions(&browser, false).len(), 1000, "every version has a row");
    let visible = row_versions(&browser, true);
    assert_eq!(visible.len(), 50, "the table shows one page");
    assert_eq!(visible[0], "1.0.999");
    assert_eq!(
        browser.eval("return document.getElementById('page-info').textContent;"),
        json!("page 1 of 20 (1000 versions)")
    );
    browser.click("#next");
    assert_eq!(row_versions(&browser, true)[0], "1.0.949");
    assert_eq!(
        browser.eval("return document.querySelectorAll('#chart .pt-test[data-version]').length;"),
        json!(1000)
    );
    // Reported, not asserted (benchmarks are not tests): see docs/PERFORMANCE.md.
    let timing = browser.eval(
        "const n = performance.getEntriesByType('navigation')[0]; return [n.domContentLoadedEventEnd, n.loadEventEnd];",
    );
    println!(
        "1,000 versions: {bytes} bytes of HTML; DOMContentLoaded at {} ms, load at {} ms",
        timing[0], timing[1]
    );
    browser.screenshot("report-1000-versions.png");
}

/// A page of two models: each model's table pages and sorts on its own,
/// and a link opens the card of the right model's version.
#[test]
fn each_model_of_a_page_of_several_works_on_its_own() {
    let Some(browser) = Browser::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let base = registry_core::Registry::with_store(registry_core::store::MemoryStore::new());
    for (model, count) in [("spam", 60u64), ("ham", 3)] {
        let registry = base.with_model(Some(model.parse().unwrap()));
        for i in 0..count {
            registry
                .save_model(&common::v(&format!("1.0.{i}")), &vec![i as u32; 4], common::info(i))
                .unwrap();
        }
    }
    let models = ReportData::collect_models(&base).unwrap();
    assert_eq!(
        models.iter().map(|m| m.model.as_str()).collect::<Vec<_>>(),
        ["ham", "spam"]
    );
    let path = dir.path().join("report.html");
    std::fs::write(&path, render_html_models(&models)).unwrap();
    browser.open(&path);

    let rows = |model: &str, visible: bool| -> Vec<String> {
        let filter = if visible { ".filter(r => !r.hidden)" } else { "" };
        serde_json::from_value(browser.eval(&format!(
            "return Array.from(document.querySelectorAll('#{model}-versions tbody tr')){filter}.map(r => r.dataset.version);"
        )))
        .unwrap()
    };
    assert_eq!(rows("spam", false).len(), 60);
    assert_eq!(rows("spam", true).len(), 50, "spam's table shows one page");
    assert_eq!(rows("ham", true), ["1.0.2", "1.0.1", "1.0.0"]);
    assert_eq!(
        browser.eval("return document.getElementById('spam-page-info').textContent;"),
        json!("page 1 of 2 (60 versions)")
    );
    browser.click("#spam-next");
    assert_eq!(rows("spam", true).len(), 10, "spam's second page");
    assert_eq!(rows("ham", true).len(), 3, "ham's table did not page");
    browser.click("#ham-versions th:nth-child(1)");
    assert_eq!(
        rows("ham", false),
        ["1.0.0", "1.0.1", "1.0.2"],
        "ham sorted oldest first"
    );
    assert_eq!(rows("spam", false)[0], "1.0.59", "spam's order is its own");
    assert_eq!(
        browser.eval("return document.querySelectorAll('.chart .pt-test[data-version]').length;"),
        json!(63),
        "one chart per model"
    );
    browser.click("a[href='#ham-model']");
    browser.click("#ham-versions a[href='#ham-card-1.0.1']");
    let open = browser.eval(
        "return [document.getElementById('ham-card-1.0.1').open, document.getElementById('spam-card-1.0.1').open];",
    );
    assert_eq!(open, json!([true, false]));
    browser.screenshot("report-two-models.png");
}
