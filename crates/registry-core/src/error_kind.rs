//! What kind of failure an error is, and the one table that gives each
//! kind its outside forms: the exit code of every binary, the Python
//! exception class of the `modelreg` package, and the HTTP status of the
//! servers. Front ends map kinds, never variants, so a new variant gets
//! its exit code, Python class and status from the one `match` in
//! [`RegistryError::kind`], which does not compile until it has a kind.

use crate::error::RegistryError;
use crate::store::StoreError;

/// The kinds of failure; see the table on [`ErrorKind::exit_code`],
/// [`ErrorKind::python_class`] and [`ErrorKind::http_status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// A malformed version, alias, model name, URI, target, metric or location.
    InvalidName,
    /// Bad arguments or input: files, metadata, options, a model of the
    /// wrong type for the program asked to use it.
    InvalidInput,
    /// This build cannot do it: a newer on-disk format, a feature not built in.
    Unsupported,
    /// The version is already saved (versions are immutable).
    VersionExists,
    /// A compare-and-swap lost: the alias moved meanwhile.
    AliasConflict,
    /// The promotion gate (`--if-better`, a deprecated version) refused the move.
    PromotionRefused,
    /// The registry's rules said no otherwise: a reserved alias,
    /// nothing to roll back, already signed.
    Refused,
    /// The destination of a `get` exists, or is something `--force` may not
    /// replace.
    OutputExists,
    /// No such registry, model, version, alias or file (or no single model
    /// file in a version of several files).
    NotFound,
    /// Stored bytes do not match their digests, or are not a valid document
    /// or model.
    Integrity,
    /// With trusted keys, a version is unsigned, untrusted or changed since
    /// it was signed.
    SignatureRefused,
    /// A protected alias was read or moved without trusted keys.
    SignatureRequired,
    /// The storage below the registry failed: disk, permissions, network.
    Storage,
    /// The version was deleted (`registry delete`); `undelete` restores it.
    Deleted,
}

impl ErrorKind {
    /// Every kind, for tables and tests.
    pub const ALL: [ErrorKind; 14] = [
        ErrorKind::InvalidName,
        ErrorKind::InvalidInput,
        ErrorKind::Unsupported,
        ErrorKind::VersionExists,
        ErrorKind::AliasConflict,
        ErrorKind::PromotionRefused,
        ErrorKind::Refused,
        ErrorKind::OutputExists,
        ErrorKind::NotFound,
        ErrorKind::Integrity,
        ErrorKind::SignatureRefused,
        ErrorKind::SignatureRequired,
        ErrorKind::Storage,
        ErrorKind::Deleted,
    ];

    /// The exit code every binary ends with (the README's table): 1 the
    /// rules said no, 2 bad arguments or input, 3 not found, 4 damage,
    /// 5 storage, 6 deleted.
    pub const fn exit_code(self) -> u8 {
        match self {
            ErrorKind::VersionExists
            | ErrorKind::AliasConflict
            | ErrorKind::PromotionRefused
            | ErrorKind::Refused
            | ErrorKind::OutputExists => 1,
            ErrorKind::InvalidName
            | ErrorKind::InvalidInput
            | ErrorKind::Unsupported
            | ErrorKind::SignatureRequired => 2,
            ErrorKind::NotFound => 3,
            ErrorKind::Integrity | ErrorKind::SignatureRefused => 4,
            ErrorKind::Storage => 5,
            ErrorKind::Deleted => 6,
        }
    }

