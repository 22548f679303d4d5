//! Any model: files and directories registered as they are, fetched back
//! out checked, and many named models in one registry.

#![allow(clippy::field_reassign_with_default)]

mod common;

use common::v;
use registry_core::local_files::{collect, export};
use registry_core::{
    AliasName, Bump, Expect, ModelInfo, ModelName, NewFile, Registry, RegistryError, canonical_bytes, sha256_hex,
};
use std::fs;
use std::path::Path;

fn open(dir: &Path) -> Registry {
    Registry::open(dir.join("registry")).unwrap()
}

fn file(path: &str, bytes: &[u8]) -> NewFile {
    NewFile {
        path: path.into(),
        bytes: bytes.to_vec(),
    }
}

/// An MLflow-style model directory.
fn model_dir(root: &Path) -> std::path::PathBuf {
    let dir = root.join("mlflow-model");
    fs::create_dir_all(dir.join("artifacts/tokenizer")).unwrap();
    fs::write(dir.join("MLmodel"), "flavors:\n  sklearn: {}\n").unwrap();
    fs::write(dir.join("model.pkl"), b"\x80\x04pickled").unwrap();
    fs::write(dir.join("artifacts/tokenizer/vocab.json"), "{\"a\": 1}").unwrap();
    dir
}

#[test]
fn a_directory_is_registered_file_by_file_and_comes_back_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = open(tmp.path());
    let files = collect(&model_dir(tmp.path())).unwrap();
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["MLmodel", "artifacts/tokenizer/vocab.json", "model.pkl"]);

    let mut info = ModelInfo::default();
    info.model_type = Some("sklearn".into());
    let md = reg.save_files_next(Bump::Patch, &files, info).unwrap();
    assert_eq!(md.version, v("1.0.0"));
    assert_eq!(md.format_version, 2);
    assert!(md.artifact.is_none());
    assert_eq!(md.files.len(), 3);
    assert_eq!(md.files[2].sha256, sha256_hex(b"\x80\x04pickled"));
    assert_eq!(reg.resolve(&AliasName::latest()).unwrap().version, v("1.0.0"));
    assert!(reg.verify().unwrap().is_ok());

    let out = tmp.path().join("out");
    let exported = export(&reg, &reg.metadata(&v("1.0.0")).unwrap(), &out, false).unwrap();
    assert_eq!((exported.files, exported.path.clone()), (3, out.clone()));
    assert_eq!(fs::read(out.join("model.pkl")).unwrap(), b"\x80\x04pickled");
    assert_eq!(
        fs::read(out.join("artifacts/tokenizer/vocab.json")).unwrap(),
        b"{\"a\": 1}"
    );

    // An existing output is never replaced unasked; with force, it is.
    fs::write(out.join("model.pkl"), b"mine").unwrap();
    let err = export(&reg, &md, &out, false).unwrap_err();
    assert!(matches!(err, RegistryError::OutputExists { .. }), "{err}");
    assert_eq!(fs::read(out.join("model.pkl")).unwrap(), b"mine");
    export(&reg, &md, &out, true).unwrap();
    assert_eq!(fs::read(out.join("model.pkl")).unwrap(), b"\x80\x04pickled");
    let leftovers: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_single_file_goes_to_the_path_and_never_into_an_existing_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = open(tmp.path());
    let onnx = tmp.path().join("model.onnx");
    fs::write(&onnx, b"onnx-bytes").unwrap();
    let md = reg
        .save_files(&v("2.0.0"), &collect(&onnx).unwrap(), ModelInfo::default())
        .unwrap();
    assert_eq!(md.files[0].path, "model.onnx");
    let dest = tmp.path().join("fetched.onnx");
    export(&reg, &md, &dest, false).unwrap();
    assert_eq!(fs::read(&dest).unwrap(), b"onnx-bytes");
    // An existing directory is refused, with the path to give instead, and
    // nothing is placed inside it.
    let into = tmp.path().join("models");
    fs::create_dir(&into).unwrap();
    let err = export(&reg, &md, &into, false).unwrap_err();
    assert!(matches!(err, RegistryError::OutputRefused { .. }), "{err}");
    assert!(err.to_string().contains("models/model.onnx"), "{err}");
    assert_eq!(fs::read_dir(&into).unwrap().count(), 0);
}

