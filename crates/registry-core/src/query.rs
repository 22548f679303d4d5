//! Choosing and ordering catalog rows: `registry list --where
//! 'test_score>=0.8' --tag team=search --type sklearn --since 2026-01-01
//! --sort test_score --limit 10`.

use crate::names::ModelVersion;
use crate::registry::CatalogRow;
use std::cmp::Ordering;
use std::str::FromStr;
use time::OffsetDateTime;

/// Why a query could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {input:?}: {reason}")]
pub struct QueryError {
    pub what: &'static str,
    pub input: String,
    pub reason: String,
}

/// What a condition compares: a field every row has, or a metric.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Version,
    Created,
    TestScore,
    CvScore,
    Size,
    /// A numeric metric (`f1`, `metrics.f1`).
    Metric(String),
}

impl Field {
    const NAMES: &'static str = "version, created, test_score, cv_score, size, or a numeric metric (f1, metrics.f1)";

    /// A field by name; any other name is a metric.
    pub fn parse(name: &str) -> Field {
        match name {
            "version" => Field::Version,
            "created" | "timestamp" => Field::Created,
            "test_score" => Field::TestScore,
            "cv_score" => Field::CvScore,
            "size" => Field::Size,
            other => Field::Metric(other.strip_prefix("metrics.").unwrap_or(other).to_string()),
        }
    }

    fn number(&self, row: &CatalogRow) -> Option<f64> {
        match self {
            Field::TestScore => row.test_score,
            Field::CvScore => row.cv_score,
            Field::Size => Some(row.size as f64),
            Field::Metric(name) => row.metrics.get(name).copied(),
            Field::Version | Field::Created => None,
        }
    }

    /// Orders two rows by this field; rows without a value sort last.
    pub fn compare(&self, a: &CatalogRow, b: &CatalogRow) -> Ordering {
        match self {
            Field::Version => a.version.cmp(&b.version),
            Field::Created => a.timestamp.cmp(&b.timestamp),
            _ => match (self.number(a), self.number(b)) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            },
        }
    }
}

impl FromStr for Field {
    type Err = QueryError;
    fn from_str(s: &str) -> Result<Field, QueryError> {
        if s.is_empty()
            || !s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err(QueryError {
                what: "field",
                input: s.to_string(),
                reason: format!("expected {}", Field::NAMES),
            });
        }
        Ok(Field::parse(s))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Eq,
    Ne,
    Ge,
    Gt,
}

impl Op {
    fn holds(self, o: Ordering) -> bool {
        match self {
            Op::Lt => o == Ordering::Less,
            Op::Le => o != Ordering::Greater,
            Op::Eq => o == Ordering::Equal,
            Op::Ne => o != Ordering::Equal,
            Op::Ge => o != Ordering::Less,
            Op::Gt => o == Ordering::Greater,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Number(f64),
    Version(ModelVersion),
    Time(OffsetDateTime),
}

/// One `--where` condition: `FIELD OP VALUE` with OP one of `< <= = == != >= >`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    field: Field,
    op: Op,
    value: Value,
}

impl FromStr for Condition {
    type Err = QueryError;
    fn from_str(input: &str) -> Result<Condition, QueryError> {
        let bad = |reason: String| QueryError {
            what: "--where condition",
            input: input.to_string(),
            reason,
        };
        let at = input
            .find(['<', '>', '=', '!'])
            .ok_or_else(|| bad("no comparison: write FIELD OP VALUE, e.g. test_score>=0.8".into()))?;
        let (name, rest) = input.split_at(at);
        let (op, value) = [
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<", Op::Lt),
            (">", Op::Gt),
            ("=", Op::Eq),
        ]
        .iter()
        .find_map(|(text, op)| rest.strip_prefix(text).map(|v| (*op, v.trim())))
        .ok_or_else(|| bad("unknown comparison: use <, <=, =, !=, >= or >".into()))?;
        let field: Field = name.trim().parse().map_err(|e: QueryError| bad(e.reason))?;
        let value = match &field {
            Field::Version => Value::Version(value.parse().map_err(|e: crate::RegistryError| bad(e.to_string()))?),
            Field::Created => Value::Time(parse_time(value).map_err(bad)?),
            _ => match value.parse::<f64>() {
                Ok(x) if x.is_finite() => Value::Number(x),
                _ => return Err(bad(format!("{value:?} is not a number"))),
            },
        };
        Ok(Condition { field, op, value })
    }
}

impl Condition {
    /// Whether `row` meets the condition; a row without the field does not.
    pub fn holds(&self, row: &CatalogRow) -> bool {
        let ordering = match (&self.value, &self.field) {
            (Value::Version(v), Field::Version) => row.version.cmp(v),
            (Value::Time(t), Field::Created) => row.timestamp.cmp(t),
            (Value::Number(x), field) => match field.number(row) {
                Some(y) => y.total_cmp(x),
                None => return false,
            },
            _ => return false,
        };
        self.op.holds(ordering)
    }
}

/// `2026-11-29`, `2026-11-29T10:00:00Z` (RFC 3339).
pub fn parse_time(text: &str) -> Result<OffsetDateTime, String> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t);
    }
    let date = time::Date::parse(text, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| format!("{text:?} is not a date (2026-11-29) or an RFC 3339 time (2026-11-29T10:00:00Z)"))?;
    Ok(date.midnight().assume_utc())
}

