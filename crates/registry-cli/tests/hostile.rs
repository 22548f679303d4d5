//! Hostile registry content: bytes written by anyone with access, with
//! perfectly consistent digests. Every tool must refuse what is not valid,
//! quickly, with bounded memory, without a panic, and say why.

mod common;

use common::{bin, workspace};
use registry_core::{Artifact, Encoding, ModelInfo, ModelVersion, Registry};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs a tool with at most `memory` bytes of address space and a
/// deadline: a loop or an unbounded read shows as a failure, not a hang.
fn run_bounded(tool: &str, registry: &Path, args: &[&str], memory: u64) -> (Output, Duration) {
    let mut cmd = Command::new(bin(tool));
    cmd.args(args)
        .env("MODELREG_DIR", registry)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    common::limit_address_space(&mut cmd, memory);
    let started = Instant::now();
    let mut child = cmd.spawn().unwrap();
    let deadline = started + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{tool} {args:?} did not finish within 20 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    (out, started.elapsed())
}

const MEMORY: u64 = 512 << 20;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A registry with one real model (1.0.0, production) and its bytes.
fn registry_with_a_model() -> (tempfile::TempDir, PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("registry");
    let tiny = workspace().join("fixtures/tiny.tsv");
    let out = Command::new(bin("trainer"))
        .args(["--data", tiny.to_str().unwrap(), "--folds", "3", "--quiet"])
        .env("MODELREG_DIR", &reg)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = Command::new(bin("registry"))
        .args(["promote", "1.0.0", "--to", "production"])
        .env("MODELREG_DIR", &reg)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let bytes = std::fs::read(reg.join("versions/1.0.0/model.bin")).unwrap();
    (dir, reg, bytes)
}

/// Seals `bytes` as a textclf model the way any writer can: the digests
/// are consistent, whatever the bytes are.
fn seal(reg: &Path, version: &ModelVersion, bytes: Vec<u8>) {
    seal_as(reg, version, bytes, Encoding::Postcard);
}

fn textclf_info() -> ModelInfo {
    ModelInfo {
        model_type: Some(textclf::model_type()),
        ..ModelInfo::default()
    }
}

fn seal_as(reg: &Path, version: &ModelVersion, bytes: Vec<u8>, encoding: Encoding) {
    let info = textclf_info();
    let artifact = Artifact {
        extension: "bin".into(),
        encoding,
        bytes,
    };
    Registry::open(reg)
        .unwrap()
        .save_artifact(version, artifact, info)
        .unwrap();
}

#[test]
fn a_hostile_but_consistent_version_is_refused_by_verify_promote_and_predictor() {
    let (_dir, reg, good) = registry_with_a_model();
    let mut trailing = good.clone();
    trailing.push(0);
    let cases = [
        ("2.0.0", trailing, "1 bytes after the model"),
        (
            "2.0.1",
            good[..good.len() / 2].to_vec(),
            "not a textclf model this build can read",
        ),
        ("2.0.2", vec![0xff; 64], "not a textclf model this build can read"),
    ];
    for (version, bytes, _) in &cases {
        seal(&reg, &version.parse().unwrap(), bytes.clone());
    }
    // Consistent and decodable, but not what the predictor reads: the real
    // model's bytes recorded as JSON, and files labelled textclf with no
    // artifact. verify passed these while the predictor refused them.
    seal_as(&reg, &"2.0.3".parse().unwrap(), good.clone(), Encoding::Json);
    let files = [registry_core::NewFile {
        path: "model.bin".into(),
        bytes: good.clone(),
    }];
    Registry::open(&reg)
        .unwrap()
        .save_files(&"2.0.4".parse().unwrap(), &files, textclf_info())
        .unwrap();
    let declared = [
        ("2.0.3", "stored in the Json encoding (the trainer's is postcard)"),
        ("2.0.4", "registered file(s) labelled textclf"),
    ];
    let (out, _) = run_bounded("registry", &reg, &["verify"], MEMORY);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let report = String::from_utf8_lossy(&out.stdout);
    for version in cases.iter().map(|c| c.0).chain(declared.iter().map(|d| d.0)) {
        assert!(
            report.contains(&format!("version {version} claims to be a textclf")),
            "{version}: {report}"
        );
    }
    for (version, phrase) in declared {
        assert!(report.contains(phrase), "{version}: {report}");
        let (out, _) = run_bounded("registry", &reg, &["promote", version, "--to", "production"], MEMORY);
        assert_eq!(out.status.code(), Some(4), "{version}: {}", stderr(&out));
        assert!(stderr(&out).contains(phrase), "{version}: {}", stderr(&out));
        let (out, _) = run_bounded("predictor", &reg, &["--version", version, "good"], MEMORY);
        assert_ne!(out.status.code(), Some(0), "{version}: {}", stderr(&out));
        assert!(stderr(&out).contains(phrase), "{version}: {}", stderr(&out));
    }
    for (version, _, phrase) in &cases {
        let (out, _) = run_bounded("registry", &reg, &["promote", version, "--to", "production"], MEMORY);
        assert_eq!(out.status.code(), Some(4), "{version}: {}", stderr(&out));
        assert!(stderr(&out).contains("not a valid"), "{version}: {}", stderr(&out));
        let (out, _) = run_bounded("predictor", &reg, &["--version", version, "good"], MEMORY);
        assert_eq!(out.status.code(), Some(4), "{version}: {}", stderr(&out));
        assert!(stderr(&out).contains(phrase), "{version}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"));
    }
    let production = Registry::open(&reg)
        .unwrap()
        .resolve(&"production".parse().unwrap())
        .unwrap();
    assert_eq!(production.version.to_string(), "1.0.0", "no refused promotion moved it");
}

