//! `GET /`: the registry's report (every model), regenerated from the
//! catalog on each request: the page `registry report` writes, live.

use crate::Shared;
use crate::error::ApiResult;
use axum::extract::State;
use axum::response::Html;
use registry_report::{ReportData, render_html_models};

pub async fn report(State(s): State<Shared>) -> ApiResult<Html<String>> {
    crate::blocking(move || {
        let models = ReportData::collect_models(&s.registry.with_model(None))?;
        Ok(Html(render_html_models(&models)))
    })
    .await
}