#[test]
fn a_changed_file_is_refused_and_nothing_appears_at_the_output() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = open(tmp.path());
    let md = reg
        .save_files(
            &v("1.0.0"),
            &[file("a.bin", b"aaaa"), file("b.bin", b"bbbb")],
            ModelInfo::default(),
        )
        .unwrap();
    fs::write(reg.root().join("versions/1.0.0/b.bin"), b"bbbX").unwrap();
    let out = tmp.path().join("out");
    let err = export(&reg, &md, &out, false).unwrap_err();
    assert!(matches!(err, RegistryError::IntegrityMismatch { .. }), "{err}");
    assert!(!out.exists());
    assert!(
        fs::read_dir(tmp.path())
            .unwrap()
            .all(|e| !e.unwrap().file_name().to_string_lossy().starts_with(".out"))
    );
    assert!(!reg.verify().unwrap().is_ok());
}

/// The single-file path copies in the kernel and checks what landed: a
/// changed byte (same size) and a shorter file are refused just the same,
/// and nothing, not even a temporary file, is left beside the output.
#[test]
fn a_changed_single_file_is_refused_after_the_kernel_copy_and_nothing_is_left() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = open(tmp.path());
    let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let md = reg
        .save_files(&v("1.0.0"), &[file("weights.bin", &bytes)], ModelInfo::default())
        .unwrap();
    let stored = reg.root().join("versions/1.0.0/weights.bin");
    let out_dir = tmp.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("weights.bin");
    export(&reg, &md, &out, false).unwrap();
    assert_eq!(fs::read(&out).unwrap(), bytes);
    fs::remove_file(&out).unwrap();

    let mut flipped = bytes.clone();
    flipped[2_999_000] ^= 1;
    fs::write(&stored, &flipped).unwrap();
    let err = export(&reg, &md, &out, false).unwrap_err();
    assert!(matches!(err, RegistryError::IntegrityMismatch { .. }), "{err}");
    assert!(err.to_string().contains("weights.bin"), "{err}");
    assert_eq!(fs::read_dir(&out_dir).unwrap().count(), 0, "nothing left");

    fs::write(&stored, &bytes[..1000]).unwrap();
    let err = export(&reg, &md, &out, false).unwrap_err();
    assert!(matches!(err, RegistryError::IntegrityMismatch { .. }), "{err}");
    assert_eq!(fs::read_dir(&out_dir).unwrap().count(), 0, "nothing left");
}

#[test]
fn links_special_files_and_unstorable_names_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = model_dir(tmp.path());
    std::os::unix::fs::symlink("/etc/passwd", dir.join("passwd")).unwrap();
    let err = collect(&dir).unwrap_err().to_string();
    assert!(err.contains("symbolic link"), "{err}");
    fs::remove_file(dir.join("passwd")).unwrap();

    let fifo = dir.join("pipe");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc_mkfifo(c.as_ptr(), 0o600) }, 0);
    let err = collect(&dir).unwrap_err().to_string();
    assert!(err.contains("FIFO"), "{err}");
    fs::remove_file(&fifo).unwrap();

    for (name, reason) in [
        (".DS_Store", "may not start with '.'"),
        ("my model.pkl", "' ' is not allowed"),
        ("metadata.json", "reserved"),
    ] {
        fs::write(dir.join(name), b"x").unwrap();
        let err = collect(&dir).unwrap_err().to_string();
        assert!(err.contains(reason), "{name}: {err}");
        fs::remove_file(dir.join(name)).unwrap();
    }
    let empty = tmp.path().join("empty");
    fs::create_dir(&empty).unwrap();
    assert!(collect(&empty).unwrap_err().to_string().contains("no files"));
}

unsafe extern "C" {
    #[link_name = "mkfifo"]
    fn libc_mkfifo(path: *const std::ffi::c_char, mode: u32) -> i32;
}

