//! One JSON line on stderr per start, reload and shutdown, for a log
//! collector to parse.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub fn event(event: &str, fields: &[(&str, String)]) {
    let mut line = serde_json::Map::new();
    line.insert(
        "ts".into(),
        OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default().into(),
    );
    line.insert("event".into(), event.into());
    for (k, v) in fields {
        line.insert((*k).into(), v.clone().into());
    }
    eprintln!("{}", serde_json::Value::Object(line));
}
