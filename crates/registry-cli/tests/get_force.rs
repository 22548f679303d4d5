//! `registry get --out PATH --force` replaces only what it may: a regular
//! file, or a directory a previous `get` wrote. A device node, a FIFO, a
//! symbolic link or a directory of other files is refused by name and left
//! exactly as it was (as root, `--out /dev/null --force` once replaced the
//! machine's /dev/null with model bytes).

mod common;

use common::{ok, run};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

fn registry_with_two_versions(dir: &Path) -> std::path::PathBuf {
    let reg = dir.join("registry");
    let file = dir.join("model.onnx");
    std::fs::write(&file, b"onnx bytes").unwrap();
    ok("registry", &reg, &["add", file.to_str().unwrap(), "--type", "onnx"]);
    let tree = dir.join("tree");
    std::fs::create_dir_all(tree.join("tokenizer")).unwrap();
    std::fs::write(tree.join("config.json"), b"{}").unwrap();
    std::fs::write(tree.join("tokenizer/vocab.txt"), b"a\nb\n").unwrap();
    ok("registry", &reg, &["add", tree.to_str().unwrap(), "--type", "onnx"]);
    reg
}

fn refused(reg: &Path, args: &[&str], says: &str) {
    let out = run("registry", reg, args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    assert!(err.contains(says) && err.contains("nothing was"), "{args:?}: {err}");
}

#[test]
fn force_replaces_only_a_regular_file_or_a_previous_get() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry_with_two_versions(dir.path());
    let out = |name: &str| dir.path().join(name).display().to_string();

    // A regular file is replaced.
    std::fs::write(out("file"), b"old").unwrap();
    ok("registry", &reg, &["get", "1.0.0", "--out", &out("file"), "--force"]);
    assert_eq!(std::fs::read(out("file")).unwrap(), b"onnx bytes");

    // A FIFO is refused and stays a FIFO.
    let fifo = std::ffi::CString::new(out("fifo")).unwrap();
    // SAFETY: a valid path; creates a FIFO.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    refused(
        &reg,
        &["get", "1.0.0", "--out", &out("fifo"), "--force"],
        "it is a FIFO",
    );
    assert!(std::fs::symlink_metadata(out("fifo")).unwrap().file_type().is_fifo());

    // A symbolic link is refused; it and what it points to are untouched.
    std::fs::write(out("target"), b"precious").unwrap();
    std::os::unix::fs::symlink(out("target"), out("link")).unwrap();
    refused(
        &reg,
        &["get", "1.0.0", "--out", &out("link"), "--force"],
        "symbolic link",
    );
    assert!(std::fs::symlink_metadata(out("link")).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read(out("target")).unwrap(), b"precious");

    // A character device (like /dev/null) is refused and stays one: root only.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let dev = std::ffi::CString::new(out("null")).unwrap();
        // SAFETY: a valid path; makes a node for /dev/null's device.
        assert_eq!(
            unsafe { libc::mknod(dev.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) },
            0
        );
        refused(
            &reg,
            &["get", "1.0.0", "--out", &out("null"), "--force"],
            "a character device",
        );
        assert!(
            std::fs::symlink_metadata(out("null"))
                .unwrap()
                .file_type()
                .is_char_device()
        );
    }

    // A one-file version into an existing directory: refused, not placed inside.
    std::fs::create_dir(out("somedir")).unwrap();
    refused(&reg, &["get", "1.0.0", "--out", &out("somedir")], "is one file");
    assert_eq!(std::fs::read_dir(out("somedir")).unwrap().count(), 0);

    // A directory of someone else's files is not wiped by a directory version.
    std::fs::create_dir(out("home")).unwrap();
    std::fs::write(dir.path().join("home/thesis.tex"), b"years of work").unwrap();
    refused(
        &reg,
        &["get", "1.0.1", "--out", &out("home"), "--force"],
        "no `registry get` wrote",
    );
    assert_eq!(
        std::fs::read(dir.path().join("home/thesis.tex")).unwrap(),
        b"years of work"
    );

    // A directory a previous `get` wrote is replaced.
    ok("registry", &reg, &["get", "1.0.1", "--out", &out("copy")]);
    std::fs::write(dir.path().join("copy/config.json"), b"edited").unwrap();
    ok("registry", &reg, &["get", "1.0.1", "--out", &out("copy"), "--force"]);
    assert_eq!(std::fs::read(dir.path().join("copy/config.json")).unwrap(), b"{}");
    assert!(dir.path().join("copy/.modelreg-get.json").is_file());

    // No temporary leftovers beside the outputs.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("modelreg-get"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