/// Everything `list` can ask of the catalog.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub conditions: Vec<Condition>,
    /// Rows must carry each of these tags with this value.
    pub tags: Vec<(String, String)>,
    pub model_type: Option<String>,
    pub since: Option<OffsetDateTime>,
    /// `None`: by version, oldest first.
    pub sort: Option<Field>,
    pub descending: bool,
    pub limit: Option<usize>,
}

impl Query {
    pub fn matches(&self, row: &CatalogRow) -> bool {
        self.conditions.iter().all(|c| c.holds(row))
            && self.tags.iter().all(|(k, v)| row.tags.get(k) == Some(v))
            && self
                .model_type
                .as_ref()
                .is_none_or(|t| row.model_type.as_ref() == Some(t))
            && self.since.is_none_or(|s| row.timestamp >= s)
    }

    /// The rows that match, ordered, at most `limit` of them.
    pub fn apply<'a>(&self, rows: impl IntoIterator<Item = &'a CatalogRow>) -> Vec<&'a CatalogRow> {
        let mut out: Vec<&CatalogRow> = rows.into_iter().filter(|r| self.matches(r)).collect();
        let field = self.sort.clone().unwrap_or(Field::Version);
        out.sort_by(|a, b| {
            let o = field.compare(a, b).then_with(|| a.version.cmp(&b.version));
            if self.descending { o.reverse() } else { o }
        });
        if let Some(limit) = self.limit {
            out.truncate(limit);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(version: &str, test: Option<f64>, f1: Option<f64>) -> CatalogRow {
        CatalogRow {
            version: version.parse().unwrap(),
            timestamp: OffsetDateTime::UNIX_EPOCH,
            metadata_sha256: String::new(),
            model_type: Some("sklearn".into()),
            test_score: test,
            cv_score: None,
            metrics: f1.map(|x| [("f1".to_string(), x)].into()).unwrap_or_default(),
            data: None,
            tags: [("team".to_string(), "search".to_string())].into(),
            files: 1,
            size: 10,
        }
    }

    #[test]
    fn conditions_filter_and_rows_without_the_field_never_match() {
        let rows = [
            row("1.0.0", Some(0.7), Some(0.6)),
            row("1.1.0", Some(0.85), None),
            row("2.0.0", None, Some(0.9)),
        ];
        let versions = |q: &Query| q.apply(&rows).iter().map(|r| r.version.to_string()).collect::<Vec<_>>();
        let q = |c: &[&str]| Query {
            conditions: c.iter().map(|c| c.parse().unwrap()).collect(),
            ..Query::default()
        };
        assert_eq!(versions(&q(&["test_score>=0.8"])), ["1.1.0"]);
        assert_eq!(versions(&q(&["test_score < 0.8"])), ["1.0.0"]);
        assert_eq!(versions(&q(&["metrics.f1>0.5"])), ["1.0.0", "2.0.0"]);
        assert_eq!(versions(&q(&["version>=1.1.0", "f1!=0.6"])), ["2.0.0"]);
        let sorted = Query {
            sort: Some(Field::TestScore),
            descending: true,
            limit: Some(2),
            ..Query::default()
        };
        // Descending by score; the row without a score sorts last, then is cut.
        assert_eq!(versions(&sorted), ["2.0.0", "1.1.0"]);
        let by_score = Query {
            sort: Some(Field::TestScore),
            ..Query::default()
        };
        assert_eq!(versions(&by_score), ["1.0.0", "1.1.0", "2.0.0"]);
    }

    #[test]
    fn malformed_conditions_say_what_is_wrong() {
        for (input, reason) in [
            ("test_score", "no comparison"),
            ("test_score>>0.8", "not a number"),
            ("test_score>=high", "not a number"),
            ("version>=one", "unexpected character"),
            ("created>=yesterday", "not a date"),
            ("te st>=1", "expected version, created"),
            ("=1", "expected version"),
        ] {
            let err = input.parse::<Condition>().unwrap_err().to_string();
            assert!(err.contains(reason), "{input}: {err}");
        }
    }
}
