//! Signed versions against the OpenSSF reference tool (`model_signing`
//! from PyPI), in both directions: what `registry` signs, `model_signing
//! verify key` accepts; what `model_signing sign key` signs, `registry
//! verify --trusted-key` accepts; and a changed, added or removed file, or
//! a signature by another key, is refused by both.
//!
//! The tool is found through MODELREG_MODEL_SIGNING (the path of its
//! `model_signing` script; `.ci/model-signing` installs it and prints the
//! variable). Without it the test prints SKIPPED, unless
//! MODELREG_REQUIRE_MODEL_SIGNING=1 (set by CI), which makes it a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn keys() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../model-sign/tests/keys")
}

fn reference_tool() -> Option<PathBuf> {
    let tool = std::env::var_os("MODELREG_MODEL_SIGNING").map(PathBuf::from);
    match tool {
        Some(t) if t.exists() => Some(t),
        _ => {
            let required = std::env::var("MODELREG_REQUIRE_MODEL_SIGNING").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "MODELREG_REQUIRE_MODEL_SIGNING=1 but MODELREG_MODEL_SIGNING does not name the model_signing tool: eval \"$(.ci/model-signing)\""
            );
            eprintln!(
                "SKIPPED: set MODELREG_MODEL_SIGNING (eval \"$(.ci/model-signing)\") to test against the reference tool"
            );
            None
        }
    }
}

fn run(program: &Path, args: &[&str]) -> Output {
    Command::new(program).args(args).output().expect("the program runs")
}

fn registry(root: &Path, args: &[&str]) -> Output {
    let mut all = vec!["--registry", root.to_str().unwrap()];
    all.extend_from_slice(args);
    run(Path::new(env!("CARGO_BIN_EXE_registry")), &all)
}

fn ok(out: &Output) -> bool {
    out.status.success()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

struct Tool(PathBuf);

impl Tool {
    fn sign(&self, key: &str, dir: &Path) -> Output {
        let sig = dir.join("model.sig");
        let key = keys().join(key);
        run(
            &self.0,
            &[
                "sign",
                "key",
                "--private_key",
                key.to_str().unwrap(),
                "--signature",
                sig.to_str().unwrap(),
                dir.to_str().unwrap(),
            ],
        )
    }

    fn verify(&self, public: &str, dir: &Path) -> Output {
        let sig = dir.join("model.sig");
        let key = keys().join(public);
        run(
            &self.0,
            &[
                "verify",
                "key",
                "--signature",
                sig.to_str().unwrap(),
                "--public_key",
                key.to_str().unwrap(),
                dir.to_str().unwrap(),
            ],
        )
    }
}

fn model_dir(parent: &Path) -> PathBuf {
    let dir = parent.join("model");
    std::fs::create_dir_all(dir.join("tokenizer")).unwrap();
    std::fs::write(dir.join("model.onnx"), b"\x08\x07onnx weights").unwrap();
    std::fs::write(dir.join("tokenizer/vocab.txt"), b"a\nb\nc\n").unwrap();
    dir
}

#[test]
fn modelreg_and_the_reference_tool_accept_each_others_signatures_and_refuse_the_same_tampering() {
    let Some(tool) = reference_tool().map(Tool) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("registry");
    let model = model_dir(tmp.path());
    let p256 = keys().join("p256.pem");
    let trusted = keys().join("p256.pub.pem");
    let trust = ["--trusted-key", trusted.to_str().unwrap()];

    // modelreg signs; the reference tool verifies: as saved, and afterwards.
    let added = registry(
        &root,
        &[
            "add",
            model.to_str().unwrap(),
            "--version",
            "1.0.0",
            "--sign-key",
            p256.to_str().unwrap(),
        ],
    );
    assert!(ok(&added), "{}", text(&added));
    let v1 = root.join("versions/1.0.0");
    let verified = tool.verify("p256.pub.pem", &v1);
    assert!(
        ok(&verified),
        "reference verify of a modelreg signature: {}",
        text(&verified)
    );
    let added = registry(&root, &["add", model.to_str().unwrap(), "--version", "1.1.0"]);
    assert!(ok(&added), "{}", text(&added));
    let signed = registry(
        &root,
        &["sign", "1.1.0", "--key", keys().join("p384.pem").to_str().unwrap()],
    );
    assert!(ok(&signed), "{}", text(&signed));
    assert!(ok(&tool.verify("p384.pub.pem", &root.join("versions/1.1.0"))));

    // The reference tool signs; modelreg verifies and loads.
    let added = registry(&root, &["add", model.to_str().unwrap(), "--version", "2.0.0"]);
    assert!(ok(&added), "{}", text(&added));
    let v2 = root.join("versions/2.0.0");
    let signed = tool.sign("p256.pem", &v2);
    assert!(ok(&signed), "reference sign: {}", text(&signed));
    let p384 = keys().join("p384.pub.pem");
    let both = [
        "--trusted-key",
        trusted.to_str().unwrap(),
        "--trusted-key",
        p384.to_str().unwrap(),
    ];
    let verify = registry(&root, &[&both[..], &["verify"]].concat());
    assert!(
        ok(&verify),
        "modelreg verify of reference signatures: {}",
        text(&verify)
    );
    let out = tmp.path().join("fetched");
    let got = registry(
        &root,
        &[&trust[..], &["get", "2.0.0", "--out", out.to_str().unwrap()]].concat(),
    );
    assert!(ok(&got), "{}", text(&got));

    // Tampering, each on a copy of the registry: both tools refuse.
    type Tamper = fn(&Path);
    let cases: [(&str, Tamper); 4] = [
        ("a changed byte", |v| {
            std::fs::write(v.join("model.onnx"), b"\x08\x07ONNX weights").unwrap()
        }),
        ("an added file", |v| {
            std::fs::write(v.join("extra.bin"), b"payload").unwrap()
        }),
        ("a removed file", |v| {
            std::fs::remove_file(v.join("tokenizer/vocab.txt")).unwrap()
        }),
        ("a changed metadata.json", |v| {
            let path = v.join("metadata.json");
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(&path, text.replacen("\"2.0.0\"", "\"2.0.0\" ", 1)).unwrap();
        }),
    ];
    for (i, (what, tamper)) in cases.iter().enumerate() {
        let copy = tmp.path().join(format!("tampered-{i}"));
        test_support::copy_dir(&root, &copy);
        let v = copy.join("versions/2.0.0");
        tamper(&v);
        assert!(
            !ok(&tool.verify("p256.pub.pem", &v)),
            "the reference tool accepted {what}"
        );
        let verify = registry(&copy, &[&trust[..], &["verify"]].concat());
        assert!(!ok(&verify), "modelreg accepted {what}: {}", text(&verify));
        assert!(text(&verify).contains("2.0.0"), "{what}: {}", text(&verify));
    }

    // A signature made with another key: refused by both.
    let copy = tmp.path().join("other-key");
    test_support::copy_dir(&root, &copy);
    let v = copy.join("versions/2.0.0");
    std::fs::remove_file(v.join("model.sig")).unwrap();
    assert!(ok(&tool.sign("other.pem", &v)));
    assert!(!ok(&tool.verify("p256.pub.pem", &v)));
    let verify = registry(&copy, &[&trust[..], &["verify"]].concat());
    assert!(
        !ok(&verify) && text(&verify).contains("not trusted"),
        "{}",
        text(&verify)
    );
}
