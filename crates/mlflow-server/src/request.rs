//! Reading a request's parameters: a GET's from its query string, any
//! other method's from its JSON body (as the mlflow client sends them),
//! into one typed message. Every message refuses fields it does not know
//! and values of the wrong type, naming the field; proto3 JSON's forms are
//! accepted (an int64 as a number or a decimal string, a repeated field
//! given once in a query string).

use crate::error::ApiError;
use axum::extract::{FromRequest, Request};
use axum::http::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// The most bytes a JSON request body may have (log-batch's limits, 1,000
/// metrics and 100 params of MLflow's sizes, fit in a fraction of it).
pub const MAX_JSON_BODY: usize = 4 * 1024 * 1024;

/// A request's parameters, parsed into `T`.
pub struct Req<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Req<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, ApiError> {
        let method = request.method().clone();
        let query = request.uri().query().unwrap_or("").to_string();
        let value = if method == Method::GET {
            query_object(&query)
        } else {
            let bytes = axum::body::to_bytes(request.into_body(), MAX_JSON_BODY)
                .await
                .map_err(|e| body_error(&e))?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                // A DELETE or POST without a body: its parameters, if any,
                // came in the query string.
                query_object(&query)
            } else {
                let value: Value = serde_json::from_slice(&bytes)
                    .map_err(|e| ApiError::invalid(format!("the request body is not valid JSON: {e}")))?;
                if !value.is_object() {
                    return Err(ApiError::invalid(
                        "the request body must be a JSON object of the request's fields",
                    ));
                }
                value
            }
        };
        serde_json::from_value(value)
            .map(Req)
            .map_err(|e| ApiError::invalid(format!("invalid request: {e}")))
    }
}

/// Why a body could not be read: too large, or the client stopped.
pub fn body_error(e: &axum::Error) -> ApiError {
    let too_large =
        std::error::Error::source(e).is_some_and(|s| s.downcast_ref::<http_body_util::LengthLimitError>().is_some());
    if too_large {
        ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "INVALID_PARAMETER_VALUE",
            format!("the request body is larger than the {MAX_JSON_BODY} bytes a JSON request may have"),
        )
    } else {
        ApiError::invalid(format!("the request body could not be read: {e}"))
    }
}

/// A query string as a JSON object of strings; a key given more than once
/// becomes an array.
fn query_object(query: &str) -> Value {
    let mut map = Map::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let value = Value::String(value.into_owned());
        match map.get_mut(key.as_ref()) {
            None => {
                map.insert(key.into_owned(), value);
            }
            Some(Value::Array(values)) => values.push(value),
            Some(first) => {
                let first = first.take();
                map.insert(key.into_owned(), Value::Array(vec![first, value]));
            }
        }
    }
    Value::Object(map)
}

/// An int64 field: a JSON number or a decimal string (proto3 JSON).
pub fn int64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Int {
        N(i64),
        S(String),
    }
    match Option::<Int>::deserialize(d)? {
        None => Ok(None),
        Some(Int::N(n)) => Ok(Some(n)),
        Some(Int::S(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("{s:?} is not an integer"))),
    }
}

/// A double field: a JSON number, or a decimal string, `NaN` or `Infinity`
/// (proto3 JSON; the client sends those for non-finite metrics).
pub fn double<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Num {
        N(f64),
        S(String),
    }
    match Option::<Num>::deserialize(d)? {
        None => Ok(None),
        Some(Num::N(n)) => Ok(Some(n)),
        Some(Num::S(s)) => match s.as_str() {
            "NaN" => Ok(Some(f64::NAN)),
            "Infinity" => Ok(Some(f64::INFINITY)),
            "-Infinity" => Ok(Some(f64::NEG_INFINITY)),
            _ => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| serde::de::Error::custom(format!("{s:?} is not a number"))),
        },
    }
}

/// A repeated string field: an array, or one string (a query string's
/// single `order_by=...`).
pub fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Many {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<Many>::deserialize(d)? {
        None => Vec::new(),
        Some(Many::One(s)) => vec![s],
        Some(Many::Many(v)) => v,
    })
}

/// Which items of a `total`-long list a page request (`max_results`,
/// `page_token`) asks for, and the token of the page after them, if any.
/// Every paginated endpoint goes through this one, so they agree on the
/// token's form and the limits' errors.
pub fn page_range(
    total: usize,
    max_results: Option<i64>,
    page_token: Option<&str>,
    default: usize,
    cap: usize,
) -> Result<(std::ops::Range<usize>, Option<String>), ApiError> {
    let start = page_offset(page_token)?.min(total);
    let end = start.saturating_add(page_size(max_results, default, cap)?).min(total);
    Ok((start..end, next_token(end, total)))
}

/// A `max_results`: at most `cap`, `default` when absent or 0.
fn page_size(asked: Option<i64>, default: usize, cap: usize) -> Result<usize, ApiError> {
    match asked {
        None | Some(0) => Ok(default),
        Some(n) if n < 0 => Err(ApiError::invalid(format!("max_results must be positive, not {n}"))),
        Some(n) => {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            if n > cap {
                Err(ApiError::invalid(format!(
                    "max_results {n} is more than the {cap} one page may hold"
                )))
            } else {
                Ok(n)
            }
        }
    }
}

/// The offset a page token stands for ("" or absent: the first page).
fn page_offset(token: Option<&str>) -> Result<usize, ApiError> {
    use base64::Engine;
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(0);
    };
    let bad = || {
        ApiError::invalid(format!(
            "page_token {token:?} is not one this server gave: pass the next_page_token of the previous page"
        ))
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token)
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    text.strip_prefix("offset:")
        .and_then(|n| n.parse().ok())
        .ok_or_else(bad)
}

/// The token of the page starting at `next`, if there are more.
fn next_token(next: usize, total: usize) -> Option<String> {
    use base64::Engine;
    (next < total).then(|| base64::engine::general_purpose::STANDARD.encode(format!("offset:{next}")))
}

#[cfg(test)]
mod tests {
    use super::page_range;

    #[test]
    fn pages_walk_the_list_once_and_the_last_has_no_token() {
        let mut token: Option<String> = None;
        let mut seen = Vec::new();
        loop {
            let (range, next) = page_range(5, Some(2), token.as_deref(), 10, 10).expect("page");
            seen.push(range);
            match next {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        assert_eq!(seen, vec![0..2, 2..4, 4..5]);
    }

    #[test]
    fn limits_and_tokens_are_checked() {
        assert_eq!(page_range(3, None, None, 10, 10).expect("default").0, 0..3);
        assert!(page_range(3, Some(11), None, 10, 10).is_err());
        assert!(page_range(3, Some(-1), None, 10, 10).is_err());
        assert!(page_range(3, None, Some("garbage"), 10, 10).is_err());
        // A token past the end (the list shrank between pages): empty, no next.
        let (_, far) = page_range(100, Some(50), None, 10, 100).expect("first");
        let (range, next) = page_range(3, None, far.as_deref(), 10, 10).expect("past the end");
        assert!(range.is_empty());
        assert_eq!(next, None);
    }
}
