//! The hooks of a local registry: the executables in its `hooks/`
//! directory (registry-core's hooks.rs says when each runs).
//!
//! A hook runs only if the file is owned by the user running the command
//! (or by root) and writable by no one else: in a shared registry any
//! member can write the directory, and a hook planted by one member must
//! not run as another (git's `safe.directory`, CVE-2022-24765). What runs
//! is exactly the file checked: it is opened, checked through the open
//! descriptor, and copied into a private temporary file that is executed,
//! so it cannot be swapped between the check and the run. A refused hook
//! is reported (a refused `pre-*` hook refuses the change), never skipped.
//!
//! The hook gets the event as JSON on stdin and in `MODELREG_HOOK_*`
//! variables, runs in the registry's directory, and is killed after the
//! timeout (`MODELREG_HOOK_TIMEOUT`, seconds, default 30).

use registry_core::hooks::{HookName, HookRun, Hooks};
use serde_json::Value;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The timeout unless `MODELREG_HOOK_TIMEOUT` says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest hook file run: a script or a small program.
const MAX_HOOK_BYTES: u64 = 16 << 20;
/// What is kept of a hook's output (stdout and stderr each).
const MAX_OUTPUT: u64 = 64 * 1024;

/// Runs the hooks in `<root>/hooks/`.
#[derive(Debug, Clone)]
pub struct LocalHooks {
    root: PathBuf,
    timeout: Duration,
}

