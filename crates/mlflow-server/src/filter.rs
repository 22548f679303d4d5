//! The search filters the mlflow client sends (`name='spam'`,
//! `name LIKE 'sp%' AND tags.team = 'fraud'`): conjunctions of
//! comparisons of one attribute with a quoted string. Anything else is
//! refused with what is understood.

use crate::error::{ApiError, ApiResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Like,
    ILike,
}

/// One comparison: `attribute op 'value'` (`tags.<key>` for a tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    pub attribute: String,
    pub op: Op,
    pub value: String,
}

/// A parsed filter: every clause must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub clauses: Vec<Clause>,
}

const UNDERSTOOD: &str =
    "ATTRIBUTE = 'value' (also !=, LIKE, ILIKE) joined by AND, on name, run_id, source_path or tags.KEY";

impl Filter {
    pub fn parse(text: Option<&str>, attributes: &[&str]) -> ApiResult<Filter> {
        let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(Filter::default());
        };
        if text.len() > 4096 {
            return Err(ApiError::invalid("the filter is longer than 4096 characters"));
        }
        let mut clauses = Vec::new();
        let mut rest = text;
        loop {
            let (clause, after) = parse_clause(rest)
                .map_err(|why| ApiError::invalid(format!("filter {text:?}: {why}; filters here are {UNDERSTOOD}")))?;
            let known = attributes.contains(&clause.attribute.as_str()) || clause.attribute.starts_with("tags.");
            if !known {
                return Err(ApiError::invalid(format!(
                    "filter {text:?}: {:?} is not an attribute that can be searched here (one of {}, or tags.KEY)",
                    clause.attribute,
                    attributes.join(", ")
                )));
            }
            clauses.push(clause);
            let after = after.trim_start();
            if after.is_empty() {
                break;
            }
            let Some(next) = strip_keyword(after, "AND") else {
                return Err(ApiError::invalid(format!(
                    "filter {text:?}: expected AND before {after:?}; filters here are {UNDERSTOOD}"
                )));
            };
            rest = next;
        }
        Ok(Filter { clauses })
    }

    /// Whether every clause holds, `get` giving an attribute's value
    /// (`None`: the thing has no such attribute, which only `!=` matches).
    pub fn matches<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.clauses.iter().all(|c| {
            let value = get(&c.attribute);
            match c.op {
                Op::Eq => value == Some(c.value.as_str()),
                Op::Ne => value != Some(c.value.as_str()),
                Op::Like => value.is_some_and(|v| like(v, &c.value, false)),
                Op::ILike => value.is_some_and(|v| like(v, &c.value, true)),
            }
        })
    }

    /// The value an `attribute = 'value'` clause requires, if there is one
    /// (a search for one model reads only that model).
    pub fn equal(&self, attribute: &str) -> Option<&str> {
        self.clauses
            .iter()
            .find(|c| c.attribute == attribute && c.op == Op::Eq)
            .map(|c| c.value.as_str())
    }
}

fn strip_keyword<'a>(text: &'a str, keyword: &str) -> Option<&'a str> {
    let head = text.get(..keyword.len())?;
    let rest = &text[keyword.len()..];
    (head.eq_ignore_ascii_case(keyword) && rest.starts_with(char::is_whitespace)).then_some(rest)
}

