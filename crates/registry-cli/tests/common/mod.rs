//! Finding the binaries the CLI tests run.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The path of `registry`, `trainer` or `predictor`, building the other
/// crates' binaries if `cargo test -p registry-cli` ran without them.
pub fn bin(name: &str) -> PathBuf {
    let registry = PathBuf::from(env!("CARGO_BIN_EXE_registry"));
    if name == "registry" {
        return registry;
    }
    let dir = registry.parent().expect("target dir").to_path_buf();
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        // The build the README's `cargo test --workspace --all-features`
        // makes, so under it this is a no-op: a narrower `cargo build -p`
        // resolves features differently and would compile the dependencies a
        // second time (CI's time limit saw that).
        cmd.current_dir(workspace())
            .args(["test", "--workspace", "--all-features", "--no-run", "-q"]);
        if dir.ends_with("release") {
            cmd.arg("--release");
        }
        assert!(
            cmd.status().expect("run cargo build").success(),
            "building trainer and predictor failed"
        );
    });
    dir.join(name)
}

/// A binary on `registry` (a directory or an s3:// URL) from the workspace
/// root, as user `tester`, with no standard input.
pub fn command(name: &str, registry: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(bin(name));
    cmd.env("MODELREG_DIR", registry)
        .env("MODELREG_USER", "tester")
        .current_dir(workspace())
        .stdin(std::process::Stdio::null());
    cmd
}

/// Runs a binary on `registry` (see [`command`]).
pub fn run(name: &str, registry: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Output {
    command(name, registry).args(args).output().expect("run binary")
}

/// The standard output of a command that must have succeeded.
pub fn succeeded(what: &str, out: Output) -> String {
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Runs a command that must succeed; its standard output.
pub fn ok(name: &str, registry: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> String {
    succeeded(&format!("{name} {args:?}"), run(name, registry, args))
}

/// A version from a literal the test knows is valid.
pub fn v(s: &str) -> registry_core::ModelVersion {
    s.parse().unwrap()
}

/// Runs a command that must fail with exit `code` (1 refused, 2 bad input,
/// 3 not found, 4 damage, 5 storage: the README's table).
pub fn fails(name: &str, registry: &Path, args: &[&str], code: i32) -> String {
    let out = run(name, registry, args);
    assert!(!out.status.success(), "{name} {args:?} should fail");
    assert_eq!(out.status.code(), Some(code), "{name} {args:?}");
    let err = String::from_utf8(out.stderr).expect("utf-8");
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// Replaces the registry path and timestamps, for snapshots.
pub fn redact(s: &str, registry: &Path) -> String {
    let re_ts = |line: &str| {
        line.split(' ')
            .map(|w| {
                if w.len() >= 20 && w.as_bytes().get(4) == Some(&b'-') && w.contains('T') {
                    "[timestamp]".to_string()
                } else {
                    w.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    s.replace(&registry.display().to_string(), "[registry]")
        .lines()
        .map(re_ts)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The child gets at most `bytes` of address space (RLIMIT_AS): an
/// allocation past it fails instead of growing the machine's memory.
pub fn limit_address_space(cmd: &mut Command, bytes: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit is async-signal-safe and touches only the child.
    unsafe {
        cmd.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            libc::setrlimit(libc::RLIMIT_AS, &limit);
            Ok(())
        });
    }
}

/// Runs `cmd` with its standard output read as it comes: (status, the
/// bytes it printed, its peak resident set in MB). The peak is the
/// child's own `VmHWM`, sampled while it runs: wait4's `ru_maxrss` would
/// count this test process too (Linux carries the pre-exec memory of a
/// vforked child into it).
pub fn run_measured(mut cmd: Command) -> (i32, Vec<u8>, f64) {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let sampler = std::thread::spawn(move || {
        let mut peak_kb = 0u64;
        // Until the child is a zombie (no VmHWM) or gone.
        while let Some(kb) = std::fs::read_to_string(&status_path).ok().and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        }) {
            peak_kb = peak_kb.max(kb);
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        peak_kb
    });
    let mut printed = Vec::new();
    std::io::Read::read_to_end(&mut child.stdout.take().unwrap(), &mut printed).unwrap();
    let status = child.wait().unwrap();
    let peak_kb = sampler.join().unwrap();
    (status.code().unwrap_or(-1), printed, peak_kb as f64 / 1024.0)
}
