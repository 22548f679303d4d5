//! What a registry looks like to a person: model cards and one HTML page.
//!
//! People compare model versions by looking: a score drifting over versions,
//! which version each alias held and when, where a model confuses labels.
//! This crate turns a registry into
//!
//! * a [`ModelCard`] per version, rendered as Markdown (`registry show V
//!   --card`) or HTML, and
//! * one self-contained HTML page ([`render_html`], `registry report`): a
//!   sortable, paginated versions table, an inline-SVG chart of test and CV
//!   scores with alias markers, each alias's history as a timeline, and a
//!   collapsed model card per version.
//!
//! Why self-contained: the page is attached to tickets, mailed, opened from
//! a laptop with no network. It loads nothing (a Content-Security-Policy
//! forbids any fetch), has no external script, font or image, and works
//! without its script too (sorting and pagination need it).
//!
//! Why server-side SVG rather than a charting library: one point per version
//! is a few hundred bytes each, the browser draws 2,000 SVG circles in
//! milliseconds, and no 100 KB library needs to be inlined.
//!
//! ```
//! use registry_core::store::MemoryStore;
//! use registry_core::{ModelInfo, Registry};
//! use registry_report::{ReportData, render_html};
//!
//! let registry = Registry::open_store(MemoryStore::new())?;
//! let info = ModelInfo { test_score: Some(0.91), ..ModelInfo::default() };
//! registry.save_model(&"1.0.0".parse()?, &"weights", info)?;
//!
//! let data = ReportData::collect(&registry)?;
//! let page = render_html(&data);
//! assert!(page.starts_with("<!doctype html>") && page.contains("1.0.0"));
//! let card = data.card(&data.versions[0]).to_markdown();
//! assert!(card.starts_with("# Model card: version 1.0.0"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod card;
mod html;

pub use card::ModelCard;
pub use html::{render_html, render_html_models};
pub use registry_core::metrics::{Confusion, LabelMetrics};

use registry_core::store::Store;
use registry_core::{AliasName, AliasRecord, ModelMetadata, ModelVersion, Registry, RegistryError};
use time::OffsetDateTime;

/// Everything the report shows, read from a registry in one go.
#[derive(Debug, Clone)]
pub struct ReportData {
    /// Where the registry is, as the user named it.
    pub location: String,
    /// Where the whole registry (every model) is.
    pub registry: String,
    /// The model these versions are of (`default` for the root's).
    pub model: String,
    pub generated_at: OffsetDateTime,
    /// Every readable version, oldest (lowest semver) first.
    pub versions: Vec<ModelMetadata>,
    /// Versions whose metadata could not be read or failed its checks.
    pub unreadable: Vec<(ModelVersion, String)>,
    /// The current state of every alias.
    pub aliases: Vec<AliasRecord>,
    /// Every alias's moves, oldest first.
    pub histories: Vec<(AliasName, Vec<AliasRecord>)>,
}

impl ReportData {
    /// Reads every version's metadata and every alias's history. A version
    /// whose metadata fails its checks is listed as unreadable, not fatal:
    /// the report is how a person finds it.
    pub fn collect<S: Store>(registry: &Registry<S>) -> Result<ReportData, RegistryError> {
        Self::collect_model(registry, OffsetDateTime::now_utc())
    }

    /// [`ReportData::collect`] for every model a report of `registry` shows:
    /// a handle on a named model, that model; else the default model (if it
    /// has versions, or when there is nothing else) and every named model,
    /// so a registry of named models only is not reported as empty.
    pub fn collect_models<S: Store>(registry: &Registry<S>) -> Result<Vec<ReportData>, RegistryError> {
        let generated_at = OffsetDateTime::now_utc();
        let default = Self::collect_model(registry, generated_at)?;
        if registry.model_name().is_some() {
            return Ok(vec![default]);
        }
        let mut models = Vec::new();
        for name in registry.list_models()? {
            models.push(Self::collect_model(&registry.with_model(Some(name)), generated_at)?);
        }
        let default_has_any =
            !default.versions.is_empty() || !default.unreadable.is_empty() || !default.aliases.is_empty();
        if default_has_any || models.is_empty() {
            models.insert(0, default);
        }
        Ok(models)
    }

    fn collect_model<S: Store>(
        registry: &Registry<S>,
        generated_at: OffsetDateTime,
    ) -> Result<ReportData, RegistryError> {
        let mut versions = Vec::new();
        let mut unreadable = Vec::new();
        for version in registry.list_versions()? {
            match registry.metadata(&version) {
                Ok(md) => versions.push(md),
                Err(e) => unreadable.push((version, e.to_string())),
            }
        }
        let aliases = registry.list_aliases()?;
        let mut histories = Vec::new();
        for record in &aliases {
            histories.push((record.alias.clone(), registry.alias_history(&record.alias)?));
        }
        Ok(ReportData {
            location: registry.location(),
            registry: registry.registry_location(),
            model: registry.model_label().to_string(),
            generated_at,
            versions,
            unreadable,
            aliases,
            histories,
        })
    }

    /// The card of one version.
    pub fn card(&self, md: &ModelMetadata) -> ModelCard {
        ModelCard::new(md, &self.aliases)
    }
}

/// Text made safe for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// RFC 3339 in UTC to the second, as every table here shows time.
pub fn utc_seconds(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            escape_html(r#"<script>alert("x's & y")</script>"#),
            "&lt;script&gt;alert(&quot;x&#39;s &amp; y&quot;)&lt;/script&gt;"
        );
    }
}