    /// The class in `modelreg.errors` the Python package raises.
    pub const fn python_class(self) -> &'static str {
        match self {
            ErrorKind::InvalidName => "InvalidName",
            ErrorKind::InvalidInput => "InvalidInput",
            ErrorKind::Unsupported => "Unsupported",
            ErrorKind::VersionExists => "VersionExists",
            ErrorKind::AliasConflict => "AliasConflict",
            ErrorKind::PromotionRefused => "PromotionRefused",
            ErrorKind::Refused => "Refused",
            ErrorKind::OutputExists => "OutputExists",
            ErrorKind::NotFound => "NotFound",
            ErrorKind::Integrity => "IntegrityError",
            ErrorKind::SignatureRefused | ErrorKind::SignatureRequired => "SignatureError",
            ErrorKind::Storage => "StoreError",
            ErrorKind::Deleted => "VersionDeleted",
        }
    }

    /// The `error_code` of MLflow's error shape that `registry serve`
    /// answers with (the mlflow client raises `MlflowException` with it).
    pub const fn mlflow_code(self) -> &'static str {
        match self {
            ErrorKind::InvalidName | ErrorKind::InvalidInput => "INVALID_PARAMETER_VALUE",
            ErrorKind::VersionExists => "RESOURCE_ALREADY_EXISTS",
            ErrorKind::AliasConflict => "ABORTED",
            ErrorKind::PromotionRefused | ErrorKind::Refused | ErrorKind::OutputExists => "INVALID_STATE",
            ErrorKind::NotFound | ErrorKind::Deleted => "RESOURCE_DOES_NOT_EXIST",
            ErrorKind::SignatureRefused | ErrorKind::SignatureRequired => "PERMISSION_DENIED",
            ErrorKind::Unsupported => "NOT_IMPLEMENTED",
            ErrorKind::Integrity => "DATA_LOSS",
            ErrorKind::Storage => "TEMPORARILY_UNAVAILABLE",
        }
    }

    /// The HTTP status a server answers with. Only what the registry holds
    /// or the storage does can give a 5xx, never what a client sends.
    pub const fn http_status(self) -> u16 {
        match self {
            ErrorKind::InvalidName => 400,
            ErrorKind::InvalidInput => 422,
            ErrorKind::VersionExists
            | ErrorKind::AliasConflict
            | ErrorKind::PromotionRefused
            | ErrorKind::Refused
            | ErrorKind::OutputExists => 409,
            ErrorKind::NotFound => 404,
            ErrorKind::SignatureRefused | ErrorKind::SignatureRequired => 403,
            ErrorKind::Unsupported => 501,
            ErrorKind::Integrity => 500,
            ErrorKind::Storage => 503,
            ErrorKind::Deleted => 410,
        }
    }
}

impl RegistryError {
    /// What kind of failure this is (see [`ErrorKind`]).
    pub fn kind(&self) -> ErrorKind {
        use ErrorKind as K;
        use RegistryError as E;
        match self {
            E::InvalidVersion { .. }
            | E::InvalidAlias { .. }
            | E::InvalidModelName { .. }
            | E::InvalidUri { .. }
            | E::InvalidTarget { .. }
            | E::InvalidMetric { .. } => K::InvalidName,
            E::InvalidFiles { .. } | E::InvalidOption { .. } | E::Encode { .. } | E::WrongModelType { .. } => {
                K::InvalidInput
            }
            E::UnsupportedFormat { .. } => K::Unsupported,
            E::VersionExists { .. } | E::VersionCollected { .. } => K::VersionExists,
            E::AliasConflict { .. } => K::AliasConflict,
            E::PromotionRefused { .. } => K::PromotionRefused,
            E::ReservedAlias { .. }
            | E::NothingToRollBack { .. }
            | E::NotAnEarlierTarget { .. }
            | E::AlreadySigned { .. }
            | E::VersionInUse { .. }
            | E::HookRefused { .. }
            | E::NotDeleted { .. } => K::Refused,
            E::VersionDeleted { .. } => K::Deleted,
            E::OutputExists { .. } | E::OutputRefused { .. } => K::OutputExists,
            // No single model file to decode: what was asked for is not there.
            E::NoArtifact { .. }
            | E::ModelNotFound { .. }
            | E::VersionNotFound { .. }
            | E::AliasNotFound { .. }
            | E::AliasDeleted { .. }
            | E::FileNotFound { .. }
            | E::NoRegistry { .. }
            | E::OnlyPreReleases { .. }
            | E::Empty { .. } => K::NotFound,
            E::IntegrityMismatch { .. }
            | E::InvalidMetadata { .. }
            | E::InvalidModel { .. }
            | E::Decode { .. }
            | E::CommitLost { .. } => K::Integrity,
            E::SignatureRefused { .. } => K::SignatureRefused,
            E::SignatureRequired { .. } => K::SignatureRequired,
            // The version is saved; what failed is the move of latest, and
            // its cause says what kind of failure that was.
            E::LatestNotMoved { source, .. } => source.kind(),
            E::Store(e) => e.kind(),
        }
    }

