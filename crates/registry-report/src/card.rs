//! A model card: everything recorded about one version, arranged for a
//! person. Built once from the metadata and rendered twice, as Markdown
//! (`registry show V --card`, for pull requests) and as HTML (the report),
//! so the two never disagree.

use registry_core::metrics::{self, Confusion, LabelMetrics};
use registry_core::{AliasRecord, ModelMetadata};
use serde_json::Value;

use crate::{escape_html, utc_seconds};

#[derive(Debug, Clone, PartialEq)]
pub struct ModelCard {
    pub version: String,
    pub aliases: Vec<String>,
    pub summary: Vec<(String, String)>,
    pub hyperparameters: Vec<(String, String)>,
    pub per_label: Vec<LabelMetrics>,
    pub confusion: Option<Confusion>,
    /// Metrics that are neither per label nor the confusion matrix.
    pub other_metrics: Vec<(String, String)>,
    pub lineage: Vec<(String, String)>,
    pub artifact: Vec<(String, String)>,
}

/// A JSON value as a person would write it: strings bare, `null` as "none".
pub(crate) fn plain(value: &Value) -> String {
    match value {
        Value::Null => "none".to_string(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) if f.abs() >= 1e-3 && f.abs() < 1e6 => format!("{}", (f * 1e4).round() / 1e4),
            _ => n.to_string(),
        },
        Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

pub(crate) fn score(value: Option<f64>) -> String {
    value.map_or("-".to_string(), |s| format!("{s:.4}"))
}

impl ModelCard {
    /// `aliases`: every alias's current record; those naming this version
    /// are listed on the card.
    pub fn new(md: &ModelMetadata, aliases: &[AliasRecord]) -> ModelCard {
        let info = &md.info;
        let lineage = &info.lineage;
        let mut summary = vec![("created".to_string(), utc_seconds(md.timestamp))];
        if let Some(by) = &lineage.created_by {
            summary.push(("trained by".into(), format!("{}@{}", by.user, by.host)));
        }
        summary.push((
            "model type".into(),
            info.model_type.clone().unwrap_or_else(|| "-".into()),
        ));
        summary.push(("test accuracy".into(), score(info.test_score)));
        let folds = lineage.folds.map(|f| format!(" ({f} folds)")).unwrap_or_default();
        summary.push((
            "CV accuracy".into(),
            format!("{} ± {}{folds}", score(info.cv_score), score(info.cv_std)),
        ));
        if let Some(d) = &info.description {
            summary.push(("description".into(), d.clone()));
        }
        for (k, v) in &info.tags {
            summary.push((format!("tag {k}"), v.clone()));
        }

        let mut lineage_rows = Vec::new();
        if let Some(d) = &lineage.data {
            lineage_rows.push(("data".into(), format!("{} ({} rows)", d.name, d.rows)));
            lineage_rows.push(("data sha256".into(), d.sha256.clone()));
        }
        if let Some(seed) = lineage.seed {
            lineage_rows.push(("seed".into(), seed.to_string()));
        }
        if let Some(c) = &lineage.code {
            lineage_rows.push(("code".into(), c.to_string()));
        }
        if let Some(p) = &lineage.parent_version {
            lineage_rows.push(("parent version".into(), p.to_string()));
        }
        if let Some(s) = lineage.duration_seconds {
            lineage_rows.push(("training time".into(), format!("{s:.2} s")));
        }

        let mut artifact = Vec::new();
        for file in md.stored_files() {
            artifact.push(("file".into(), file.path.to_string()));
            if let Some(a) = md.artifact.as_ref().filter(|a| a.file == file.path) {
                let encoding = serde_json::to_value(a.encoding).map(|v| plain(&v)).unwrap_or_default();
                artifact.push(("encoding".into(), encoding));
            }
            artifact.push(("size".into(), format!("{} bytes", file.size)));
            artifact.push(("sha256".into(), file.sha256.to_string()));
            if let Some(b3) = file.blake3 {
                artifact.push(("blake3".into(), b3.to_string()));
            }
        }
        artifact.push(("metadata digest".into(), md.metadata_sha256.clone()));

        const SHOWN_ELSEWHERE: [&str; 4] = [
            metrics::PER_LABEL,
            metrics::CONFUSION,
            metrics::LABELS,
            metrics::ACCURACY,
        ];
        let other_metrics = info
            .metrics
            .iter()
            .filter(|(k, _)| !SHOWN_ELSEWHERE.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), plain(v)))
            .collect();

        ModelCard {
            version: md.version.to_string(),
            aliases: aliases
                .iter()
                .filter(|a| a.version == md.version)
                .map(|a| a.alias.to_string())
                .collect(),
            summary,
            hyperparameters: info
                .hyperparameters
                .iter()
                .map(|(k, v)| (k.clone(), plain(v)))
                .collect(),
            per_label: LabelMetrics::read_all(&info.metrics),
            confusion: Confusion::read(&info.metrics),
            other_metrics,
            lineage: lineage_rows,
            artifact,
        }
    }

    /// The card as GitHub-flavoured Markdown.
    pub fn to_markdown(&self) -> String {
        let mut out = format!("# Model card: version {}\n\n", self.version);
        let aliases = if self.aliases.is_empty() {
            "none".to_string()
        } else {
            self.aliases
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push_str(&format!("Aliases: {aliases}\n\n"));
        key_value_table(&mut out, &self.summary);
        if !self.hyperparameters.is_empty() {
            out.push_str("\n## Hyperparameters\n\n");
            key_value_table(&mut out, &self.hyperparameters);
        }
        if !self.per_label.is_empty() {
            out.push_str("\n## Test metrics per label\n\n| label | precision | recall | F1 | support |\n|---|---:|---:|---:|---:|\n");
            for m in &self.per_label {
                out.push_str(&format!(
                    "| {} | {:.4} | {:.4} | {:.4} | {} |\n",
                    md_cell(&m.label),
                    m.precision,
                    m.recall,
                    m.f1,
                    m.support
                ));
            }
        }
        if let Some(c) = &self.confusion {
            out.push_str("\n## Confusion matrix (test split; rows: true label, columns: predicted)\n\n");
            out.push_str("| true \\ predicted |");
            for l in &c.labels {
                out.push_str(&format!(" {} |", md_cell(l)));
            }
            out.push_str("\n|---|");
            out.push_str(&"---:|".repeat(c.labels.len()));
            out.push('\n');
            for (label, row) in c.labels.iter().zip(&c.counts) {
                out.push_str(&format!("| **{}** |", md_cell(label)));
                for n in row {
                    out.push_str(&format!(" {n} |"));
                }
                out.push('\n');
            }
        }
        if !self.other_metrics.is_empty() {
            out.push_str("\n## Other metrics\n\n");
            key_value_table(&mut out, &self.other_metrics);
        }
        if !self.lineage.is_empty() {
            out.push_str("\n## Lineage\n\n");
            key_value_table(&mut out, &self.lineage);
        }
        out.push_str("\n## Artifact\n\n");
        key_value_table(&mut out, &self.artifact);
        out
    }

    /// The card as an HTML fragment (a `<details>` element, collapsed), with
    /// the confusion matrix as a coloured grid.
    pub fn to_html(&self) -> String {
        self.to_html_in("")
    }

    /// [`ModelCard::to_html`] with its element id prefixed (a page of
    /// several models prefixes each model's ids with its name).
    pub fn to_html_in(&self, id_prefix: &str) -> String {
        let id = format!("{id_prefix}card-{}", self.version);
        let mut out = format!(
            "<details class=\"card\" id=\"{}\"><summary>Version <b>{}</b>{}</summary>\n<div class=\"card-body\">",
            escape_html(&id),
            escape_html(&self.version),
            self.aliases
                .iter()
                .map(|a| format!(" <span class=\"badge badge-{0}\">{0}</span>", escape_html(a)))
                .collect::<String>()
        );
        html_table(&mut out, "Summary", &self.summary);
        html_table(&mut out, "Hyperparameters", &self.hyperparameters);
        if !self.per_label.is_empty() {
            out.push_str("<section><h4>Test metrics per label</h4><table class=\"kv\"><tr><th>label</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>");
            for m in &self.per_label {
                out.push_str(&format!(
                    "<tr><td>{}</td><td class=\"num\">{:.4}</td><td class=\"num\">{:.4}</td><td class=\"num\">{:.4}</td><td class=\"num\">{}</td></tr>",
                    escape_html(&m.label),
                    m.precision,
                    m.recall,
                    m.f1,
                    m.support
                ));
            }
            out.push_str("</table></section>");
        }
        if let Some(c) = &self.confusion {
            out.push_str(&confusion_grid(c));
        }
        html_table(&mut out, "Other metrics", &self.other_metrics);
        html_table(&mut out, "Lineage", &self.lineage);
        html_table(&mut out, "Artifact", &self.artifact);
        out.push_str("</div></details>\n");
        out
    }
}

