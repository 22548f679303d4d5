//! ONNX models served over the Open Inference Protocol: skl2onnx's default
//! exports (ending in ZipMap) answer what scikit-learn answered (the
//! fixtures' expected.json, made by fixtures/onnx/make.py) to 1e-4; their
//! metadata comes from the graph; bad requests are 4xx; hostile files are
//! refused at load without hurting the server.

mod common;

use common::{Server, get, post};
use model_server::Options;
use model_server::kinds::onnx::OnnxModel;
use model_server::models::ServeTarget;
use registry_core::{Expect, ModelInfo, NewFile, Registry, Target};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A JSON list's items as text: strings as they are, numbers as written.
fn texts(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().map_or_else(|| c.to_string(), str::to_string))
        .collect()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/onnx")
        .join(name)
}

fn expected(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(fixture(&format!("{name}.expected.json"))).unwrap()).unwrap()
}

/// Registers `bytes` as `model.onnx` of model `model`, version `version`,
/// as `registry add model.onnx --type onnx` does.
fn add(root: &Path, model: &str, version: &str, bytes: Vec<u8>) {
    let registry = Registry::open(root).unwrap().for_model(Some(model.parse().unwrap()));
    let info = ModelInfo {
        model_type: Some("onnx".into()),
        ..ModelInfo::default()
    };
    let files = [NewFile {
        path: "model.onnx".into(),
        bytes,
    }];
    registry.save_files(&version.parse().unwrap(), &files, info).unwrap();
}

fn promote(root: &Path, model: &str, version: &str) {
    Registry::open(root)
        .unwrap()
        .for_model(Some(model.parse().unwrap()))
        .set_alias(
            &"production".parse().unwrap(),
            &version.parse().unwrap(),
            Expect::Anything,
        )
        .unwrap();
}

fn serve(root: &Path, models: &[&str], poll_ms: u64) -> Server {
    let options = Options {
        serve: models
            .iter()
            .map(|m| ServeTarget {
                model: Some(m.parse().unwrap()),
                target: Target::Alias("production".parse().unwrap()),
            })
            .collect(),
        poll: Duration::from_millis(poll_ms),
        ..Options::default()
    };
    Server::start(root, options)
}

