//! `search_registered_models` and `search_model_versions`: every model (or
//! the one a `name = '...'` names), filtered, ordered and paged as the
//! client asks.

use crate::Server;
use crate::error::{ApiError, ApiResult};
use crate::filter::Filter;
use crate::models::{ModelRecord, ModelState, model_json, model_names, record_key};
use crate::request::{int64, page_range, strings};
use crate::versions::VersionOut;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Search {
    #[serde(default)]
    filter: Option<String>,
    #[serde(default, deserialize_with = "int64")]
    max_results: Option<i64>,
    #[serde(default, deserialize_with = "strings")]
    order_by: Vec<String>,
    #[serde(default)]
    page_token: Option<String>,
}

fn check_order(order_by: &[String], allowed: &[&str]) -> ApiResult<Vec<(String, bool)>> {
    order_by
        .iter()
        .map(|o| {
            let mut parts = o.split_whitespace();
            let field = parts.next().unwrap_or("").to_string();
            let desc = match parts.next().map(str::to_ascii_uppercase).as_deref() {
                None | Some("ASC") => false,
                Some("DESC") => true,
                Some(other) => {
                    return Err(ApiError::invalid(format!(
                        "order_by {o:?}: {other:?} is not ASC or DESC"
                    )));
                }
            };
            if !allowed.contains(&field.as_str()) || parts.next().is_some() {
                return Err(ApiError::invalid(format!(
                    "order_by {o:?}: order by one of {} with ASC or DESC",
                    allowed.join(", ")
                )));
            }
            Ok((field, desc))
        })
        .collect()
}

pub fn search_registered_models(s: &Server, r: Search) -> ApiResult<Value> {
    let filter = Filter::parse(r.filter.as_deref(), &["name"])?;
    let order = check_order(&r.order_by, &["name", "creation_timestamp", "last_updated_timestamp"])?;
    let mut models = Vec::new();
    for name in model_names(s)? {
        let record: Option<ModelRecord> = s.records().read(&record_key(&name))?;
        let tags: BTreeMap<String, String> = record
            .iter()
            .flat_map(|r| r.tags.iter().map(|t| (format!("tags.{}", t.key), t.value.clone())))
            .collect();
        if filter.matches(|a| {
            if a == "name" {
                Some(name.as_str())
            } else {
                tags.get(a).map(String::as_str)
            }
        }) {
            models.push(model_json(s, &name)?);
        }
    }
    sort_values(&mut models, &order, "name");
    page(
        models,
        "registered_models",
        r.max_results,
        r.page_token.as_deref(),
        100,
        1000,
    )
}

fn sort_values(values: &mut [Value], order: &[(String, bool)], default: &str) {
    let default = [(default.to_string(), false)];
    let order = if order.is_empty() { &default[..] } else { order };
    values.sort_by(|a, b| {
        for (field, desc) in order {
            let key = |v: &Value| -> (i64, String) {
                let f = if field == "version_number" {
                    "version"
                } else {
                    field.as_str()
                };
                match &v[f] {
                    Value::Number(n) => (n.as_i64().unwrap_or(0), String::new()),
                    Value::String(s) if f == "version" => (s.parse().unwrap_or(0), String::new()),
                    Value::String(s) => (0, s.clone()),
                    _ => (0, String::new()),
                }
            };
            let c = key(a).cmp(&key(b));
            let c = if *desc { c.reverse() } else { c };
            if c.is_ne() {
                return c;
            }
        }
        std::cmp::Ordering::Equal
    });
}

fn page(
    all: Vec<Value>,
    field: &str,
    max: Option<i64>,
    token: Option<&str>,
    default: usize,
    cap: usize,
) -> ApiResult<Value> {
    let (range, next) = page_range(all.len(), max, token, default, cap)?;
    let mut out = json!({ field: &all[range] });
    if let Some(t) = next {
        out["next_page_token"] = Value::String(t);
    }
    Ok(out)
}

/// A page of versions, serialized as it is (no JSON tree in between).
#[derive(Serialize)]
pub struct VersionsPage {
    model_versions: Vec<VersionOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

pub fn search_model_versions(s: &Server, r: Search) -> ApiResult<VersionsPage> {
    let filter = Filter::parse(
        r.filter.as_deref(),
        &["name", "run_id", "source_path", "version_number"],
    )?;
    let order = check_order(
        &r.order_by,
        &["name", "version_number", "creation_timestamp", "last_updated_timestamp"],
    )?;
    let names = match filter.equal("name") {
        Some(name) => vec![name.to_string()],
        None => model_names(s)?,
    };
    let mut versions: Vec<(u64, VersionOut)> = Vec::new();
    for name in names {
        let state = match ModelState::load(s, &name) {
            Ok(state) => state,
            Err(e) if e.code == "RESOURCE_DOES_NOT_EXIST" => continue,
            Err(e) => return Err(e),
        };
        for (n, row) in &state.rows {
            let v = state.view(*n, row).out();
            let hit = filter.matches(|a| match a {
                "name" => Some(name.as_str()),
                "version_number" => Some(v.version.as_str()),
                "run_id" => Some(v.run_id.as_str()),
                "source_path" => Some(v.source.as_str()),
                tag => v.tag(tag.strip_prefix("tags.")?),
            });
            if hit {
                versions.push((*n, v));
            }
        }
    }
    let default = [("name".to_string(), false), ("version_number".to_string(), true)];
    let order = if order.is_empty() { &default[..] } else { &order[..] };
    versions.sort_by(|(na, a), (nb, b)| {
        for (field, desc) in order {
            let c = match field.as_str() {
                "name" => a.name.cmp(&b.name),
                "version_number" => na.cmp(nb),
                "creation_timestamp" => a.creation_timestamp.cmp(&b.creation_timestamp),
                _ => a.last_updated_timestamp.cmp(&b.last_updated_timestamp),
            };
            let c = if *desc { c.reverse() } else { c };
            if c.is_ne() {
                return c;
            }
        }
        std::cmp::Ordering::Equal
    });
    let (range, next_page_token) = page_range(versions.len(), r.max_results, r.page_token.as_deref(), 10_000, 200_000)?;
    let model_versions: Vec<VersionOut> = versions.drain(range).map(|(_, v)| v).collect();
    Ok(VersionsPage {
        next_page_token,
        model_versions,
    })
}
