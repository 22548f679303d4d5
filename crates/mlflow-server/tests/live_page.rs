//! `GET /` in headless Chromium: the registry's report for every model,
//! regenerated on each request, linking each model and version.

use registry_core::{ModelInfo, NewFile};
use test_support::browser::Browser;

fn save(registry: &registry_open::AnyRegistry, model: &str, version: &str) {
    let handle = registry.with_model(Some(model.parse().unwrap()));
    let file = NewFile {
        path: "model.bin".into(),
        bytes: format!("{model} {version}").into_bytes(),
    };
    handle
        .save_files(&version.parse().unwrap(), &[file], ModelInfo::default())
        .unwrap();
}

/// The server on a free port, in a runtime of its own thread.
fn start(registry: registry_open::AnyRegistry) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            mlflow_server::run(
                registry,
                mlflow_server::Options::default(),
                listener,
                std::future::pending(),
            )
            .await
            .unwrap();
        });
    });
    format!("http://{addr}")
}

#[test]
fn the_live_page_shows_every_model_and_follows_new_versions() {
    let Some(browser) = Browser::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let registry = registry_open::open(dir.path().to_str().unwrap(), &Default::default()).unwrap();
    save(&registry, "spam", "1.0.0");
    save(&registry, "spam", "2.0.0");
    save(&registry, "ham", "1.0.0");
    let url = start(registry.with_model(None));
    browser.goto(&format!("{url}/"));
    let models = browser.eval(
        "return Array.from(document.querySelectorAll('tr[data-model] a')).map(a => [a.textContent, a.getAttribute('href')]);",
    );
    assert_eq!(
        models,
        serde_json::json!([["ham", "#ham-model"], ["spam", "#spam-model"]]),
        "an index row linking each model"
    );
    let rows = |model: &str| {
        browser.eval(&format!(
            "return Array.from(document.querySelectorAll('#{model}-versions tbody tr a')).map(a => [a.textContent, a.getAttribute('href')]);"
        ))
    };
    assert_eq!(
        rows("spam"),
        serde_json::json!([["2.0.0", "#spam-card-2.0.0"], ["1.0.0", "#spam-card-1.0.0"]])
    );
    // Each version's link leads to its card.
    browser.click("#spam-versions a[href='#spam-card-1.0.0']");
    let card = browser.eval("return document.getElementById('spam-card-1.0.0') !== null;");
    assert_eq!(card, serde_json::json!(true));
    browser.screenshot("live-page.png");
    let text = browser.eval("return document.body.innerText;");
    let root = dir.path().to_str().unwrap();
    assert!(
        !text.as_str().unwrap().contains(root),
        "the page shows the server's path {root}"
    );
    assert!(text.as_str().unwrap().contains("models:/spam"));
    // A version saved meanwhile is on the next load: the page is made per request.
    save(&registry, "ham", "1.1.0");
    browser.goto(&format!("{url}/"));
    assert_eq!(
        rows("ham"),
        serde_json::json!([["1.1.0", "#ham-card-1.1.0"], ["1.0.0", "#ham-card-1.0.0"]])
    );
}
