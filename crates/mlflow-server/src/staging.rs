//! Where logged artifacts wait to be registered: the paths a client uses
//! (`<experiment>/<run id>/artifacts/...`, `<experiment>/models/<model
//! id>/artifacts/...`, as MLflow lays them out), checked segment by
//! segment before anything becomes a key, and the manifest of each staged
//! root (every file's size and sha256, recorded once its bytes are in the
//! store: a file without a manifest entry was never uploaded whole).

use crate::error::{ApiError, ApiResult};
use crate::records::{PREFIX, Records};
use crate::{logged, tracking};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A staged file's size and digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedFile {
    pub size: u64,
    pub sha256: String,
}

/// A run's or a logged model's artifacts, by relative path.
pub type Manifest = BTreeMap<String, StagedFile>;

/// A staged root: a run's artifacts or a logged model's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    Run { experiment: String, run_id: String },
    Model { experiment: String, model_id: String },
}

impl Root {
    /// Its path as clients write it (no trailing slash).
    pub fn path(&self) -> String {
        match self {
            Root::Run { experiment, run_id } => format!("{experiment}/{run_id}/artifacts"),
            Root::Model { experiment, model_id } => format!("{experiment}/models/{model_id}/artifacts"),
        }
    }

    pub fn manifest_key(&self) -> String {
        match self {
            Root::Run { experiment, run_id } => format!("{PREFIX}manifests/{experiment}/{run_id}"),
            Root::Model { experiment, model_id } => format!("{PREFIX}manifests/{experiment}/models/{model_id}"),
        }
    }

    /// The key of a file under this root.
    pub fn file_key(&self, rel: &str) -> String {
        format!("{PREFIX}artifacts/{}/{rel}", self.path())
    }

    /// Checks that the run or logged model exists, in this experiment.
    pub fn check_exists(&self, records: &Records<'_>) -> ApiResult<()> {
        let (experiment, owner) = match self {
            Root::Run { experiment, run_id } => (experiment, tracking::read_run(records, run_id)?.info.experiment_id),
            Root::Model { experiment, model_id } => (
                experiment,
                logged::read_logged_model(records, model_id)?.info.experiment_id,
            ),
        };
        if *experiment != owner {
            return Err(ApiError::not_found(format!(
                "{} belongs to experiment {owner}, not {experiment}",
                self.path()
            )));
        }
        Ok(())
    }

    pub fn manifest(&self, records: &Records<'_>) -> ApiResult<Manifest> {
        Ok(records.read(&self.manifest_key())?.unwrap_or_default())
    }
}

/// An artifact path split into its staged root and the path below it
/// (`""`: the root itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedPath {
    pub root: Root,
    pub rel: String,
}

/// Checks one segment of a path a client sent: what a registry key may
/// hold, and never `.`, `..` or empty (an absolute path, `a//b`).
pub fn check_segment(segment: &str, path: &str) -> ApiResult<()> {
    let bad = |why: &str| Err(ApiError::invalid(format!("artifact path {path:?}: {why}")));
    if segment.is_empty() {
        return bad("it has an empty segment (an absolute path, or //): give a path relative to the artifact root");
    }
    if segment == "." || segment == ".." {
        return bad("it may not contain . or .. segments");
    }
    if segment.starts_with('.') {
        return bad("a name may not start with '.'");
    }
    if let Some(c) = segment
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-')))
    {
        return bad(&format!(
            "the character {c:?} cannot be stored (names here are letters, digits and . _ + -)"
        ));
    }
    if segment.len() > 200 {
        return bad("a name is longer than 200 bytes");
    }
    Ok(())
}

/// Parses a path under `mlflow-artifacts:/` that names a staged root or a
/// file in one; `None` if it is not of that shape.
pub fn parse(path: &str) -> ApiResult<Option<StagedPath>> {
    let path = path.strip_suffix('/').unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    for s in &segments {
        check_segment(s, path)?;
    }
    let is_hex = |s: &str| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit());
    let experiment_ok = |s: &str| !s.is_empty() && s.len() < 20 && s.bytes().all(|b| b.is_ascii_digit());
    let (root, rest) = match segments.as_slice() {
        [e, "models", m, "artifacts", rest @ ..] if experiment_ok(e) && m.strip_prefix("m-").is_some_and(is_hex) => (
            Root::Model {
                experiment: e.to_string(),
                model_id: m.to_string(),
            },
            rest,
        ),
        [e, r, "artifacts", rest @ ..] if experiment_ok(e) && is_hex(r) => (
            Root::Run {
                experiment: e.to_string(),
                run_id: r.to_string(),
            },
            rest,
        ),
        _ => return Ok(None),
    };
    Ok(Some(StagedPath {
        root,
        rel: rest.join("/"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_into_roots_and_traversal_is_refused() {
        let id = "0123456789abcdef0123456789abcdef";
        let p = parse(&format!("1/models/m-{id}/artifacts/model/MLmodel"))
            .unwrap()
            .unwrap();
        assert_eq!(p.rel, "model/MLmodel");
        assert_eq!(p.root.path(), format!("1/models/m-{id}/artifacts"));
        let p = parse(&format!("3/{id}/artifacts")).unwrap().unwrap();
        assert_eq!(p.rel, "");
        assert!(parse("registry/spam/1.0.0").unwrap().is_none());
        for bad in [
            format!("1/{id}/artifacts/../../x"),
            format!("/1/{id}/artifacts/x"),
            format!("1/{id}/artifacts//x"),
            format!("1/{id}/artifacts/.hidden"),
            format!("1/{id}/artifacts/a\\b"),
            "../etc/passwd".to_string(),
        ] {
            assert!(parse(&bad).is_err(), "{bad}");
        }
    }
}
