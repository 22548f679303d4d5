//! How a command ends: a [`Failure`] is a message for a person and an
//! [`Exit`] code for a script; see the crate docs for the table.

use registry_core::{ErrorKind, RegistryError};
use registry_open::OpenError;
use std::process::ExitCode;

/// The exit code of a failed command; see the crate docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    Refused = 1,
    Usage = 2,
    NotFound = 3,
    Integrity = 4,
    Io = 5,
    Deleted = 6,
}

impl Exit {
    /// The stable name of the code, for scripts reading `--json` errors.
    pub fn name(self) -> &'static str {
        match self {
            Exit::Refused => "refused",
            Exit::Usage => "usage",
            Exit::NotFound => "not_found",
            Exit::Integrity => "integrity",
            Exit::Io => "io",
            Exit::Deleted => "deleted",
        }
    }
}

/// Why a command failed: what to print, and how to exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
    /// The reader of our output went away: nothing to report.
    output_closed: bool,
}

impl Failure {
    pub fn new(exit: Exit, message: impl Into<String>) -> Failure {
        Failure {
            exit,
            message: message.into(),
            output_closed: false,
        }
    }

    /// A failure to write the command's answer. A closed pipe is not an
    /// error of ours (`registry list | head -1`): the command stops and the
    /// process exits quietly with 0, as ripgrep does.
    pub fn writing(error: std::io::Error) -> Failure {
        Failure {
            output_closed: error.kind() == std::io::ErrorKind::BrokenPipe,
            ..Failure::new(Exit::Io, format!("cannot write the output: {error}"))
        }
    }

    pub fn usage(message: impl Into<String>) -> Failure {
        Failure::new(Exit::Usage, message)
    }
}

/// The exit code of a registry error: its kind's (registry-core's one
/// table, [`registry_core::ErrorKind::exit_code`]).
pub fn exit_for(error: &RegistryError) -> Exit {
    Exit::of(error.kind())
}

impl Exit {
    /// The code of `kind`.
    pub fn of(kind: ErrorKind) -> Exit {
        match kind.exit_code() {
            1 => Exit::Refused,
            2 => Exit::Usage,
            3 => Exit::NotFound,
            4 => Exit::Integrity,
            6 => Exit::Deleted,
            _ => Exit::Io,
        }
    }
}

impl From<RegistryError> for Failure {
    fn from(e: RegistryError) -> Self {
        Failure::new(exit_for(&e), e.to_string())
    }
}

impl From<OpenError> for Failure {
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::Registry(e) => e.into(),
            other => Failure::new(Exit::of(other.kind()), other.to_string()),
        }
    }
}

/// `text` safe to print on a terminal: every control character (escape
/// sequences start with one) and every bidirectional-override character
/// (which can make text read differently from what it is) becomes a visible
/// `\u{..}` escape; newlines are kept when `keep_newlines`. For text from
/// the registry or the user (descriptions, tags, user names, error details):
/// a shared registry's content is written by anyone with access.
pub fn printable(text: &str, keep_newlines: bool) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && !(keep_newlines && c == '\n'))
            || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
    };
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Writes `text` to standard output, all at once.
pub fn emit(text: &str) -> Result<(), Failure> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(Failure::writing)
}

/// Ends the process for `outcome`: exit 0, or the message on stderr and
/// the failure's code. A closed standard output ([`Failure::writing`])
/// exits quietly with 0.
pub fn finish(outcome: Result<(), Failure>) -> ExitCode {
    finish_as(outcome, false)
}

/// [`finish`] as a number, for a command run inside another program (the
/// Python package's `serve`, which exits with it).
pub fn report(outcome: Result<(), Failure>) -> u8 {
    match outcome {
        Ok(()) => 0,
        Err(failure) if failure.output_closed => 0,
        Err(failure) => {
            eprintln!("error: {}", printable(&failure.message, true));
            failure.exit as u8
        }
    }
}

/// [`finish`] for a command run with `--json`: the error is one JSON
/// object on stderr, `{"error": {"code": "not_found", "exit": 3,
/// "message": "..."}}`, so a script reads it the way it reads the output.
pub fn finish_as(outcome: Result<(), Failure>, json: bool) -> ExitCode {
    match outcome {
        Err(failure) if json && !failure.output_closed => {
            let doc = serde_json::json!({"error": {
                "code": failure.exit.name(), "exit": failure.exit as u8, "message": failure.message,
            }});
            eprintln!("{doc}");
            ExitCode::from(failure.exit as u8)
        }
        outcome => ExitCode::from(report(outcome)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use registry_core::store::StoreError;

    #[test]
    fn control_and_bidi_characters_are_escaped() {
        assert_eq!(printable("plain text, ünïcode ☃", false), "plain text, ünïcode ☃");
        assert_eq!(
            printable("red \u{1b}[31mALERT\u{1b}[0m", false),
            "red \\u{1b}[31mALERT\\u{1b}[0m"
        );
        assert_eq!(printable("a\nb\tc\u{7f}\u{9b}", false), "a\\u{a}b\\u{9}c\\u{7f}\\u{9b}");
        assert_eq!(printable("a\nb", true), "a\nb");
        assert_eq!(printable("abc\u{202E}fed", true), "abc\\u{202e}fed");
    }

    #[test]
    fn each_kind_of_registry_error_has_its_code() {
        let not_found = RegistryError::Empty { root: "r".into() };
        assert_eq!(Failure::from(not_found).exit, Exit::NotFound);
        let conflict = RegistryError::AliasConflict {
            alias: "production".into(),
            expected: None,
            actual: Some("1.0.0".into()),
        };
        assert_eq!(Failure::from(conflict).exit, Exit::Refused);
        let damaged = RegistryError::IntegrityMismatch {
            location: "x".into(),
            what: "sha256",
            expected: "a".into(),
            actual: "b".into(),
        };
        assert_eq!(Failure::from(damaged).exit, Exit::Integrity);
        let bad = "no good".parse::<registry_core::ModelVersion>().unwrap_err();
        assert_eq!(Failure::from(bad).exit, Exit::Usage);
        let disk = RegistryError::Store(StoreError::Io {
            location: "x".into(),
            source: std::io::Error::other("full"),
        });
        assert_eq!(Failure::from(disk).exit, Exit::Io);
        let nested = RegistryError::LatestNotMoved {
            version: "1.0.0".into(),
            source: Box::new(RegistryError::Store(StoreError::Io {
                location: "x".into(),
                source: std::io::Error::other("full"),
            })),
        };
        assert_eq!(Failure::from(nested).exit, Exit::Io);
    }
}
