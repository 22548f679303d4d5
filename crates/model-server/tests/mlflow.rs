//! MLflow's scoring protocol against a running server: every input format
//! MLflow's scoring server takes, text/csv, probabilities on request, its
//! health routes and its error object.

mod common;

use common::{Server, get, post, two_versions};
use model_server::Options;
use serde_json::json;

fn post_as(agent: &ureq::Agent, url: &str, content_type: &str, body: &str) -> (u16, serde_json::Value) {
    let response = match agent.post(url).set("Content-Type", content_type).send_string(body) {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    (response.status(), response.into_json().unwrap())
}

#[test]
fn invocations_take_every_mlflow_format_and_answer_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let root = two_versions(dir.path());
    let server = Server::start(&root, Options::default());
    let agent = ureq::agent();
    let url = server.url("/invocations");

    let (_, v1) = post(
        &agent,
        &server.url("/v1/predict"),
        r#"{"texts": ["a fine, moving film", "ugly and cold"]}"#,
    );
    let expected: Vec<&str> = v1["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["label"].as_str().unwrap())
        .collect();
    for body in [
        json!({"inputs": ["a fine, moving film", "ugly and cold"]}),
        json!({"inputs": {"text": ["a fine, moving film", "ugly and cold"]}}),
        json!({"instances": ["a fine, moving film", "ugly and cold"]}),
        json!({"instances": [{"text": "a fine, moving film"}, {"text": "ugly and cold"}]}),
        json!({"dataframe_records": [{"text": "a fine, moving film"}, {"text": "ugly and cold"}]}),
        json!({"dataframe_split": {"columns": ["text"], "data": [["a fine, moving film"], ["ugly and cold"]]}}),
    ] {
        let (status, answer) = post(&agent, &url, &body.to_string());
        assert_eq!(status, 200, "{body}: {answer}");
        assert_eq!(answer, json!({"predictions": expected}), "{body}");
    }
    let (status, answer) = post_as(
        &agent,
        &url,
        "text/csv; charset=utf-8",
        "text\n\"a fine, moving film\"\nugly and cold\n",
    );
    assert_eq!((status, answer), (200, json!({"predictions": expected})));

    let (_, answer) = post(
        &agent,
        &url,
        &json!({"inputs": ["a fine, moving film"], "params": {"probabilities": true}}).to_string(),
    );
    let p = &answer["predictions"][0];
    assert_eq!(p["label"], expected[0]);
    let total: f64 = p["probabilities"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert!((total - 1.0).abs() < 1e-5, "{answer}");

    for (body, phrase) in [
        (r#"{"texts": ["a"]}"#, "exactly one of the fields"),
        (r#"{"inputs": ["a"], "instances": ["a"]}"#, "exactly one of the fields"),
        (r#"{"inputs": [3]}"#, "not a text"),
        (r#"{"inputs": []}"#, "no rows"),
        ("{", "not valid JSON"),
    ] {
        let (status, e) = post(&agent, &url, body);
        assert_eq!(status, 400, "{body}");
        assert_eq!(e["error_code"], "BAD_REQUEST");
        assert!(e["message"].as_str().unwrap().contains(phrase), "{phrase:?} not in {e}");
    }
    let too_many = json!({"inputs": vec!["x"; 1001]}).to_string();
    let (status, e) = post(&agent, &url, &too_many);
    assert_eq!(status, 400);
    assert!(e["message"].as_str().unwrap().contains("more than the 1000"), "{e}");
    let (status, _) = post_as(&agent, &url, "text/plain", "a");
    assert_eq!(status, 415);

    for path in ["/ping", "/health"] {
        let (status, _) = get(&agent, &server.url(path));
        assert_eq!(status, 200, "{path}");
    }
    let (status, version) = get(&agent, &server.url("/version"));
    assert_eq!((status, version), (200, json!(env!("CARGO_PKG_VERSION"))));
    server.stop().unwrap();
}