#[test]
fn zipmap_exports_answer_what_scikit_learn_answered() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("registry");
    // The binary ensembles and the BRANCH_GTE forest pin the patches in
    // vendor/ (tract labelled binary rows with the first class, refused the
    // boosted one's single base value, and read GTE nodes as leaves).
    let names = [
        "iris_logreg",
        "iris_forest",
        "iris_logreg_names",
        "binary_forest",
        "binary_gbdt",
        "iris_forest_gte",
    ];
    for name in names {
        let model = name.replace('_', "-");
        add(
            &root,
            &model,
            "1.0.0",
            std::fs::read(fixture(&format!("{name}.onnx"))).unwrap(),
        );
        promote(&root, &model, "1.0.0");
    }
    let models: Vec<String> = names.iter().map(|n| n.replace('_', "-")).collect();
    let server = serve(&root, &models.iter().map(String::as_str).collect::<Vec<_>>(), 1000);
    let agent = ureq::agent();
    for (name, model) in names.iter().zip(&models) {
        let want = expected(name);
        let classes = texts(&want["classes"]);
        let (status, meta) = get(&agent, &server.url(&format!("/v2/models/{model}")));
        assert_eq!(status, 200, "{meta}");
        assert_eq!(meta["platform"], "onnx");
        assert_eq!(
            meta["inputs"],
            json!([{"name": "X", "datatype": "FP32", "shape": [-1, 4]}]),
            "{meta}"
        );
        let label_type = if name.ends_with("names") { "BYTES" } else { "INT64" };
        assert_eq!(
            meta["outputs"][0],
            json!({"name": "output_label", "datatype": label_type, "shape": [-1]}),
            "{meta}"
        );
        assert_eq!(meta["outputs"][1]["name"], "output_probability");
        assert_eq!(meta["outputs"][1]["datatype"], "FP32");
        assert_eq!(meta["outputs"][1]["parameters"]["labels"], json!(classes), "{meta}");

        let rows = want["inputs"].as_array().unwrap();
        let flat: Vec<f64> = rows
            .iter()
            .flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
            .collect();
        let request = json!({"inputs": [{"name": "X", "shape": [rows.len(), 4], "datatype": "FP32", "data": flat}]});
        let (status, answer) = post(
            &agent,
            &server.url(&format!("/v2/models/{model}/infer")),
            &request.to_string(),
        );
        assert_eq!(status, 200, "{answer}");
        let labels = &answer["outputs"][0];
        let probabilities = &answer["outputs"][1];
        assert_eq!(probabilities["shape"], json!([rows.len(), classes.len()]));
        let got_labels = texts(&labels["data"]);
        let want_labels = texts(&want["labels"]);
        assert_eq!(
            got_labels, want_labels,
            "{name}: labels differ from scikit-learn's predict"
        );
        let got: Vec<f64> = serde_json::from_value(probabilities["data"].clone()).unwrap();
        let want_p: Vec<f64> = want["probabilities"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
            .collect();
        assert_eq!(got.len(), want_p.len());
        let worst = got.iter().zip(&want_p).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(worst <= 1e-4, "{name}: predict_proba differs by {worst}");
    }
    // Requests the graph does not take.
    let url = server.url("/v2/models/iris-logreg/infer");
    for (body, phrase) in [
        (
            json!({"inputs": [{"name": "X", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}),
            "this model takes [-1, 4]",
        ),
        (
            json!({"inputs": [{"name": "X", "shape": [1, 4], "datatype": "INT64", "data": [1, 2, 3, 4]}]}),
            "this model takes FP32",
        ),
        (
            json!({"inputs": [{"name": "features", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}),
            "no input \"X\"",
        ),
        (
            json!({"inputs": [{"name": "X", "shape": [4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}),
            "has shape [4]",
        ),
    ] {
        let (status, e) = post(&agent, &url, &body.to_string());
        assert_eq!(status, 400, "{body}: {e}");
        assert!(e["error"].as_str().unwrap().contains(phrase), "{phrase:?} not in {e}");
    }
    // /v1/predict is for text models.
    let one = Options {
        serve: vec![ServeTarget {
            model: Some("iris-logreg".parse().unwrap()),
            target: Target::Alias("production".parse().unwrap()),
        }],
        ..Options::default()
    };
    server.stop().unwrap();
    let server = Server::start(&root, one);
    let (status, e) = post(&agent, &server.url("/v1/predict"), r#"{"texts": ["a"]}"#);
    assert_eq!(status, 422, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("takes tensors (X FP32 [-1, 4])"),
        "{e}"
    );
    // MLflow's /invocations fills the [N, 4] input from a table.
    let want = expected("iris_logreg");
    let rows = &want["inputs"].as_array().unwrap()[..5];
    let labels = &want["labels"].as_array().unwrap()[..5];
    for body in [
        json!({"inputs": rows}),
        json!({"dataframe_split": {"columns": ["a", "b", "c", "d"], "data": rows}}),
        json!({"inputs": {"X": rows}, "params": {"probabilities": false}}),
    ] {
        let (status, answer) = post(&agent, &server.url("/invocations"), &body.to_string());
        assert_eq!(status, 200, "{body}: {answer}");
        assert_eq!(answer["predictions"].as_array().unwrap(), labels, "{body}");
    }
    let (_, answer) = post(
        &agent,
        &server.url("/invocations"),
        &json!({"inputs": rows, "params": {"probabilities": true}}).to_string(),
    );
    let p = answer["predictions"][0]["probabilities"].as_object().unwrap();
    let want_p = want["probabilities"][0].as_array().unwrap();
    for (label, want) in ["0", "1", "2"].iter().zip(want_p) {
        assert!(
            (p[*label].as_f64().unwrap() - want.as_f64().unwrap()).abs() <= 1e-4,
            "{answer}"
        );
    }
    let (status, e) = post(
        &agent,
        &server.url("/invocations"),
        &json!({"inputs": [[1, 2, "x", 4]]}).to_string(),
    );
    assert_eq!(status, 400);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("value 2 is a string, not a number"),
        "{e}"
    );
    server.stop().unwrap();
}

/// Real exports mutated the ways an attacker would (byte flips, truncation,
/// spliced runs, length prefixes set to extremes): each loads or is refused
/// with a message, within the deadline, and never panics.
#[test]
fn mutated_exports_load_or_are_refused_and_never_crash() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut refused, mut loaded) = (0, 0);
    for name in ["iris_logreg.onnx", "iris_forest.onnx"] {
        let good = std::fs::read(fixture(name)).unwrap();
        for round in 0..30 {
            let mut bytes = good.clone();
            let at = (next() as usize) % bytes.len();
            match round % 5 {
                0 => bytes[at] ^= 1 << (next() % 8),
                1 => bytes.truncate(at),
                2 => {
                    let run: Vec<u8> = bytes[at..(at + 16).min(bytes.len())].to_vec();
                    bytes.splice(at..at, run.iter().copied().cycle().take(64));
                }
                3 => bytes[at] = 0xff,
                _ => bytes[at] = 0x7f,
            }
            let started = Instant::now();
            match OnnxModel::load(&bytes) {
                Ok(_) => loaded += 1,
                Err(e) => {
                    assert!(!e.is_empty());
                    refused += 1;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(70),
                "{name} round {round} took too long"
            );
        }
    }
    assert!(refused > 0, "{loaded} loaded, none refused");
}

/// Tree tables that lie, found by fuzzing `onnx_model` (tract evaluates
/// trees without bounds checks): a child pointing back at its own node made
/// every request loop forever; a child outside its tree, a leaf voting for a
/// class the model does not have, and a graph output nothing produces (a
/// panic in tract's loader) are refused at load by name.
#[test]
fn tree_tables_that_lie_are_refused_at_load() {
    use prost::Message;
    use tract_onnx::pb;
    let good = pb::ModelProto::decode(std::fs::read(fixture("iris_forest.onnx")).unwrap().as_slice()).unwrap();
    let edit = |f: &dyn Fn(&mut pb::ModelProto)| {
        let mut model = good.clone();
        f(&mut model);
        model.encode_to_vec()
    };
    let ints = |model: &mut pb::ModelProto, attr: &str, value: i64| {
        let graph = model.graph.as_mut().unwrap();
        let node = graph
            .node
            .iter_mut()
            .find(|n| n.op_type == "TreeEnsembleClassifier")
            .unwrap();
        node.attribute.iter_mut().find(|a| a.name == attr).unwrap().ints[0] = value;
    };
    let cases: [(&str, Vec<u8>, &str); 4] = [
        (
            "a cycle",
            edit(&|m| ints(m, "nodes_truenodeids", 0)),
            "has a cycle through node 0",
        ),
        (
            "a child out of its tree",
            edit(&|m| ints(m, "nodes_truenodeids", 100_000)),
            "has a child outside the tree",
        ),
        (
            "a class past the labels",
            edit(&|m| ints(m, "class_ids", 99)),
            "votes for class 99",
        ),
        (
            "an output nothing produces",
            edit(&|m| m.graph.as_mut().unwrap().output[0].name = "nowhere".into()),
            "\"nowhere\" is not produced by any node",
        ),
    ];
    for (what, bytes, phrase) in cases {
        let started = Instant::now();
        let e = OnnxModel::load(&bytes).map(|_| ()).unwrap_err();
        assert!(e.contains(phrase), "{what}: {e}");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what} took {:?}",
            started.elapsed()
        );
    }
    assert!(OnnxModel::load(&good.encode_to_vec()).is_ok());
}

/// A graph crafted to need terabytes once its constants are folded (a
/// constant concatenated with itself 40 times over) is refused at load: the
/// probe child runs out of its address-space limit, the server does not.
#[test]
fn a_graph_that_would_exhaust_memory_is_refused_at_load() {
    use prost::Message;
    use tract_onnx::pb;
    let tensor = |name: &str| pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            denotation: String::new(),
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: 1,
                shape: None,
            })),
        }),
        ..Default::default()
    };
    let mut nodes = Vec::new();
    let mut last = "c0".to_string();
    for i in 1..=40 {
        let out = format!("c{i}");
        nodes.push(pb::NodeProto {
            op_type: "Concat".into(),
            name: format!("double{i}"),
            input: vec![last.clone(), last.clone()],
            output: vec![out.clone()],
            attribute: vec![pb::AttributeProto {
                name: "axis".into(),
                r#type: 2,
                i: 0,
                ..Default::default()
            }],
            ..Default::default()
        });
        last = out;
    }
    nodes.push(pb::NodeProto {
        op_type: "Add".into(),
        name: "use".into(),
        input: vec!["x".into(), last.clone()],
        output: vec!["y".into()],
        ..Default::default()
    });
    let graph = pb::GraphProto {
        name: "bomb".into(),
        node: nodes,
        initializer: vec![pb::TensorProto {
            name: "c0".into(),
            dims: vec![1024],
            data_type: 1,
            raw_data: vec![0; 4096],
            ..Default::default()
        }],
        input: vec![tensor("x")],
        output: vec![tensor("y")],
        ..Default::default()
    };
    let model = pb::ModelProto {
        ir_version: 8,
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: 15,
        }],
        graph: Some(graph),
        ..Default::default()
    };
    let started = Instant::now();
    let e = OnnxModel::load(&model.encode_to_vec()).unwrap_err();
    assert!(e.contains("more than the 1024 MiB one tensor may have"), "{e}");
    println!("refused in {:?}: {e}", started.elapsed());
}

/// The alias moved to a hostile ONNX version: the server keeps serving the
/// last good one, counts the failure, and says degraded.
#[test]
fn a_hostile_onnx_version_is_never_swapped_in() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("registry");
    add(
        &root,
        "iris",
        "1.0.0",
        std::fs::read(fixture("iris_logreg.onnx")).unwrap(),
    );
    promote(&root, "iris", "1.0.0");
    let mut bad = std::fs::read(fixture("iris_logreg.onnx")).unwrap();
    bad.truncate(bad.len() / 2);
    add(&root, "iris", "1.0.1", bad);
    let server = serve(&root, &["iris"], 20);
    let agent = ureq::agent();
    // Answered once 1.0.0 is loaded: only then does the alias move.
    assert_eq!(get(&agent, &server.url("/readyz")).1["status"], "ready");
    promote(&root, "iris", "1.0.1");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, ready) = get(&agent, &server.url("/readyz"));
        if ready["status"] == "degraded" {
            break;
        }
        assert!(Instant::now() < deadline, "never degraded: {ready}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let request = json!({"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]});
    let (status, answer) = post(&agent, &server.url("/v2/models/iris/infer"), &request.to_string());
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["model_version"], "1.0.0");
    server.stop().unwrap();
}
