//! Any request to `registry serve` (a method, a path with its query, a
//! body) against a registry in memory that already holds a run, a logged
//! model with a staged file, a registered model and a version: the
//! answer is never a 5xx and never a panic, whatever the bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

struct World {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let store: Box<dyn registry_core::store::Store> = Box::new(registry_core::store::MemoryStore::new());
        let registry = registry_core::Registry::with_store(store);
        let router = mlflow_server::router(registry, mlflow_server::Options::default());
        // Something to find: a run, a logged model with a file, a registered version.
        let call = |method: &str, path: &str, body: &str| {
            let request = axum::http::Request::builder()
                .method(method)
                .uri(path)
                .body(axum::body::Body::from(body.to_string()))
                .unwrap();
            let response = runtime.block_on(tower::ServiceExt::oneshot(router.clone(), request)).unwrap();
            let bytes = runtime.block_on(axum::body::to_bytes(response.into_body(), 1 << 20)).unwrap();
            serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or_default()
        };
        let run = call("POST", "/api/2.0/mlflow/runs/create", r#"{"experiment_id": "0"}"#);
        let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
        let model = call("POST", "/api/2.0/mlflow/logged-models", &format!(r#"{{"experiment_id": "0", "source_run_id": "{run_id}"}}"#));
        let model_id = model["model"]["info"]["model_id"].as_str().unwrap().to_string();
        call("PUT", &format!("/api/2.0/mlflow-artifacts/artifacts/0/models/{model_id}/artifacts/MLmodel"), "flavors:\n  sklearn: {}\n");
        call("POST", "/api/2.0/mlflow/registered-models/create", r#"{"name": "spam"}"#);
        call("POST", "/api/2.0/mlflow/model-versions/create", &format!(r#"{{"name": "spam", "source": "models:/{model_id}"}}"#));
        World { runtime, router }
    })
}

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

fuzz_target!(|data: &[u8]| {
    let Some((&m, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let (path, body) = text.split_once('\n').unwrap_or((&text, ""));
    let path = if path.starts_with('/') { path.to_string() } else { format!("/api/2.0/mlflow/{path}") };
    let Ok(request) = axum::http::Request::builder()
        .method(METHODS[usize::from(m) % METHODS.len()])
        .uri(path.as_str())
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
    else {
        return;
    };
    let w = world();
    let response = w.runtime.block_on(tower::ServiceExt::oneshot(w.router.clone(), request)).unwrap();
    assert!(response.status().as_u16() < 500, "{} {path}: {}", METHODS[usize::from(m) % METHODS.len()], response.status());
});