impl LocalHooks {
    /// The hooks of the registry at `root`, with the timeout from the
    /// environment (an unreadable value is an error, not the default).
    pub fn new(root: PathBuf) -> Result<LocalHooks, String> {
        let timeout = match std::env::var("MODELREG_HOOK_TIMEOUT") {
            Err(_) => DEFAULT_TIMEOUT,
            Ok(text) => text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0 && *s < 86_400.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| {
                    format!("MODELREG_HOOK_TIMEOUT={text:?}: give the hook timeout in seconds, e.g. 30 or 0.5")
                })?,
        };
        Ok(LocalHooks { root, timeout })
    }

    /// The hook's bytes, if it exists and may run; `Err`: it exists and
    /// must not run (why).
    fn checked(&self, hook: HookName) -> Result<Option<Vec<u8>>, String> {
        let path = self.root.join("hooks").join(hook.as_str());
        let link = match std::fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        if link.file_type().is_symlink() {
            return Err(format!(
                "{} is a symbolic link; a hook must be a regular file (copy it in place)",
                path.display()
            ));
        }
        let mut file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        // The open file is what is checked and what runs.
        let meta = file.metadata().map_err(|e| format!("{}: {e}", path.display()))?;
        if !meta.is_file() {
            return Err(format!("{} is not a regular file", path.display()));
        }
        // Not executable: disabled, as git treats it.
        if meta.permissions().mode() & 0o100 == 0 {
            return Ok(None);
        }
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me && meta.uid() != 0 {
            return Err(format!(
                "{} is owned by uid {}, not by you (uid {me}) or root: a hook another user can plant does not run as you (`chown` it, or ask its owner)",
                path.display(),
                meta.uid()
            ));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(format!(
                "{} is writable by its group or others (mode {:o}): anyone who can change it could run code as you (`chmod go-w` it)",
                path.display(),
                meta.mode() & 0o7777
            ));
        }
        if meta.len() > MAX_HOOK_BYTES {
            return Err(format!(
                "{} holds {} bytes, more than a hook may ({MAX_HOOK_BYTES})",
                path.display(),
                meta.len()
            ));
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        Read::by_ref(&mut file)
            .take(MAX_HOOK_BYTES)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Some(bytes))
    }

    fn execute(&self, hook: HookName, bytes: &[u8], event: &Value) -> HookRun {
        let failed = |reason: String| HookRun::Failed {
            reason,
            output: String::new(),
        };
        // A private copy (0700 directory of ours) is what runs.
        let dir = match tempfile::Builder::new().prefix("modelreg-hook-").tempdir() {
            Ok(d) => d,
            Err(e) => return failed(format!("cannot make a private copy of the hook: {e}")),
        };
        let copy = dir.path().join(hook.as_str());
        let written = std::fs::write(&copy, bytes)
            .and_then(|()| std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o700)));
        if let Err(e) = written {
            return failed(format!("cannot make a private copy of the hook: {e}"));
        }
        let text = |key: &str| event[key].as_str().unwrap_or_default().to_string();
        let mut child = match Command::new(&copy)
            .current_dir(&self.root)
            .env("MODELREG_HOOK", hook.as_str())
            .env("MODELREG_HOOK_ACTION", text("action"))
            .env("MODELREG_HOOK_MODEL", text("model"))
            .env("MODELREG_HOOK_VERSION", text("version"))
            .env("MODELREG_HOOK_ALIAS", text("alias"))
            .env("MODELREG_HOOK_PREVIOUS", text("previous"))
            .env("MODELREG_HOOK_REGISTRY", self.root.as_os_str())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                return failed(format!(
                    "it could not be started: {e} (does it start with #! and an interpreter that exists?)"
                ));
            }
        };
        // The event on stdin (a hook that does not read it is fine).
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(format!("{event}\n").as_bytes());
        }
        // Output is read on threads (a hook printing more than a pipe holds
        // must not block), each sending what it read when its pipe closes.
        let (sent, received) = std::sync::mpsc::channel();
        let mut pipes = 0;
        for pipe in [child.stdout.take().map(boxed), child.stderr.take().map(boxed)]
            .into_iter()
            .flatten()
        {
            pipes += 1;
            let sent = sent.clone();
            std::thread::spawn(move || {
                let mut out = Vec::new();
                let _ = pipe.take(MAX_OUTPUT).read_to_end(&mut out);
                let _ = sent.send(out);
            });
        }
        let group = child.id() as i32;
        // The whole process group: a hook's own children (`sleep` in a
        // shell script) die with it and let go of its pipes.
        let kill_group = || {
            // SAFETY: kill has no memory-safety preconditions; a negative
            // pid names the group the hook leads (process_group(0) below).
            unsafe { libc::kill(-group, libc::SIGKILL) };
        };
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() >= deadline => {
                    kill_group();
                    let _ = child.wait();
                    break None;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(_) => break None,
            }
        };
        let mut outputs = Vec::new();
        for _ in 0..pipes {
            // Something the hook left running may hold its pipes: not
            // waited for past the deadline (and a second more).
            let left = deadline.max(Instant::now() + Duration::from_secs(1)) - Instant::now();
            match received.recv_timeout(left) {
                Ok(out) => outputs.push(out),
                Err(_) => {
                    kill_group();
                    break;
                }
            }
        }
        let output: String = outputs
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect();
        match status {
            Some(s) if s.success() => {
                if hook.is_pre() && !output.trim().is_empty() {
                    eprint!("{output}");
                }
                HookRun::Passed
            }
            Some(s) => HookRun::Failed {
                reason: format!("it exited with {s}"),
                output,
            },
            None => HookRun::Failed {
                reason: format!(
                    "it did not finish within {:.1} s and was killed (MODELREG_HOOK_TIMEOUT sets the limit)",
                    self.timeout.as_secs_f64()
                ),
                output,
            },
        }
    }
}

fn boxed(r: impl Read + Send + 'static) -> Box<dyn Read + Send> {
    Box::new(r)
}

impl Hooks for LocalHooks {
    fn run(&self, hook: HookName, event: &Value) -> HookRun {
        let outcome = match self.checked(hook) {
            Ok(None) => return HookRun::Absent,
            Ok(Some(bytes)) => self.execute(hook, &bytes, event),
            Err(refusal) => HookRun::Failed {
                reason: format!("refused to run it: {refusal}"),
                output: String::new(),
            },
        };
        // A post hook's failure undoes nothing, but is never silent.
        if let HookRun::Failed { reason, output } = &outcome
            && !hook.is_pre()
        {
            eprintln!(
                "warning: the {} hook failed: {reason}; the change stands{}",
                hook.as_str(),
                if output.trim().is_empty() {
                    String::new()
                } else {
                    format!("; it said:\n{}", output.trim_end())
                }
            );
        }
        outcome
    }
}