/// Real model bytes mutated the ways an attacker would (flips, truncation,
/// splices, duplicated runs, edited length prefixes), sealed with
/// consistent digests: `predictor` exits 0 (a sane answer) or 4 (refused),
/// within the deadline and the memory limit, and never panics.
#[test]
fn mutated_models_never_crash_hang_or_exhaust_the_predictor() {
    let (_dir, reg, good) = registry_with_a_model();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move |n: usize| {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_F491_4F6C_DD1D) % n as u64) as usize
    };
    let (mut refused, mut answered) = (0, 0);
    for i in 0..40u64 {
        let mut bytes = good.clone();
        let n = bytes.len();
        match i % 5 {
            0 => bytes[next(n)] ^= 1 << next(8),
            1 => bytes.truncate(next(n)),
            2 => {
                let (from, to, len) = (next(n - 64), next(n - 64), 1 + next(63));
                let piece = bytes[from..from + len].to_vec();
                bytes[to..to + len].copy_from_slice(&piece);
            }
            3 => {
                let at = next(n - 64);
                let piece = bytes[at..at + 1 + next(63)].to_vec();
                bytes.splice(at..at, piece);
            }
            _ => bytes[next(n)] = [0x00, 0x7f, 0xff][next(3)],
        }
        let version = ModelVersion::new(3, 0, i);
        seal(&reg, &version, bytes);
        let v = version.to_string();
        let (out, took) = run_bounded("predictor", &reg, &["--version", &v, "good", "bad film", ""], MEMORY);
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{v}: {err}");
        match out.status.code() {
            Some(0) => answered += 1,
            Some(4) => refused += 1,
            other => panic!("{v}: exit {other:?}: {err}"),
        }
        assert!(took < Duration::from_secs(10), "{v} took {took:?}");
    }
    assert!(
        refused > 0,
        "no mutation was refused: the test would not notice a missing check"
    );
    eprintln!("40 mutated models: {refused} refused, {answered} answered");
}

