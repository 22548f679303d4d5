//! What every modelreg binary (`trainer`, `predictor`, `registry`,
//! `model-server`) shares on its command line, so the options, value
//! grammars and exit codes are the same in each and no library needs clap:
//!
//! * [`RegistryArgs`] (`--registry`, `--s3-endpoint`, `--model`,
//!   `--trusted-key`) and [`SignArgs`] (`--sign-key`), to
//!   `#[command(flatten)]` into a parser; [`BumpArg`], a typed `--bump`;
//! * the value parsers ([`parse`]): one duration grammar, sizes, `KEY=VALUE`,
//!   finite numbers;
//! * how a command ends ([`Failure`], [`finish`]).
//!
//! A command fails with a [`Failure`]: a message for a person and an
//! [`Exit`] code for a script. The codes mean the same in every binary
//! (and are listed in the README); they come from the kind of the error
//! (registry-core's `ErrorKind`, the one table that also gives the Python
//! classes and HTTP statuses), so a CI job can tell "the gate said no" from
//! "the registry is damaged":
//!
//! | code | [`Exit`] | meaning |
//! |---:|---|---|
//! | 0 | | success |
//! | 1 | `Refused` | the registry's rules said no: the version exists, the alias was moved by someone else, the promotion gate refused, nothing to roll back |
//! | 2 | `Usage` | bad arguments or input: an invalid version, alias or location, unreadable or malformed data, a model of another type than the program runs (clap's own usage errors are 2 too) |
//! | 3 | `NotFound` | no such version or alias, or no versions yet |
//! | 4 | `Integrity` | damage: a digest mismatch, invalid metadata, a model that does not decode, `verify` found problems |
//! | 5 | `Io` | storage could not be read or written: permissions, a full disk, the network |
//! | 6 | `Deleted` | the version was deleted; `registry undelete` restores it |
//!
//! ```
//! use clap::Parser;
//! use cli_support::{Exit, Failure, RegistryArgs};
//!
//! #[derive(Parser)]
//! struct Args {
//!     #[command(flatten)]
//!     registry: RegistryArgs,
//!     #[arg(long, value_parser = cli_support::parse::duration)]
//!     poll: std::time::Duration,
//! }
//! let args = Args::try_parse_from(["tool", "--registry", "/tmp/r", "--poll", "1.5s"]).unwrap();
//! assert_eq!(args.registry.registry, "/tmp/r");
//! assert_eq!(args.poll, std::time::Duration::from_millis(1500));
//!
//! let f = Failure::new(Exit::NotFound, "version 9.9.9 not found");
//! assert_eq!(f.exit as u8, 3);
//! ```

mod args;
mod exit;
/// Bytes as megabytes (decimal, one decimal place), as every tool prints them.
pub fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

pub mod parse;
pub mod progress;

pub use args::{BumpArg, RegistryArgs, SignArgs};
pub use exit::{Exit, Failure, emit, exit_for, finish, finish_as, printable, report};