    /// A stable, machine-readable name of the error (`version_exists`,
    /// `alias_not_found`, ...): the `code` of Python exceptions and of the
    /// servers' and `--json` error bodies.
    pub fn code(&self) -> &'static str {
        use RegistryError as E;
        match self {
            E::InvalidVersion { .. } => "invalid_version",
            E::InvalidAlias { .. } => "invalid_alias",
            E::InvalidModelName { .. } => "invalid_model_name",
            E::InvalidUri { .. } => "invalid_uri",
            E::InvalidTarget { .. } => "invalid_target",
            E::InvalidMetric { .. } => "invalid_metric",
            E::InvalidFiles { .. } => "invalid_files",
            E::InvalidOption { .. } => "invalid_option",
            E::Encode { .. } => "encode",
            E::WrongModelType { .. } => "wrong_model_type",
            E::UnsupportedFormat { .. } => "unsupported_format",
            E::VersionExists { .. } => "version_exists",
            E::VersionCollected { .. } => "version_collected",
            E::AliasConflict { .. } => "alias_conflict",
            E::ReservedAlias { .. } => "reserved_alias",
            E::PromotionRefused { .. } => "promotion_refused",
            E::NothingToRollBack { .. } => "nothing_to_roll_back",
            E::VersionDeleted { .. } => "version_deleted",
            E::VersionInUse { .. } => "version_in_use",
            E::NotDeleted { .. } => "not_deleted",
            E::HookRefused { .. } => "hook_refused",
            E::NotAnEarlierTarget { .. } => "not_an_earlier_target",
            E::AlreadySigned { .. } => "already_signed",
            E::NoArtifact { .. } => "no_single_model_file",
            E::OutputExists { .. } => "output_exists",
            E::OutputRefused { .. } => "output_refused",
            E::ModelNotFound { .. } => "model_not_found",
            E::VersionNotFound { .. } => "version_not_found",
            E::AliasNotFound { .. } => "alias_not_found",
            E::AliasDeleted { .. } => "alias_deleted",
            E::FileNotFound { .. } => "file_not_found",
            E::NoRegistry { .. } => "no_registry",
            E::OnlyPreReleases { .. } => "only_pre_releases",
            E::Empty { .. } => "empty",
            E::IntegrityMismatch { .. } => "integrity_mismatch",
            E::InvalidMetadata { .. } => "invalid_metadata",
            E::InvalidModel { .. } => "invalid_model",
            E::Decode { .. } => "decode",
            E::CommitLost { .. } => "commit_lost",
            E::SignatureRefused { .. } => "signature_refused",
            E::SignatureRequired { .. } => "signature_required",
            E::LatestNotMoved { .. } => "latest_not_moved",
            E::Store(e) => e.code(),
        }
    }
}

impl StoreError {
    /// What kind of failure this is (see [`ErrorKind`]).
    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::NotFound { .. } => ErrorKind::NotFound,
            StoreError::AlreadyExists { .. } | StoreError::Conflict { .. } => ErrorKind::Refused,
            StoreError::InvalidKey { .. } => ErrorKind::InvalidName,
            StoreError::Unsafe { .. } | StoreError::TooLarge { .. } | StoreError::SizeMismatch { .. } => {
                ErrorKind::Integrity
            }
            // Nothing is wrong with the registry: this process is too small.
            StoreError::OutOfMemory { .. } => ErrorKind::Storage,
            StoreError::Remote { .. } | StoreError::Io { .. } => ErrorKind::Storage,
        }
    }

    /// A stable, machine-readable name of the error.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::NotFound { .. } => "store_not_found",
            StoreError::AlreadyExists { .. } => "store_already_exists",
            StoreError::Conflict { .. } => "store_conflict",
            StoreError::InvalidKey { .. } => "invalid_key",
            StoreError::Unsafe { .. } => "unsafe_file",
            StoreError::TooLarge { .. } => "too_large",
            StoreError::SizeMismatch { .. } => "size_mismatch",
            StoreError::OutOfMemory { .. } => "out_of_memory",
            StoreError::Remote { .. } => "remote",
            StoreError::Io { .. } => "io",
        }
    }
}