#[test]
fn special_files_are_refused_at_once() {
    let (_dir, reg, _) = registry_with_a_model();
    let fifo = |path: &Path| {
        std::fs::remove_file(path).unwrap();
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    };
    // A FIFO where the model should be: a read would wait forever.
    fifo(&reg.join("versions/1.0.0/model.bin"));
    for (tool, args) in [
        ("predictor", vec!["--version", "1.0.0", "x"]),
        ("registry", vec!["verify"]),
        ("registry", vec!["verify", "--repair"]),
    ] {
        let (out, took) = run_bounded(tool, &reg, &args, MEMORY);
        assert_ne!(out.status.code(), Some(0), "{tool} {args:?}");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        assert!(
            text.contains("not a regular file but a FIFO"),
            "{tool} {args:?}: {text}"
        );
        assert!(took < Duration::from_secs(5), "{tool} {args:?} took {took:?}");
    }
    // A FIFO as the latest pointer: the predictor reads it by name and
    // refuses it; listings skip it (only regular files are objects).
    fifo(&reg.join("aliases/latest.json"));
    let (out, took) = run_bounded("predictor", &reg, &["x"], MEMORY);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("FIFO"), "{}", stderr(&out));
    assert!(took < Duration::from_secs(5));
    let (out, took) = run_bounded("registry", &reg, &["list"], MEMORY);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(took < Duration::from_secs(5));
    // verify calls it damage (it said "latest never set", exit 0, before).
    let (out, took) = run_bounded("registry", &reg, &["verify"], MEMORY);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("FIFO") && report.contains("latest.json"), "{report}");
    assert!(took < Duration::from_secs(5));
    // A character device (like /dev/zero, endless) as metadata: needs root.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let path = reg.join("versions/1.0.0/metadata.json");
        std::fs::remove_file(&path).unwrap();
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: mknod with a valid path; makes a device node for /dev/zero.
        assert_eq!(
            unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o644, libc::makedev(1, 5)) },
            0
        );
        let (out, took) = run_bounded("registry", &reg, &["show", "1.0.0"], 64 << 20);
        assert_ne!(out.status.code(), Some(0));
        assert!(stderr(&out).contains("character device"), "{}", stderr(&out));
        assert!(took < Duration::from_secs(5));
    }
}

#[test]
fn an_oversized_metadata_file_costs_no_memory() {
    let (_dir, reg, _) = registry_with_a_model();
    let path = reg.join("versions/1.0.0/metadata.json");
    let mut doc = std::fs::read(&path).unwrap();
    doc.pop();
    doc.extend(std::iter::repeat_n(b' ', 100 << 20));
    doc.push(b'}');
    std::fs::write(&path, doc).unwrap();
    // 100 MB of metadata used to cost ~394 MB in every list; now it is
    // refused before it is read, within 64 MB of address space... plus
    // the binary itself. (Without the catalog, which would spare list from
    // reading any metadata at all.)
    let _ = std::fs::remove_file(reg.join("catalog.json"));
    std::fs::remove_dir_all(reg.join("catalog.d")).unwrap();
    let (out, took) = run_bounded("registry", &reg, &["list"], 128 << 20);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout.contains("DAMAGED") && stdout.contains("more than the 1048576"),
        "{stdout}"
    );
    assert!(took < Duration::from_secs(5));
    let (out, _) = run_bounded("registry", &reg, &["verify"], 128 << 20);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
}

#[test]
fn text_from_the_registry_reaches_the_terminal_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("registry");
    let mut info = ModelInfo {
        description: Some("fine\u{1b}[2J\u{1b}[31mHACKED\u{7}".into()),
        ..ModelInfo::default()
    };
    info.tags.insert("team".into(), "nlp\u{202e}txt.exe".into());
    Registry::open(&reg)
        .unwrap()
        .save_model(&"1.0.0".parse().unwrap(), &vec![1u8; 4], info)
        .unwrap();
    let promote = Command::new(bin("registry"))
        .args(["promote", "1.0.0", "--to", "production"])
        .env("MODELREG_DIR", &reg)
        .env("MODELREG_USER", "eve\u{1b}]0;title\u{7}")
        .output()
        .unwrap();
    assert!(promote.status.success());
    for args in [
        vec!["show", "1.0.0"],
        vec!["show", "1.0.0", "--card"],
        vec!["history", "production"],
        vec!["diff", "1.0.0", "production", "--all"],
    ] {
        let (out, _) = run_bounded("registry", &reg, &args, MEMORY);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}') && !text.contains('\u{202e}'),
            "{args:?} printed a raw control character: {text:?}"
        );
        // Text output escapes visibly.
        assert!(text.contains("\\u{1b}"), "{args:?}: {text}");
    }
}

