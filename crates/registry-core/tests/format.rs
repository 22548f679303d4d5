//! Pins the on-disk layout described in docs/FORMAT.md. A change to these
//! snapshots is a change to the format: bump `format_version` and update
//! the document.

#![allow(clippy::field_reassign_with_default)]

use registry_core::{Actor, AliasName, CodeInfo, DataFingerprint, Expect, ModelInfo, ModelVersion, Registry};

fn tree(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap()).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let rel = path.strip_prefix(root).unwrap().display().to_string();
        let ft = e.file_type().unwrap();
        if ft.is_symlink() {
            out.push(format!("{rel} -> {}", std::fs::read_link(&path).unwrap().display()));
        } else if ft.is_dir() {
            out.push(format!("{rel}/"));
            tree(root, &path, out);
        } else {
            out.push(rel);
        }
    }
}

#[test]
fn on_disk_layout_matches_format_md() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("registry");
    let reg = Registry::open(&root).unwrap().with_actor(Actor {
        user: "alice".into(),
        host: "trainbox".into(),
    });
    let mut info = ModelInfo::default();
    info.model_type = Some("example.Thresholds/1".into());
    info.hyperparameters.insert("alpha".into(), serde_json::json!(0.5));
    info.hyperparameters.insert("ngram_max".into(), serde_json::json!(2));
    info.cv_score = Some(0.791);
    info.cv_std = Some(0.012);
    info.test_score = Some(0.802);
    info.metrics.insert("accuracy".into(), serde_json::json!(0.802));
    info.lineage.data = Some(DataFingerprint {
        name: "rotten_tomatoes_snippets.tsv".into(),
        sha256: "7dc937f571c94236e247ceced16e6ca0db8638a2c974f05cf46e8472e6e6cff1".into(),
        rows: 12752,
        path: None,
        size: None,
    });
    info.lineage.code = Some(CodeInfo {
        name: "trainer".into(),
        version: "0.1.0".into(),
        git_commit: Some("0123456789abcdef".into()),
    });
    info.lineage.seed = Some(42);
    info.lineage.folds = Some(5);
    info.lineage.duration_seconds = Some(1.5);
    info.description = Some("first model".into());
    info.tags.insert("team".into(), "nlp".into());
    let v1: ModelVersion = "1.0.0".parse().unwrap();
    reg.save_model(&v1, &vec![1.0f32, 2.0], info.clone()).unwrap();
    reg.save_model(&"1.0.1".parse().unwrap(), &vec![3.0f32], info).unwrap();
    reg.set_alias(&"production".parse::<AliasName>().unwrap(), &v1, Expect::Nothing)
        .unwrap();

    let mut listing = Vec::new();
    tree(&root, &root, &mut listing);
    listing.retain(|l| !l.contains("/.") && !l.starts_with('.'));
    insta::assert_snapshot!("layout", listing.join("\n"));

    let metadata: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("versions/1.0.0/metadata.json")).unwrap()).unwrap();
    insta::assert_json_snapshot!("metadata_json", metadata, {
        ".timestamp" => "[timestamp]",
        ".metadata_sha256" => "[sha256]",
    });
    let pointer: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("aliases/production.json")).unwrap()).unwrap();
    insta::assert_json_snapshot!("alias_pointer", pointer, {
        ".moved_at" => "[timestamp]",
        ".metadata_sha256" => "[sha256]",
        ".moved_by.user" => "[user]",
        ".moved_by.host" => "[host]",
    });
}

