//! Progress of large transfers (a file written into a version, read out of
//! one, or filled into the cache), reported to whatever the process
//! installed: a terminal bar in the binaries, nothing in a library user
//! that installed nothing. Process-wide, like a logger, because it is how
//! the process talks to its user, not a property of any one registry.

use std::sync::OnceLock;

/// Receives the transfers of the process (see [`set_reporter`]).
pub trait Progress: Send + Sync {
    /// A transfer of `total` bytes begins; `what` names it ("add
    /// model.bin", "get model.bin", "cache model.bin"). The returned
    /// handle sees every block; dropping it ends the transfer, whether or
    /// not it completed (an error is reported by the caller, not here).
    fn begin(&self, what: &str, total: u64) -> Box<dyn Transfer>;
}

/// One transfer in flight.
pub trait Transfer: Send {
    /// `bytes` more have been moved.
    fn advance(&mut self, bytes: u64);
}

static REPORTER: OnceLock<Box<dyn Progress>> = OnceLock::new();

/// Installs the process's reporter; `false` if one was installed already
/// (the first stays).
pub fn set_reporter(reporter: Box<dyn Progress>) -> bool {
    REPORTER.set(reporter).is_ok()
}

/// A transfer of `total` bytes, reported if a reporter is installed.
pub(crate) fn begin(what: impl FnOnce() -> String, total: u64) -> Option<Box<dyn Transfer>> {
    REPORTER.get().map(|r| r.begin(&what(), total))
}
