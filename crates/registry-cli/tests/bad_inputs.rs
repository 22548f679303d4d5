//! A catalogue of bad inputs across the three command-line tools. Each one
//! must give a clear message (checked by a phrase it must contain), exit
//! non-zero where it fails, never panic, and never change the registry.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod common;

use common::{bin, workspace};

unsafe extern "C" {
    fn mkfifo(path: *const std::ffi::c_char, mode: u32) -> i32;
}

/// Every file under `root` with its bytes (symlinks as their target).
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries {
            let p = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.file_type().is_symlink() {
                out.insert(
                    p.clone(),
                    std::fs::read_link(&p).unwrap().into_os_string().into_encoded_bytes(),
                );
            } else if meta.is_dir() {
                out.insert(p.clone(), Vec::new());
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

struct Case {
    name: &'static str,
    tool: &'static str,
    args: Vec<String>,
    stdin: Option<Vec<u8>>,
    /// Expected exit code, as the README documents them: 1 refused by the
    /// registry's rules, 2 bad arguments or input, 3 not found, 4 damage,
    /// 5 storage failure; 0 for input that deserves a sensible answer.
    code: i32,
    /// A phrase the message (stderr, or stdout on success) must contain.
    says: &'static str,
}

fn case(name: &'static str, tool: &'static str, args: &[&str], code: i32, says: &'static str) -> Case {
    Case {
        name,
        tool,
        args: args.iter().map(|s| s.to_string()).collect(),
        stdin: None,
        code,
        says,
    }
}

#[test]
fn bad_inputs_get_clear_errors_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("registry");
    let data = |name: &str, content: &[u8]| -> String {
        let p = dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        p.display().to_string()
    };
    let tiny = workspace().join("fixtures/tiny.tsv").display().to_string();
    let trained = Command::new(bin("trainer"))
        .args(["--data", &tiny, "--folds", "3", "--quiet", "--registry"])
        .arg(&reg)
        .status()
        .unwrap();
    assert!(trained.success());

    let empty = data("empty.tsv", b"");
    let header_only = data("header.tsv", b"label\ttext\n");
    let no_text = data("no_text.tsv", b"label\tcomment\npositive\tgood\n");
    let dup_header = data("dup.tsv", b"label\ttext\tlabel\npositive\tgood\tx\n");
    let extra_tab = data("tabs.tsv", b"label\ttext\npositive\tgood\nnegative\tbad\tworse\n");
    let one_class = data(
        "one.tsv",
        b"label\ttext\npositive\tgood\npositive\tgreat\npositive\tfine\n",
    );
    let few = data(
        "few.tsv",
        b"label\ttext\npositive\tgood\npositive\tgreat\nnegative\tbad\nnegative\tawful\n",
    );
    let not_utf8 = data("latin1.tsv", b"label\ttext\npositive\tna\xefve\n");
    let empty_text = data("blank.tsv", b"label\ttext\npositive\tgood\nnegative\t   \n");
    let bad_grid = data("grid.json", br#"[{"classifier":{"type":"svm","c":[1]}}]"#);
    let a_file = data("not-a-registry", b"x");
    let long_alias = "a".repeat(65);
    // Inputs to `registry add`: a directory holding a link, a FIFO, and a
    // metadata file with a typo.
    let linked = dir.path().join("linked-model");
    std::fs::create_dir(&linked).unwrap();
    std::fs::write(linked.join("model.pt"), b"pt").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", linked.join("config.json")).unwrap();
    let linked = linked.display().to_string();
    let fifo = dir.path().join("model.fifo");
    let fifo_c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { mkfifo(fifo_c.as_ptr(), 0o600) }, 0);
    let fifo = fifo.display().to_string();
    let typo = data("meta.json", br#"{"hyperparams": {"C": 1}}"#);
    let model_file = data("model.onnx", b"onnx");
    let existing_out = data("existing.bin", b"mine");
    let ten_mb = {
        let mut line = vec![b'a'; 10_000_000];
        line.push(b'\n');
        line
    };

    let mut cases = vec![
        case(
            "semver without patch",
            "registry",
            &["promote", "1.0", "--to", "production"],
            2,
            "invalid version",
        ),
        case(
            "path traversal as version",
            "registry",
            &["promote", "../../etc", "--to", "production"],
            2,
            "neither a version nor an alias",
        ),
        case(
            "path traversal as alias",
            "registry",
            &["promote", "1.0.0", "--to", "../x"],
            2,
            "invalid alias",
        ),
        case(
            "capital letters in alias",
            "registry",
            &["promote", "1.0.0", "--to", "Prod"],
            2,
            "invalid alias",
        ),
        case(
            "65-character alias",
            "registry",
            &["promote", "1.0.0", "--to", &long_alias],
            2,
            "longer than 64",
        ),
        case(
            "NUL in alias",
            "registry",
            &["promote", "1.0.0", "--to", "prod\u{1}x"],
            2,
            "not allowed",
        ),
        case(
            "moving latest by hand",
            "registry",
            &["promote", "1.0.0", "--to", "latest"],
            1,
            "managed by the registry",
        ),
        case(
            "unknown version",
            "registry",
            &["promote", "9.9.9", "--to", "production"],
            3,
            "available: 1.0.0",
        ),
        case(
            "stale --expect",
            "registry",
            &["promote", "1.0.0", "--to", "production", "--expect", "2.0.0"],
            1,
            "moved by someone else",
        ),
        case(
            "rollback of an unknown alias",
            "registry",
            &["rollback", "production"],
            3,
            "not found",
        ),
        case(
            "leading v",
            "registry",
            &["show", "v1.0.0"],
            2,
            "neither a version nor an alias",
        ),
        case(
            "build metadata",
            "registry",
            &["show", "1.0.0+build.5"],
            2,
            "build metadata",
        ),
        case(
            "history of an unknown alias",
            "registry",
            &["history", "nope"],
            3,
            "not found",
        ),
        case(
            "diff with an unknown version",
            "registry",
            &["diff", "1.0.0", "9.9.9"],
            3,
            "not found",
        ),
        case(
            "unknown subcommand",
            "registry",
            &["frobnicate"],
            2,
            "unrecognized subcommand",
        ),
        case(
            "predict with traversal in version",
            "predictor",
            &["--version", "1.0.0/../../etc", "x"],
            2,
            "invalid version",
        ),
        case(
            "predict with an alias given as --version",
            "predictor",
            &["--version", "production", "x"],
            2,
            "is an alias, not a version: use --alias production",
        ),
        case(
            "predict with traversal in alias",
            "predictor",
            &["--alias", "../etc", "x"],
            2,
            "invalid alias",
        ),
        case(
            "predict with version and alias",
            "predictor",
            &["--version", "1.0.0", "--alias", "production", "x"],
            2,
            "cannot be used with",
        ),
        case("predict an empty text", "predictor", &[""], 0, "\t"),
        case(
            "train on a missing file",
            "trainer",
            &["--data", "/nonexistent/data.tsv"],
            2,
            "/nonexistent/data.tsv",
        ),
        case("train on an empty file", "trainer", &["--data", &empty], 2, "is empty"),
        case(
            "train on a header only",
            "trainer",
            &["--data", &header_only],
            2,
            "is empty",
        ),
        case(
            "train without a text column",
            "trainer",
            &["--data", &no_text],
            2,
            "no `text` column",
        ),
        case(
            "train with a duplicate header",
            "trainer",
            &["--data", &dup_header],
            2,
            "appears twice",
        ),
        case(
            "train with an extra tab",
            "trainer",
            &["--data", &extra_tab],
            2,
            "line 3",
        ),
        case(
            "train on one class",
            "trainer",
            &["--data", &one_class],
            2,
            "two labels",
        ),
        case(
            "train with fewer examples than folds",
            "trainer",
            &["--data", &few],
            2,
            "fewer than the 5",
        ),
        case("train on non-UTF-8", "trainer", &["--data", &not_utf8], 2, "UTF-8"),
        case(
            "train with an unknown search strategy",
            "trainer",
            &["--search", "fast"],
            2,
            "auto, full or halving",
        ),
        case(
            "train with a zero time budget",
            "trainer",
            &["--time-budget", "0"],
            2,
            "must be positive",
        ),
        case(
            "train with a budget in weeks",
            "trainer",
            &["--time-budget", "2w"],
            2,
            "use us, ms, s, m, h or d",
        ),
        case(
            "train with a memory limit in bananas",
            "trainer",
            &["--max-memory", "4X"],
            2,
            "use K, M or G",
        ),
        case(
            "sign with a missing key",
            "trainer",
            &["--sign-key", "missing.pem"],
            2,
            "missing.pem",
        ),
        case(
            "train with an empty text",
            "trainer",
            &["--data", &empty_text],
            2,
            "line 3: empty text",
        ),
        case(
            "train with an invalid version",
            "trainer",
            &["--data", &tiny, "--version", "1.0"],
            2,
            "invalid version",
        ),
        case(
            "train over an existing version",
            "trainer",
            &["--data", &tiny, "--version", "1.0.0"],
            1,
            "already exists",
        ),
        case(
            "train with one fold",
            "trainer",
            &["--data", &tiny, "--folds", "1"],
            2,
            "at least 2 folds",
        ),
        case(
            "train with test size 1.5",
            "trainer",
            &["--data", &tiny, "--test-size", "1.5"],
            2,
            "between 0 and 1",
        ),
        case(
            "train with an unknown classifier in the grid",
            "trainer",
            &["--data", &tiny, "--grid", &bad_grid],
            2,
            "unknown variant",
        ),
        case(
            "train with a missing grid file",
            "trainer",
            &["--data", &tiny, "--grid", "/nonexistent.json"],
            2,
            "cannot read grid",
        ),
        case(
            "tag without a value",
            "trainer",
            &["--data", &tiny, "--tag", "novalue"],
            2,
            "KEY=VALUE",
        ),
        case(
            "add a missing path",
            "registry",
            &["add", "/nonexistent/model.pkl"],
            2,
            "no such file",
        ),
        case(
            "add a directory with a link",
            "registry",
            &["add", &linked],
            2,
            "symbolic link",
        ),
        case("add a FIFO", "registry", &["add", &fifo], 2, "FIFO"),
        case(
            "add with a --data file that does not exist",
            "registry",
            &["add", &a_file, "--data", "no-such-data.csv"],
            2,
            "the training data file does not exist",
        ),
        case(
            "add files labelled as the trainer's model type",
            "registry",
            &["add", &a_file, "--type", &textclf::model_type()],
            2,
            "registered files cannot carry it",
        ),
        case(
            "add another model type over the trainer's latest",
            "registry",
            &["add", &a_file, "--type", "sklearn"],
            1,
            "latest would move to it",
        ),
        case(
            "add with a metadata typo",
            "registry",
            &["add", &model_file, "--metadata", &typo],
            2,
            "unknown key \"hyperparams\"",
        ),
        case(
            "add with a bad model name",
            "registry",
            &["add", &model_file, "--model", "Spam"],
            2,
            "invalid model name",
        ),
        case(
            "add with a NaN score",
            "registry",
            &["add", &model_file, "--test-score", "NaN"],
            2,
            "not a finite number",
        ),
        case(
            "get over an existing file",
            "registry",
            &["get", "1.0.0", "--out", &existing_out],
            1,
            "--force",
        ),
        case(
            "unknown model name",
            "registry",
            &["--model", "spam", "list"],
            3,
            "no model named",
        ),
        case(
            "URI without a target",
            "registry",
            &["show", "models:/spam"],
            2,
            "models:/NAME@ALIAS",
        ),
        case(
            "URI with a bad version",
            "registry",
            &["show", "models:/default/1.0"],
            2,
            "invalid model URI",
        ),
        case(
            "URI and --model disagree",
            "registry",
            &["--model", "default", "show", "models:/spam@production"],
            2,
            "another model",
        ),
        case(
            "bad --where",
            "registry",
            &["list", "--where", "test_score>>0.8"],
            2,
            "not a number",
        ),
        case(
            "--where without an operator",
            "registry",
            &["list", "--where", "test_score"],
            2,
            "no comparison",
        ),
        case(
            "bad --since",
            "registry",
            &["list", "--since", "yesterday"],
            2,
            "not a date",
        ),
        case(
            "delete latest",
            "registry",
            &["alias", "delete", "latest"],
            1,
            "managed by the registry",
        ),
        case(
            "deprecate an unknown version",
            "registry",
            &["deprecate", "9.9.9"],
            3,
            "not found",
        ),
        case(
            "delete the version latest names",
            "registry",
            &["delete", "1.0.0"],
            1,
            "alias latest names it",
        ),
        case(
            "delete an unknown version",
            "registry",
            &["delete", "9.9.9"],
            3,
            "not found",
        ),
        case(
            "delete with a reason of a document's length",
            "registry",
            &["delete", "1.0.0", "--reason", &"why ".repeat(400)],
            2,
            "longer than 1000 characters",
        ),
        case(
            "undelete a version that is not deleted",
            "registry",
            &["undelete", "1.0.0"],
            1,
            "not deleted",
        ),
        case(
            "gc with a duration in words",
            "registry",
            &["gc", "--older-than", "seven days"],
            2,
            "not a duration",
        ),
        case(
            "gc with a negative duration",
            "registry",
            &["gc", "--older-than=-1d"],
            2,
            "must be positive",
        ),
        case(
            "gc with an unknown unit",
            "registry",
            &["gc", "--older-than", "2w"],
            2,
            "unknown unit",
        ),
        case(
            "a webhook URL that is not http(s)",
            "registry",
            &[
                "webhook",
                "add",
                "ftp://ci.example/hook",
                "--secret",
                "0123456789abcdef",
            ],
            2,
            "must start with http:// or https://",
        ),
        case(
            "a webhook URL with credentials in it",
            "registry",
            &[
                "webhook",
                "add",
                "https://user:pw@ci.example/",
                "--secret",
                "0123456789abcdef",
            ],
            2,
            "credentials in the URL",
        ),
        case(
            "a webhook for events that do not exist",
            "registry",
            &[
                "webhook",
                "add",
                "https://ci.example/",
                "--secret",
                "0123456789abcdef",
                "--events",
                "deploy",
            ],
            2,
            "unknown event kind",
        ),
        case(
            "retain with no policy given or saved",
            "registry",
            &["retain"],
            2,
            "no saved retention policy",
        ),
        case(
            "retain with a duration in words",
            "registry",
            &["retain", "--keep-within", "a month"],
            2,
            "not a duration",
        ),
        case(
            "retain --clear with a policy",
            "registry",
            &["retain", "--clear", "--keep-last", "2"],
            2,
            "cannot be used with",
        ),
        case(
            "retain --keep-last that is not a number",
            "registry",
            &["retain", "--keep-last", "-3"],
            2,
            "unexpected argument",
        ),
        case(
            "predictor on a URI of an unknown model",
            "predictor",
            &["--alias", "models:/spam@production", "x"],
            3,
            "no model named",
        ),
    ];
    cases.push(Case {
        stdin: Some(b"good \xff\xfe film\n\nbad\r\n".to_vec()),
        ..case("non-UTF-8, empty and CRLF lines on stdin", "predictor", &[], 0, "\t")
    });
    cases.push(Case {
        stdin: Some(ten_mb),
        ..case("a 10 MB single line", "predictor", &[], 0, "\t")
    });
    assert!(cases.len() >= 30);

    let before = snapshot(&reg);
    for c in &cases {
        let mut cmd = Command::new(bin(c.tool));
        cmd.args(&c.args)
            .env("MODELREG_DIR", &reg)
            .stdin(if c.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(input) = &c.stdin {
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(input).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!stderr.contains("panicked"), "{}: panicked:\n{stderr}", c.name);
        assert_eq!(out.status.code(), Some(c.code), "{}: exit code\n{stderr}", c.name);
        let message = if c.code == 0 { &stdout } else { &stderr };
        assert!(
            message.contains(c.says),
            "{}: expected {:?} in:\n{message}",
            c.name,
            c.says
        );
        assert_eq!(snapshot(&reg), before, "{}: the registry changed", c.name);
    }

    // A registry path that is a file, and metadata from a newer modelreg.
    let out = Command::new(bin("registry"))
        .args(["list", "--registry", &a_file])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not-a-registry"));
    let metadata = reg.join("versions/1.0.0/metadata.json");
    let text = std::fs::read_to_string(&metadata).unwrap();
    std::fs::write(
        &metadata,
        text.replace("\"format_version\": 1", "\"format_version\": 9"),
    )
    .unwrap();
    for (tool, args) in [("registry", vec!["show", "1.0.0"]), ("predictor", vec!["x"])] {
        let out = Command::new(bin(tool))
            .args(&args)
            .env("MODELREG_DIR", &reg)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{tool}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("format_version 9") && err.contains("upgrade"),
            "{tool}: {err}"
        );
    }
}