/// A field this build does not know (a newer release's, another tool's)
/// survives parsing and writing again, and the metadata digest still holds:
/// `registry copy` and `show --json` lose nothing.
#[test]
fn unknown_metadata_fields_survive() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("registry");
    let reg = registry_core::Registry::open(&root).unwrap();
    let v1: registry_core::ModelVersion = "1.0.0".parse().unwrap();
    reg.save_model(&v1, &vec![1u8; 4], registry_core::ModelInfo::default())
        .unwrap();
    // Another tool adds fields and re-seals the document the documented way.
    let path = root.join("versions/1.0.0/metadata.json");
    let mut doc: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    doc.insert("signature_hint".into(), serde_json::json!({"by": "tool-x", "n": 3}));
    doc.insert("future".into(), serde_json::json!([1, 2]));
    doc.remove("metadata_sha256");
    let canonical = serde_json::to_vec(&serde_json::Value::Object(doc.clone())).unwrap();
    doc.insert(
        "metadata_sha256".into(),
        serde_json::json!(registry_core::sha256_hex(&canonical)),
    );
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();

    let md = reg.metadata(&v1).unwrap();
    assert_eq!(md.extra["future"], serde_json::json!([1, 2]));
    assert!(
        !md.extra.contains_key("model_type"),
        "known fields stay out of extra: {:?}",
        md.extra
    );
    let again: serde_json::Value = serde_json::to_value(&md).unwrap();
    assert_eq!(again["signature_hint"]["by"], "tool-x");
    // Copied byte for byte: the copy verifies and keeps the fields.
    let other = registry_core::Registry::open(dir.path().join("copy")).unwrap();
    let report = registry_core::copy::copy(&reg, &other, false).unwrap();
    assert_eq!(report.copied, vec![v1.clone()]);
    assert_eq!(
        std::fs::read(dir.path().join("copy/versions/1.0.0/metadata.json")).unwrap(),
        std::fs::read(&path).unwrap()
    );
    assert!(other.verify().unwrap().is_ok());
    assert_eq!(other.metadata(&v1).unwrap().extra["future"], serde_json::json!([1, 2]));
}

/// One damaged version does not stop a copy: it is reported, the others
/// are copied.
#[test]
fn a_damaged_source_version_is_skipped_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("registry");
    let reg = registry_core::Registry::open(&root).unwrap();
    for i in 0..3 {
        reg.save_model(
            &registry_core::ModelVersion::new(1, 0, i),
            &vec![i as u8; 4],
            registry_core::ModelInfo::default(),
        )
        .unwrap();
    }
    let model = root.join("versions/1.0.1/model.bin");
    let mut bytes = std::fs::read(&model).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&model, bytes).unwrap();
    let other = registry_core::Registry::open(dir.path().join("copy")).unwrap();
    let report = registry_core::copy::copy(&reg, &other, false).unwrap();
    assert_eq!(report.copied.len(), 2);
    assert_eq!(report.damaged.len(), 1);
    assert!(report.damaged[0].1.contains("blake3"), "{:?}", report.damaged);
    assert_eq!(other.list_versions().unwrap().len(), 2);
}

/// The canonical form behind `metadata_sha256`, pinned by test vectors
/// (also in docs/FORMAT.md), so another implementation can check itself:
/// RFC 8785 for new versions, the legacy form for versions sealed before.
#[test]
fn canonical_form_test_vectors() {
    let doc = r#"{
        "format_version": 1, "version": "1.0.0", "canonicalization": "rfc8785",
        "test_score": 0.7903, "big": 1e16, "small": 1e-7, "count": 12752,
        "text": "caf\u00e9 \"q\" \u0001 \u20ac", "nested": {"b": [true, null], "a": -0.0},
        "metadata_sha256": "ignored"
    }"#;
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(doc).unwrap();
    let canonical = registry_core::canonical_bytes(map.clone(), "vector").unwrap();
    let expected = concat!(
        r#"{"big":10000000000000000,"canonicalization":"rfc8785","count":12752,"#,
        r#""format_version":1,"nested":{"a":0,"b":[true,null]},"small":1e-7,"#,
        r#""test_score":0.7903,"text":"café \"q\" \u0001 €","version":"1.0.0"}"#
    );
    assert_eq!(String::from_utf8(canonical.clone()).unwrap(), expected);
    assert_eq!(
        registry_core::sha256_hex(&canonical),
        registry_core::sha256_hex(expected.as_bytes())
    );
    insta::assert_snapshot!("canonical_rfc8785_sha256", registry_core::sha256_hex(&canonical));

    // The same document without `canonicalization`: the legacy form.
    let mut legacy = map;
    legacy.remove("canonicalization");
    let bytes = registry_core::canonical_bytes(legacy, "vector").unwrap();
    let text = String::from_utf8(bytes).unwrap();
    // serde_json's own number formatting: what RFC 8785 replaced.
    assert!(
        text.contains(r#""big":1e+16"#) && text.contains(r#""a":-0.0"#),
        "{text}"
    );
}
