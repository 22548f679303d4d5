//! The command line: every subcommand and its options (clap derive).

use crate::{inspect, register};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(version, about = "Inspect and manage a modelreg model registry")]
pub struct Cli {
    #[command(flatten)]
    pub registry: cli_support::RegistryArgs,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Register a model file or directory (sklearn, ONNX, PyTorch, ...) as a new version.
    Add(Box<register::AddArgs>),
    /// Write a version's file(s) out, every digest checked first.
    Get {
        /// A version, an alias, or models:/NAME@ALIAS / models:/NAME/VERSION.
        target: String,
        /// Where to write: a file (single-file version), a new directory
        /// (several files), or - for stdout.
        #[arg(long)]
        out: PathBuf,
        /// Replace what is at --out: a regular file, or a directory a
        /// previous `registry get` wrote (anything else is refused).
        #[arg(long)]
        force: bool,
    },
    /// Every model in the registry: versions, latest, production.
    Models,
    /// Versions with their scores, data and aliases; filter with --where, --tag, --type, --since.
    List(inspect::ListArgs),
    /// Everything recorded about a version or an alias's version.
    Show {
        /// A version (1.0.2), an alias (production, latest), or models:/NAME@ALIAS.
        target: String,
        /// Print the model card as Markdown (for pull requests and READMEs).
        #[arg(long, conflicts_with = "json")]
        card: bool,
    },
    /// Write one self-contained HTML page: versions, score chart, alias history, model cards.
    Report {
        /// Where to write the page ("-": standard output).
        #[arg(long, default_value = "modelreg-report.html")]
        out: PathBuf,
    },
    /// Point an alias at a version (or at what another alias, e.g. latest, names).
    Promote {
        version: String,
        /// The alias to move, e.g. production.
        #[arg(long)]
        to: String,
        /// Only move if the alias now points to this version ("none": must not exist yet).
        #[arg(long)]
        expect: Option<String>,
        /// Refuse unless the version scores at least as well as the alias's
        /// current one, evaluated on the same data (fingerprint, split seed, test size).
        #[arg(long)]
        if_better: bool,
        /// The score --if-better compares: test_score (default), cv_score or
        /// a recorded metric, as NAME, NAME:max or NAME:min.
        #[arg(long, requires = "if_better")]
        metric: Option<String>,
        /// Promote a deprecated version; with --if-better, also one whose
        /// scores cannot be compared (different data, no score recorded).
        #[arg(long)]
        force: bool,
        /// Refuse unless the version is signed by a --trusted-key, and record that the alias requires signed versions from now on (for every tool).
        #[arg(long)]
        require_signature: bool,
    },
    /// Move an alias back to its previous target (again: one more step back).
    Rollback {
        alias: String,
        /// Move back to this earlier target instead.
        #[arg(long)]
        to: Option<String>,
    },
    /// Every move of an alias: when, from, to, who.
    History { alias: String },
    /// Manage aliases.
    Alias {
        #[command(subcommand)]
        command: AliasCommand,
    },
    /// Retire a version without deleting it: hidden from list, never latest, promoted only with --force.
    Deprecate {
        /// A version, an alias's version, or models:/NAME/VERSION.
        target: String,
        /// Why (shown by list --all, show and promote).
        #[arg(long, conflicts_with = "undo")]
        reason: Option<String>,
        /// Restore a deprecated version.
        #[arg(long)]
        undo: bool,
    },
    /// Delete a version: refused while an alias names it; recorded, then absent from list and latest, and every load says it was deleted. `undelete` restores it until gc.
    Delete {
        /// A version, or models:/NAME/VERSION.
        target: String,
        /// Why (shown by every load of it).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Restore a deleted version.
    Undelete {
        /// A version, or models:/NAME/VERSION.
        target: String,
    },
    /// Remove the files of versions deleted longer ago than --older-than, and what killed writers left; safe while others save, promote and serve.
    Gc {
        /// How long a deleted version stays restorable (`undelete`) before its files go: 0s, 90m, 7d.
        #[arg(long, default_value = "7d", value_parser = cli_support::parse::age)]
        older_than: std::time::Duration,
        /// Only say what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete the versions a retention policy does not keep: the newest --keep-last, those saved within --keep-within, and always any an alias names or named within the window. --save makes it the model's policy, which every gc applies.
    Retain {
        /// Keep the newest N versions (in version order).
        #[arg(long)]
        keep_last: Option<usize>,
        /// Keep versions saved within this long (and versions an alias named within it; 7d if not given): 30d, 12h.
        #[arg(long, value_parser = cli_support::parse::age)]
        keep_within: Option<std::time::Duration>,
        /// Only say what would be deleted, and why each version is kept.
        #[arg(long)]
        dry_run: bool,
        /// Also save the policy as the model's: every `registry gc` applies it.
        #[arg(long)]
        save: bool,
        /// Remove the model's saved policy (deletes nothing).
        #[arg(long, conflicts_with_all = ["keep_last", "keep_within", "dry_run", "save"])]
        clear: bool,
    },
    /// The registry's event log: every save, promotion, rollback, alias deletion, deprecation, deletion and gc of every model, in order.
    Events {
        /// Only events after this id.
        #[arg(long, default_value_t = 0)]
        since: u64,
        /// Keep printing new events as they are appended (with --json: one JSON object per line).
        #[arg(long)]
        follow: bool,
    },
    /// Copy a running MLflow server's registered models, versions and aliases here (idempotent; --model a,b for some).
    #[cfg(feature = "mlflow")]
    ImportMlflow {
        /// The MLflow server, e.g. http://127.0.0.1:5000 (MLFLOW_TRACKING_TOKEN, or _USERNAME and _PASSWORD, as the client takes them).
        tracking_uri: String,
    },
    /// Serve the MLflow REST API on this registry: point MLFLOW_TRACKING_URI at it (docs/MLFLOW.md).
    #[cfg(feature = "mlflow")]
    Serve(crate::serve::ServeArgs),
    /// Signed webhooks for the registry's events: add, list, remove, test, deliver.
    #[cfg(feature = "webhooks")]
    Webhook {
        #[command(subcommand)]
        command: crate::webhooks::WebhookCommand,
    },
    /// Two versions side by side: the hyperparameters, metrics, data and digests that differ.
    Diff {
        a: String,
        b: String,
        /// Show every field, not only those that differ.
        #[arg(long)]
        all: bool,
    },
    /// Copy every version of every model (or of --model) from one registry to another (local <-> s3://), verifying each digest.
    Copy {
        /// Source registry: a directory or s3://bucket/prefix.
        from: String,
        /// Destination registry; created if needed. Existing versions are never replaced.
        to: String,
        /// Also set the destination's aliases (production, ...) to the source's targets.
        #[arg(long)]
        aliases: bool,
    },
    /// Sign a version (OpenSSF model-signing format, versions/<v>/model.sig); a version is signed once.
    Sign {
        /// A version, an alias's version, or models:/NAME/VERSION.
        target: String,
        /// Private key (PEM, ECDSA P-256/P-384/P-521), e.g. from `openssl ecparam -name prime256v1 -genkey`.
        #[arg(long)]
        key: PathBuf,
        /// Name of the environment variable holding the password of an encrypted --key.
        #[arg(long)]
        key_password_env: Option<String>,
    },
    /// Re-check every version and alias; non-zero exit on any damage.
    Verify {
        /// Also remove leftovers of interrupted saves older than --older-than
        /// and move latest forward; never touches a complete version, and is
        /// safe while others save.
        #[arg(long)]
        repair: bool,
        /// With --repair: how old an unfinished save must be before it is
        /// removed (a live save looks the same): 90s, 30m, 1h, 2d.
        #[arg(long, requires = "repair", default_value = "1h", value_parser = cli_support::parse::age)]
        older_than: std::time::Duration,
    },
    /// The local cache of remote registries (--cache-dir, MODELREG_CACHE): list, verify or clear it.
    Cache {
        #[command(subcommand)]
        command: crate::cache::CacheCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum AliasCommand {
    /// Delete an alias; recorded in its history (`registry rollback NAME` restores it).
    Delete {
        alias: String,
        /// Only delete if the alias now points to this version.
        #[arg(long)]
        expect: Option<String>,
    },
    /// Require signed versions behind an alias (a policy every tool enforces: without --trusted-key it cannot be read or moved).
    RequireSignature {
        alias: String,
        /// Remove the requirement.
        #[arg(long)]
        off: bool,
    },
}

impl Command {
    /// Whether the command reads through the local cache of a remote
    /// registry. Those that check or change the store itself (verify,
    /// promote, sign, ...) read the store alone, so a cached copy can never
    /// vouch for the store's.
    pub fn reads_cache(&self) -> bool {
        matches!(
            self,
            Command::Get { .. }
                | Command::Show { .. }
                | Command::List(_)
                | Command::History { .. }
                | Command::Diff { .. }
                | Command::Report { .. }
                | Command::Models
        ) || self.serves()
    }

    /// `registry serve`, which reads versions through the cache too.
    fn serves(&self) -> bool {
        #[cfg(feature = "mlflow")]
        if let Command::Serve(_) = self {
            return true;
        }
        false
    }

    /// The versions and aliases this command names (the model a `models:/`
    /// URI among them names is the model it works on).
    pub fn targets(&self) -> Vec<&str> {
        match self {
            Command::Get { target, .. }
            | Command::Show { target, .. }
            | Command::Deprecate { target, .. }
            | Command::Delete { target, .. }
            | Command::Undelete { target }
            | Command::Sign { target, .. } => {
                vec![target]
            }
            Command::Promote { version, expect, .. } => {
                std::iter::once(version.as_str()).chain(expect.as_deref()).collect()
            }
            Command::Rollback { to, .. } => to.as_deref().into_iter().collect(),
            Command::Diff { a, b, .. } => vec![a, b],
            _ => Vec::new(),
        }
    }
}
