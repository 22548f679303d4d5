//! Large files through the binaries: `add` and `get` say how far they are
//! (bytes, rate, ETA) on stderr; a disk that fills up during either is
//! named in the error and leaves nothing partial where anyone looks; and
//! either killed mid-transfer leaves a registry that verifies and no output
//! file. The disk-full test mounts a small tmpfs, which needs root (CI runs
//! as root); elsewhere it says why it skipped.

mod common;

use common::{command, ok, succeeded};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use test_support::disk::{Tmpfs, tree};

const MIB: usize = 1 << 20;

/// `mib` MiB of varied bytes, written for real (a sparse file would test
/// nothing about a disk filling up).
fn big_file(path: &Path, mib: usize) {
    let mut file = std::fs::File::create(path).unwrap();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut block = vec![0u8; MIB];
    for _ in 0..mib {
        for chunk in block.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        file.write_all(&block).unwrap();
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A command whose progress lines come at every block.
fn chatty(registry: &Path, args: &[&str]) -> Command {
    let mut cmd = command("registry", registry);
    cmd.args(args).env("MODELREG_PROGRESS_EVERY", "0");
    cmd
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// How many versions `registry list` shows for the model `big`.
fn versions(registry: &Path) -> usize {
    let list = ok("registry", registry, &["list", "--model", "big"]);
    list.lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
        .count()
}

fn verifies(registry: &Path) {
    let report = ok("registry", registry, &["verify", "--model", "big"]);
    assert!(report.contains(": 0 problems"), "{report}");
}

#[test]
fn a_large_add_and_get_report_bytes_rate_and_eta_and_small_ones_stay_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("registry");
    let file = dir.path().join("weights.bin");
    big_file(&file, 80);

    let out = chatty(&reg, &["add", file.to_str().unwrap(), "--model", "big"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("write weights.bin: ")).collect();
    assert!(lines.len() > 2, "no progress lines for an 80 MiB add:\n{err}");
    let first = lines[0];
    assert!(
        first.contains(" MB of 83.9 MB (") && first.contains(" MB/s, ETA ") && first.ends_with(" s"),
        "{first}"
    );
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with("write weights.bin: done, 83.9 MB in "),
        "{err}"
    );

    let got = dir.path().join("got.bin");
    let out = chatty(&reg, &["get", "models:/big/1.0.0", "--out", got.to_str().unwrap()])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("read weights.bin: ") && l.contains(" MB/s, ETA ")),
        "no progress lines for an 80 MiB get:\n{err}"
    );
    assert_eq!(std::fs::read(&got).unwrap(), std::fs::read(&file).unwrap());

    // Turned off, and below the size worth reporting: nothing.
    let again = dir.path().join("again.bin");
    let mut quiet = chatty(&reg, &["get", "models:/big/1.0.0", "--out", again.to_str().unwrap()]);
    let out = quiet.env("MODELREG_PROGRESS", "0").output().unwrap();
    assert!(
        out.status.success() && !stderr(&out).contains("MB/s"),
        "{}",
        stderr(&out)
    );
    let small = dir.path().join("small.bin");
    big_file(&small, 1);
    let out = chatty(&reg, &["add", small.to_str().unwrap(), "--model", "small"])
        .output()
        .unwrap();
    assert!(
        out.status.success() && !stderr(&out).contains("MB/s"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_disk_filling_up_during_a_large_add_or_get_is_named_and_leaves_nothing() {
    let Some(fs) = Tmpfs::mount("40m") else {
        eprintln!("skipped: mounting a tmpfs needs root (CI runs this test as root)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("weights.bin");
    big_file(&file, 64);

    // add: the registry is on the small disk. A first small version, so the
    // registry exists and there is something to leave unchanged.
    let reg = fs.0.join("registry");
    let small = dir.path().join("small.bin");
    big_file(&small, 1);
    ok("registry", &reg, &["add", small.to_str().unwrap(), "--model", "big"]);
    let before = tree(&reg);
    let out = command("registry", &reg)
        .args(["add", file.to_str().unwrap(), "--model", "big"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "a storage failure:\n{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.contains("weights.bin"), "the file is named:\n{err}");
    assert_eq!(tree(&reg), before, "nothing of the failed add is left in the registry");
    verifies(&reg);
    assert_eq!(versions(&reg), 1);

    // get: the registry is on a big disk, the output on the small one.
    let big_reg = dir.path().join("registry");
    ok("registry", &big_reg, &["add", file.to_str().unwrap(), "--model", "big"]);
    let target = fs.0.join("out").join("weights.bin");
    std::fs::create_dir(target.parent().unwrap()).unwrap();
    let out = command("registry", &big_reg)
        .args(["get", "models:/big/1.0.0", "--out", target.to_str().unwrap()])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "a storage failure:\n{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(
        err.contains(&target.display().to_string()),
        "the output is named:\n{err}"
    );
    assert!(names(target.parent().unwrap()).is_empty(), "nothing partial is left");
}

/// Starts `cmd` and kills it (SIGKILL) once it has said it is part-way
/// through a transfer whose lines start with `prefix`; `false` if it
/// finished first.
fn kill_mid_transfer(mut cmd: Command, prefix: &str) -> bool {
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let lines = BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    for line in lines.lines().map_while(Result::ok) {
        if line.starts_with(prefix) && line.contains(" MB/s") {
            child.kill().unwrap();
            child.wait().unwrap();
            return true;
        }
        said.push_str(&line);
        said.push('\n');
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}:\n{said}");
    false
}

#[test]
fn a_large_add_or_get_killed_mid_transfer_leaves_a_registry_that_verifies_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("registry");
    let file = dir.path().join("weights.bin");
    big_file(&file, 200);
    let small = dir.path().join("small.bin");
    big_file(&small, 1);
    ok("registry", &reg, &["add", small.to_str().unwrap(), "--model", "big"]);

    for _ in 0..3 {
        let killed = kill_mid_transfer(
            chatty(&reg, &["add", file.to_str().unwrap(), "--model", "big"]),
            "write weights.bin: ",
        );
        assert!(killed, "the add finished before it could be killed");
        verifies(&reg);
        assert_eq!(versions(&reg), 1, "no half version is listed");
    }
    // Whatever the killed adds left goes with repair, and the next add works.
    let repaired = ok(
        "registry",
        &reg,
        &["verify", "--model", "big", "--repair", "--older-than", "0s"],
    );
    assert!(repaired.contains(": 0 problems"), "{repaired}");
    let report = ok("registry", &reg, &["verify", "--model", "big"]);
    assert!(report.contains(": 0 problems, 0 leftovers"), "{report}");
    succeeded(
        "add",
        command("registry", &reg)
            .args(["add", file.to_str().unwrap(), "--model", "big"])
            .output()
            .unwrap(),
    );
    verifies(&reg);

    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let target = out_dir.join("weights.bin");
    for _ in 0..3 {
        let killed = kill_mid_transfer(
            chatty(
                &reg,
                &["get", "latest", "--model", "big", "--out", target.to_str().unwrap()],
            ),
            "read weights.bin: ",
        );
        assert!(killed, "the get finished before it could be killed");
        assert!(
            names(&out_dir).is_empty(),
            "a killed get leaves nothing: {:?}",
            names(&out_dir)
        );
    }
    ok(
        "registry",
        &reg,
        &["get", "latest", "--model", "big", "--out", target.to_str().unwrap()],
    );
    assert_eq!(std::fs::read(&target).unwrap(), std::fs::read(&file).unwrap());
    verifies(&reg);
}

#[test]
fn get_to_standard_output_checks_a_large_file_without_holding_it_and_prints_nothing_if_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("registry");
    let file = dir.path().join("weights.bin");
    big_file(&file, 160);
    ok("registry", &reg, &["add", file.to_str().unwrap(), "--model", "big"]);

    let mut cmd = command("registry", &reg);
    cmd.args(["get", "models:/big/1.0.0", "--out", "-"])
        .env("TMPDIR", dir.path());
    let (code, printed, peak_mb) = common::run_measured(cmd);
    assert_eq!(code, 0);
    assert!(printed == std::fs::read(&file).unwrap(), "the printed bytes differ");
    // A whole-file read (or a mapping of it) would be 160 MB and more.
    assert!(peak_mb < 64.0, "get --out - of 160 MiB peaked at {peak_mb:.0} MB");
    assert_eq!(
        names(dir.path()),
        ["registry", "weights.bin"],
        "the spool was left behind"
    );

    // One byte changed in the stored file: nothing printed, exit 4.
    let stored = reg.join("models/big/versions/1.0.0/weights.bin");
    let mut bytes = std::fs::read(&stored).unwrap();
    bytes[100 * MIB] ^= 1;
    std::fs::write(&stored, &bytes).unwrap();
    drop(bytes);
    let mut cmd = command("registry", &reg);
    cmd.args(["get", "models:/big/1.0.0", "--out", "-"])
        .env("TMPDIR", dir.path());
    let (code, printed, _) = common::run_measured(cmd);
    assert_eq!(code, 4);
    assert!(printed.is_empty(), "{} bytes of a damaged file printed", printed.len());
}
