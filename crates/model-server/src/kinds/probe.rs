//! Running a computation on untrusted input (tract's load and optimisation
//! of an ONNX graph) in a forked child first, under an address-space limit
//! and a deadline: a graph crafted to need terabytes, or to never finish,
//! kills the child, and the server answers "refused" instead of aborting
//! or hanging. Allocation failure aborts a Rust process, so a child is the
//! one place such a bound can hold.

use std::io::Read;
use std::os::fd::FromRawFd;
use std::time::{Duration, Instant};

/// Address space the child may add to what it inherits.
pub const PROBE_MEMORY: u64 = 2 << 30;
/// How long the child may take.
pub const PROBE_DEADLINE: Duration = Duration::from_secs(20);
/// The most of the child's error message read back.
const MESSAGE_BYTES: usize = 4096;

/// The address space this process maps now, from /proc/self/statm.
fn mapped_bytes() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages.saturating_mul(u64::try_from(page).unwrap_or(4096))
}

/// Runs `f` in a forked child bounded by [`PROBE_MEMORY`] and
/// [`PROBE_DEADLINE`]: its error, or why the child did not finish.
pub fn bounded(f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array of two ints.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(format!(
            "cannot probe the model: pipe: {}",
            std::io::Error::last_os_error()
        ));
    }
    let (read_fd, write_fd) = (fds[0], fds[1]);
    // SAFETY: the child runs only `f` and then _exit; glibc's allocator is
    // safe to use after fork in the forking thread, the only one the child has.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        // SAFETY: closing the pipe's own descriptors.
        unsafe {
            libc::close(read_fd);
            libc::close(write_fd);
        }
        return Err(format!(
            "cannot probe the model: fork: {}",
            std::io::Error::last_os_error()
        ));
    }
    if pid == 0 {
        // The child.
        let limit = mapped_bytes().saturating_add(PROBE_MEMORY);
        let rlimit = libc::rlimit {
            rlim_cur: limit,
            rlim_max: limit,
        };
        // SAFETY: plain system calls on this process.
        unsafe {
            libc::close(read_fd);
            libc::setrlimit(libc::RLIMIT_AS, &rlimit);
        }
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let (code, message) = match outcome {
            Ok(Ok(())) => (0, String::new()),
            Ok(Err(m)) => (1, m),
            Err(_) => (1, "it stopped with a panic".into()),
        };
        let bytes = message.as_bytes();
        let bytes = &bytes[..bytes.len().min(MESSAGE_BYTES)];
        // SAFETY: writing a valid buffer, then leaving without running
        // anything the parent owns (no destructors, no atexit).
        unsafe {
            libc::write(write_fd, bytes.as_ptr().cast(), bytes.len());
            libc::_exit(code);
        }
    }
    // SAFETY: the parent keeps only the read end, which it owns from here.
    unsafe { libc::close(write_fd) };
    let mut reader = unsafe { std::fs::File::from_raw_fd(read_fd) };
    let started = Instant::now();
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child.
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if done == pid {
            break;
        }
        if done < 0 {
            return Err(format!(
                "cannot probe the model: waitpid: {}",
                std::io::Error::last_os_error()
            ));
        }
        if started.elapsed() > PROBE_DEADLINE {
            // SAFETY: killing and reaping our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return Err(format!(
                "loading it took longer than {} s (stopped)",
                PROBE_DEADLINE.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let mut message = Vec::new();
    let _ = reader.by_ref().take(MESSAGE_BYTES as u64).read_to_end(&mut message);
    if libc::WIFEXITED(status) {
        match libc::WEXITSTATUS(status) {
            0 => Ok(()),
            _ => Err(String::from_utf8_lossy(&message).into_owned()),
        }
    } else {
        Err(format!(
            "loading it needed more than {} MiB of memory, or crashed (signal {}); nothing of it was kept",
            PROBE_MEMORY >> 20,
            libc::WTERMSIG(status)
        ))
    }
}