fn md_cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

fn key_value_table(out: &mut String, rows: &[(String, String)]) {
    out.push_str("| field | value |\n|---|---|\n");
    for (k, v) in rows {
        out.push_str(&format!("| {} | {} |\n", md_cell(k), md_cell(v)));
    }
}

fn html_table(out: &mut String, title: &str, rows: &[(String, String)]) {
    if rows.is_empty() {
        return;
    }
    out.push_str(&format!("<section><h4>{title}</h4><table class=\"kv\">"));
    for (k, v) in rows {
        out.push_str(&format!(
            "<tr><th>{}</th><td>{}</td></tr>",
            escape_html(k),
            escape_html(v)
        ));
    }
    out.push_str("</table></section>");
}

/// Cells shaded by the share of their row (the true label's examples):
/// blue on the diagonal (right), red off it (wrong).
fn confusion_grid(c: &Confusion) -> String {
    let n = c.labels.len();
    let mut out = format!(
        "<section><h4>Confusion matrix <small>(rows: true label, columns: predicted; shade: share of the row)</small></h4><div class=\"confusion\" style=\"grid-template-columns: auto repeat({n}, minmax(3.5em, auto))\"><div class=\"corner\">true \\ predicted</div>"
    );
    for l in &c.labels {
        out.push_str(&format!("<div class=\"head\">{}</div>", escape_html(l)));
    }
    for (i, (label, row)) in c.labels.iter().zip(&c.counts).enumerate() {
        out.push_str(&format!("<div class=\"head\">{}</div>", escape_html(label)));
        let total: u64 = row.iter().sum();
        for (j, &count) in row.iter().enumerate() {
            let share = if total == 0 { 0.0 } else { count as f64 / total as f64 };
            let (r, g, b) = if i == j { (37, 99, 235) } else { (220, 38, 38) };
            let ink = if share > 0.55 { "#fff" } else { "#111" };
            out.push_str(&format!(
                "<div class=\"cell\" data-true=\"{}\" data-predicted=\"{}\" style=\"background: rgba({r},{g},{b},{:.3}); color: {ink}\" title=\"{} of {} ({:.1} %)\">{count}</div>",
                escape_html(label),
                escape_html(&c.labels[j]),
                0.08 + 0.92 * share,
                count,
                total,
                share * 100.0
            ));
        }
    }
    out.push_str("</div></section>");
    out
}
