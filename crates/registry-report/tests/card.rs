//! The model card (Markdown, pinned by insta) and the page's static
//! properties; tests/browser.rs checks the page in a real browser.

mod common;

use common::{alias, registry, v};
use registry_core::store::FsStore;
use registry_core::{ModelInfo, Registry};
use registry_report::{ModelCard, ReportData, render_html};

fn redacted() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", "[TIME]");
    settings.add_filter(r"\b[0-9a-f]{64}\b", "[SHA256]");
    settings
}

#[test]
fn markdown_card_is_pinned() {
    let registry = registry(4);
    let md = registry.metadata(&v("1.0.2")).unwrap();
    let card = ModelCard::new(&md, &registry.list_aliases().unwrap());
    assert_eq!(card.aliases, ["production"]);
    let text = card.to_markdown();
    redacted().bind(|| insta::assert_snapshot!("card_1_0_2", text));
}

#[test]
fn a_card_without_trainer_metrics_still_renders() {
    let registry = Registry::with_store(registry_core::store::MemoryStore::new());
    registry
        .save_model_json(&v("0.1.0"), &[1, 2], ModelInfo::default())
        .unwrap();
    let md = registry.metadata(&v("0.1.0")).unwrap();
    let card = ModelCard::new(&md, &registry.list_aliases().unwrap());
    assert!(card.confusion.is_none() && card.per_label.is_empty());
    let text = card.to_markdown();
    assert!(text.contains("Aliases: `latest`"), "{text}");
    assert!(text.contains("| test accuracy | - |"), "{text}");
    assert!(!text.contains("Confusion"), "{text}");
}

#[test]
fn the_page_is_self_contained_and_escapes_what_users_wrote() {
    let registry = registry(5);
    let mut info = common::info(9);
    info.description = Some("<script>alert('x')</script> | <img src=x>".into());
    registry.save_model(&v("2.0.0"), &[1u8], info).unwrap();
    let data = ReportData::collect(&registry).unwrap();
    let page = render_html(&data);
    assert!(page.contains("Content-Security-Policy\" content=\"default-src 'none'"));
    assert!(!page.contains("<script>alert"), "user text must be escaped");
    assert!(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    for needle in ["http://", "https://", "src=\"", "<link", "@import", "url("] {
        assert!(!page.contains(needle), "the page must load nothing, found {needle:?}");
    }
    assert_eq!(page.matches("<tr data-version=").count(), 6);
    assert_eq!(page.matches("class=\"pt pt-test\" data-version=").count(), 6);
    assert_eq!(page.matches("<details class=\"card\"").count(), 6);
    for a in ["latest", "production", "staging"] {
        assert!(
            page.contains(&format!("data-alias=\"{a}\"")),
            "no marker or timeline for {a}"
        );
    }
    assert_eq!(
        data.histories
            .iter()
            .find(|(a, _)| *a == alias("production"))
            .unwrap()
            .1
            .len(),
        4
    );
}

#[test]
fn a_damaged_version_is_listed_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::open(dir.path()).unwrap();
    for i in 0..3 {
        registry
            .save_model(&registry_core::ModelVersion::new(1, 0, i), &[i], common::info(i))
            .unwrap();
    }
    let path = dir.path().join("versions/1.0.1/metadata.json");
    let edited = std::fs::read_to_string(&path).unwrap().replace("nightly", "NIGHTLY");
    std::fs::write(&path, edited).unwrap();
    let data = ReportData::collect(&Registry::with_store(FsStore::new(dir.path()))).unwrap();
    assert_eq!(data.versions.len(), 2);
    assert_eq!(data.unreadable.len(), 1);
    assert_eq!(data.unreadable[0].0, v("1.0.1"));
    let page = render_html(&data);
    assert!(page.contains("Unreadable versions"));
    assert!(page.contains("1.0.1"));
}