#[test]
fn a_hostile_file_list_is_refused_before_anything_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = open(tmp.path());
    reg.save_files(&v("1.0.0"), &[file("model.pt", b"pt")], ModelInfo::default())
        .unwrap();
    let path = reg.root().join("versions/1.0.0/metadata.json");
    let original: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    for (bad, reason) in [
        ("../../../etc/passwd", "may not start with '.'"),
        ("/etc/passwd", "empty path component"),
        ("metadata.json", "reserved"),
    ] {
        let mut doc = original.clone();
        doc["files"][0]["path"] = bad.into();
        let digest = sha256_hex(&canonical_bytes(doc.clone(), "test").unwrap());
        doc.insert("metadata_sha256".into(), digest.into());
        fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
        let err = reg.metadata(&v("1.0.0")).unwrap_err();
        assert!(matches!(err, RegistryError::InvalidMetadata { .. }), "{err}");
        assert!(err.to_string().contains(reason), "{bad}: {err}");
    }
}

#[test]
fn named_models_keep_their_own_versions_latest_and_aliases() {
    let tmp = tempfile::tempdir().unwrap();
    let root = open(tmp.path());
    root.save_files(&v("1.0.0"), &[file("m.bin", b"sentiment")], ModelInfo::default())
        .unwrap();
    let spam: ModelName = "spam".parse().unwrap();
    let spam_reg = open(tmp.path()).for_model(Some(spam.clone()));
    spam_reg
        .save_files(&v("3.0.0"), &[file("spam.joblib", b"spam")], ModelInfo::default())
        .unwrap();
    let production: AliasName = "production".parse().unwrap();
    spam_reg.set_alias(&production, &v("3.0.0"), Expect::Nothing).unwrap();

    // The default model keeps the seed's layout; the named one lives under models/.
    assert!(tmp.path().join("registry/versions/1.0.0/m.bin").is_file());
    assert!(
        tmp.path()
            .join("registry/models/spam/versions/3.0.0/spam.joblib")
            .is_file()
    );
    assert_eq!(root.list_versions().unwrap(), [v("1.0.0")]);
    assert_eq!(spam_reg.list_versions().unwrap(), [v("3.0.0")]);
    assert_eq!(root.resolve(&AliasName::latest()).unwrap().version, v("1.0.0"));
    assert_eq!(spam_reg.resolve(&AliasName::latest()).unwrap().version, v("3.0.0"));
    assert!(root.resolve(&production).is_err());
    assert_eq!(spam_reg.resolve_target("models:/spam@production").unwrap(), v("3.0.0"));
    assert!(root.resolve_target("models:/spam@production").is_err());
    assert_eq!(root.list_models().unwrap(), std::slice::from_ref(&spam));
    assert!(root.verify().unwrap().is_ok());
    assert!(spam_reg.verify().unwrap().is_ok());
    assert_eq!(
        fs::canonicalize(tmp.path().join("registry/models/spam/latest")).unwrap(),
        fs::canonicalize(tmp.path().join("registry/models/spam/versions/3.0.0")).unwrap()
    );

    let ham = open(tmp.path()).for_model(Some("ham".parse().unwrap()));
    let err = ham.require_model().unwrap_err().to_string();
    assert!(
        err.contains("no model named \"ham\"") && err.contains("default, spam"),
        "{err}"
    );
    assert!("default".parse::<ModelName>().is_err());
}

#[test]
fn a_lost_race_for_a_version_takes_back_its_files() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = open(tmp.path());
    reg.save_files(&v("0.1.0"), &[file("x.bin", b"x")], ModelInfo::default())
        .unwrap();
    // Another writer is between its files and its metadata: it created b.bin.
    let other = reg.root().join("versions/1.0.0");
    fs::create_dir_all(&other).unwrap();
    fs::write(other.join("b.bin"), b"theirs").unwrap();
    // This writer creates a.bin first, then meets b.bin: it loses, and takes
    // a.bin back instead of leaving it in the other writer's version.
    let err = reg
        .save_files(
            &v("1.0.0"),
            &[file("a.bin", b"ours"), file("b.bin", b"ours")],
            ModelInfo::default(),
        )
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::VersionExists { complete: false, .. }),
        "{err}"
    );
    assert!(!other.join("a.bin").exists());
    assert_eq!(fs::read(other.join("b.bin")).unwrap(), b"theirs");
    // Complete versions refuse before writing anything.
    let err = reg
        .save_files(&v("0.1.0"), &[file("a.bin", b"again")], ModelInfo::default())
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::VersionExists { complete: true, .. }),
        "{err}"
    );
}