fn parse_clause(text: &str) -> Result<(Clause, &str), String> {
    let text = text.trim_start();
    // The attribute: letters, digits, `_` and `.`, or tags.`key with spaces`.
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(text.len());
    let (mut attribute, mut rest) = (text[..end].to_string(), &text[end..]);
    if attribute.ends_with('.') && (rest.starts_with('`') || rest.starts_with('"')) {
        let quote = &rest[..1];
        let close = rest[1..].find(quote).ok_or("an unclosed quoted tag key")?;
        attribute.push_str(&rest[1..1 + close]);
        rest = &rest[close + 2..];
    }
    if attribute.is_empty() {
        return Err(format!("expected an attribute at {text:?}"));
    }
    let attribute = attribute.strip_prefix("attributes.").unwrap_or(&attribute).to_string();
    // MLflow writes both `tag.` and `tags.`.
    let attribute = match attribute.strip_prefix("tag.") {
        Some(key) => format!("tags.{key}"),
        None => attribute,
    };
    let rest = rest.trim_start();
    let (op, rest) = if let Some(r) = rest.strip_prefix("!=") {
        (Op::Ne, r)
    } else if let Some(r) = rest.strip_prefix('=') {
        (Op::Eq, r)
    } else if let Some(r) = strip_keyword(rest, "ILIKE") {
        (Op::ILike, r)
    } else if let Some(r) = strip_keyword(rest, "LIKE") {
        (Op::Like, r)
    } else {
        return Err(format!("expected =, !=, LIKE or ILIKE after {attribute}"));
    };
    let rest = rest.trim_start();
    let quote = rest
        .chars()
        .next()
        .filter(|c| *c == '\'' || *c == '"')
        .ok_or_else(|| format!("the value compared with {attribute} must be quoted ('...' or \"...\")"))?;
    let body = &rest[1..];
    let close = body.find(quote).ok_or("an unclosed quoted value")?;
    Ok((
        Clause {
            attribute,
            op,
            value: body[..close].to_string(),
        },
        &body[close + 1..],
    ))
}

/// SQL LIKE: `%` any run of characters, `_` any one.
pub fn like(value: &str, pattern: &str, fold: bool) -> bool {
    let (v, p): (Vec<char>, Vec<char>) = if fold {
        (
            value.to_lowercase().chars().collect(),
            pattern.to_lowercase().chars().collect(),
        )
    } else {
        (value.chars().collect(), pattern.chars().collect())
    };
    // Iterative match with backtracking to the last `%` (linear space,
    // no recursion: a hostile pattern cannot overflow the stack).
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < v.len() {
        if j < p.len() && (p[j] == '_' || p[j] == v[i]) {
            i += 1;
            j += 1;
        } else if j < p.len() && p[j] == '%' {
            star = Some((j, i));
            j += 1;
        } else if let Some((sj, si)) = star {
            j = sj + 1;
            i = si + 1;
            star = Some((sj, si + 1));
        } else {
            return false;
        }
    }
    p[j..].iter().all(|c| *c == '%')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_as_the_client_writes_them() {
        let f = Filter::parse(Some("name='spam'"), &["name"]).unwrap();
        assert_eq!(f.equal("name"), Some("spam"));
        let f = Filter::parse(Some("name LIKE \"sp%\" and tags.`my team` = 'fraud'"), &["name"]).unwrap();
        assert_eq!(f.clauses.len(), 2);
        assert_eq!(f.clauses[1].attribute, "tags.my team");
        assert!(f.matches(|a| match a {
            "name" => Some("spam"),
            "tags.my team" => Some("fraud"),
            _ => None,
        }));
        assert!(!f.matches(|a| (a == "name").then_some("ham")));
    }

    #[test]
    fn what_is_not_understood_is_refused_with_the_reason() {
        for bad in [
            "name",
            "name = spam",
            "name = 'spam' OR name = 'x'",
            "colour = 'red'",
            "name = 'x",
        ] {
            let e = Filter::parse(Some(bad), &["name"]).unwrap_err();
            assert_eq!(e.code, "INVALID_PARAMETER_VALUE", "{bad}");
        }
    }

    #[test]
    fn like_matches_sql_patterns() {
        assert!(like("spam-detector", "spam%", false));
        assert!(like("spam", "s_am", false));
        assert!(!like("Spam", "spam", false));
        assert!(like("Spam", "spam", true));
        assert!(like("abc", "%%%c", false));
        assert!(!like("abc", "%d%", false));
        assert!(like(&"a".repeat(5000), &"%a".repeat(100), false));
    }
}