/// Rewrites version `v`'s metadata to declare a `size`-byte model (sealed
/// again, so its own digest is consistent) and, with `sparse`, makes its
/// model file a sparse file of that size (a few KB on disk).
fn declare_size(reg: &Path, v: &str, size: u64, sparse: bool) {
    let dir = reg.join("versions").join(v);
    let md_path = dir.join("metadata.json");
    let bytes = std::fs::read(&md_path).unwrap();
    let mut md = registry_core::ModelMetadata::from_json(&bytes, "test").unwrap();
    md.artifact.as_mut().unwrap().size = size;
    let sealed = md.seal().unwrap();
    std::fs::remove_file(&md_path).unwrap();
    std::fs::write(&md_path, sealed).unwrap();
    if sparse {
        let model = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join("model.bin"))
            .unwrap();
        model.set_len(size).unwrap();
    }
}

/// A version whose metadata declares 3 GiB (the real file is small), and one
/// whose file is a sparse 1.25 GiB of holes with digests of nothing: every
/// reader checks the size
/// against the stored file before it reserves or maps anything, and a
/// classifier over textclf's cap is refused before a byte is read. Under a
/// 512 MB address-space limit nothing aborts ("memory allocation of
/// 3221225472 bytes failed", exit 134, before the fix).
#[test]
fn a_declared_size_is_checked_before_anything_is_reserved() {
    const HUGE: u64 = 3 << 30;
    // Past the 512 MB address-space limit and textclf's 1 GiB cap, and small
    // enough for verify to hash on a busy 2-core machine.
    const SPARSE: u64 = 5 << 28;
    let (dir, reg, good) = registry_with_a_model();
    seal(&reg, &"2.0.0".parse().unwrap(), good.clone());
    seal(&reg, &"2.0.1".parse().unwrap(), good);
    declare_size(&reg, "2.0.0", HUGE, false); // the file is the real, small model
    declare_size(&reg, "2.0.1", SPARSE, true); // the file is 1.25 GiB of holes
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let cases: &[(&str, Vec<String>, &[i32], &str)] = &[
        (
            "predictor",
            vec!["--version".into(), "2.0.0".into(), "x".into()],
            &[4],
            "3221225472 bytes",
        ),
        (
            "predictor",
            vec!["--version".into(), "2.0.1".into(), "x".into()],
            &[4],
            "more than the 1073741824 bytes one may have",
        ),
        ("registry", vec!["verify".into()], &[4], "3221225472 bytes"),
        (
            "registry",
            vec!["promote".into(), "2.0.0".into(), "--to".into(), "staging".into()],
            &[4],
            "3221225472 bytes",
        ),
        (
            "registry",
            vec!["promote".into(), "2.0.1".into(), "--to".into(), "staging".into()],
            &[4],
            "2.0.1",
        ),
        (
            "registry",
            vec![
                "get".into(),
                "2.0.0".into(),
                "--out".into(),
                out_dir.join("a").display().to_string(),
            ],
            &[4],
            "3221225472 bytes",
        ),
        // The sizes agree, so the bytes must be read to be checked: in
        // bounded memory that is a clear refusal (5) until `get` streams.
        (
            "registry",
            vec![
                "get".into(),
                "2.0.1".into(),
                "--out".into(),
                out_dir.join("b").display().to_string(),
            ],
            &[4, 5],
            "2.0.1",
        ),
    ];
    for (tool, args, codes, says) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (out, took) = run_bounded(tool, &reg, &args, MEMORY);
        let err = stderr(&out);
        assert!(
            out.status.code().is_some_and(|c| codes.contains(&c)),
            "{tool} {args:?}: {:?}\n{err}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout)
        );
        let text = format!("{err}{}", String::from_utf8_lossy(&out.stdout));
        assert!(text.contains(says), "{tool} {args:?}: {text}");
        // The abort's own words: "memory allocation of N bytes failed".
        assert!(
            !text.contains("memory allocation of") && !text.contains("panicked"),
            "{text}"
        );
        assert!(took < Duration::from_secs(60), "{tool} {args:?} took {took:?}");
    }
    // Nothing was written where the refused `get`s pointed, and no alias moved.
    assert!(!out_dir.join("a").exists() && !out_dir.join("b").exists());
    let staging = Registry::open(&reg).unwrap().resolve(&"staging".parse().unwrap());
    assert!(staging.is_err(), "{staging:?}");
}
