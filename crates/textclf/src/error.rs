//! The one error type of `textclf`.

pub type Result<T, E = TextClfError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum TextClfError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} is empty: a dataset needs a header line naming the `label` and `text` columns, then one example per line"
    )]
    EmptyDataset { path: String },
    #[error("{path}, line 1: no `{column}` column in the header (found: {found}); name the columns `label` and `text`")]
    MissingColumn {
        path: String,
        column: String,
        found: String,
    },
    #[error("{path}, line 1: column `{column}` appears twice in the header; keep one")]
    DuplicateColumn { path: String, column: String },
    #[error("{path}, line {line}: {reason}")]
    Malformed { path: String, line: u64, reason: String },
    #[error("all examples have the label {label:?}: a classifier needs at least two labels")]
    SingleClass { label: String },
    #[error(
        "label {label:?} has {count} examples in the training split, fewer than the {folds} cross-validation folds; add examples or use fewer folds (--folds)"
    )]
    TooFewExamples { label: String, count: usize, folds: usize },
    #[error("invalid grid: {0}")]
    InvalidGrid(String),
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("model (de)serialisation failed: {0}")]
    Serialization(String),
    #[error("not a valid model: {field}: {reason}")]
    InvalidModel { field: String, reason: String },
}
