//! `GET /`: the registry's report (every model), regenerated from the
//! catalog on each request: the page `registry report` writes, live.
//! Where the registry is on the server's disk is not the readers'
//! business: the page names models, never local paths.

use crate::Shared;
use crate::error::ApiResult;
use axum::extract::State;
use axum::response::Html;
use registry_report::{ReportData, render_html_models};

pub async fn report(State(s): State<Shared>) -> ApiResult<Html<String>> {
    crate::blocking(move || {
        let root = s.registry.with_model(None);
        let mut models = ReportData::collect_models(&root)?;
        let location = root.registry_location();
        for m in &mut models {
            m.location = format!("models:/{}", m.model);
            m.registry = "registry serve".into();
            for (_, why) in &mut m.unreadable {
                *why = why.replace(&location, "");
            }
        }
        Ok(Html(render_html_models(&models)))
    })
    .await
}
