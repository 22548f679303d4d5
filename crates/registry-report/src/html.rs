//! The report page: one HTML string with its style, chart and script inline.

use std::fmt::Write;

use registry_core::{AliasRecord, ModelMetadata};

use crate::card::{plain, score};
use crate::{ReportData, escape_html as esc, utc_seconds};

/// Rows per page of the versions table (the script pages; without it every
/// row shows).
const PAGE_SIZE: usize = 50;
/// Alias moves shown before the rest collapse.
const RECENT_MOVES: usize = 20;
/// Above this many versions the chart leaves out the CV error bars.
const ERROR_BARS_UP_TO: usize = 200;

/// No fetch of any kind: only inline style and script, images as data: URLs.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

/// The whole page.
pub fn render_html(data: &ReportData) -> String {
    let mut out = String::with_capacity(4096 + data.versions.len() * 3000);
    let title = format!("modelreg report: {}", data.location);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style></head>\n<body>\n",
        esc(&title)
    );
    header(&mut out, data);
    out.push_str("<main>\n");
    chart_section(&mut out, data);
    versions_section(&mut out, data);
    timelines_section(&mut out, data);
    cards_section(&mut out, data);
    out.push_str("</main>\n");
    let _ = write!(out, "<script>{SCRIPT}</script>\n</body></html>\n");
    out
}

fn aliases_of<'a>(data: &'a ReportData, md: &ModelMetadata) -> Vec<&'a AliasRecord> {
    data.aliases.iter().filter(|a| a.version == md.version).collect()
}

fn header(out: &mut String, data: &ReportData) {
    let _ = write!(
        out,
        "<header><h1>Model registry</h1><p class=\"meta\"><code>{}</code> · {} version{} · generated {}</p>\n<ul class=\"alias-summary\">",
        esc(&data.location),
        data.versions.len(),
        if data.versions.len() == 1 { "" } else { "s" },
        utc_seconds(data.generated_at)
    );
    for a in &data.aliases {
        let _ = write!(
            out,
            "<li><span class=\"badge badge-{0}\">{0}</span> → <a href=\"#card-{1}\">{1}</a></li>",
            esc(a.alias.as_str()),
            esc(&a.version.to_string())
        );
    }
    out.push_str("</ul>\n<nav><a href=\"#scores\">Scores</a> <a href=\"#versions-section\">Versions</a> <a href=\"#aliases\">Alias history</a> <a href=\"#cards\">Model cards</a></nav>");
    if !data.unreadable.is_empty() {
        out.push_str("<div class=\"warning\"><b>Unreadable versions</b> (run <code>registry verify</code>):<ul>");
        for (v, e) in &data.unreadable {
            let _ = write!(out, "<li><b>{}</b>: {}</li>", esc(&v.to_string()), esc(e));
        }
        out.push_str("</ul></div>");
    }
    out.push_str("</header>\n");
}

/// Test and CV scores per version as inline SVG, versions evenly spaced in
/// semver order, with a marker per alias.
/// Runs of consecutive versions evaluated on the same data: (first index,
/// last index, the data's name and short digest).
fn data_segments(versions: &[ModelMetadata]) -> Vec<(usize, usize, String)> {
    let label = |m: &ModelMetadata| {
        m.info.lineage.data.as_ref().map_or_else(
            || "unknown".to_string(),
            |d| format!("{}@{}", d.name, d.sha256.get(..8).unwrap_or(&d.sha256)),
        )
    };
    let mut out: Vec<(usize, usize, String)> = Vec::new();
    for (i, m) in versions.iter().enumerate() {
        let l = label(m);
        match out.last_mut() {
            Some(last) if last.2 == l => last.1 = i,
            _ => out.push((i, i, l)),
        }
    }
    out
}

fn chart_section(out: &mut String, data: &ReportData) {
    const W: f64 = 960.0;
    const H: f64 = 300.0;
    const LEFT: f64 = 52.0;
    const RIGHT: f64 = 940.0;
    const TOP: f64 = 34.0;
    const BOTTOM: f64 = 250.0;
    let versions = &data.versions;
    let n = versions.len();
    let scores: Vec<f64> = versions
        .iter()
        .flat_map(|m| {
            let cv = m.info.cv_score.map(|c| (c, m.info.cv_std.unwrap_or(0.0)));
            [m.info.test_score, cv.map(|(c, s)| c - s), cv.map(|(c, s)| c + s)]
        })
        .flatten()
        .filter(|s| s.is_finite())
        .collect();
    let (lo, hi) = if scores.is_empty() {
        (0.0, 1.0)
    } else {
        let min = scores.iter().copied().fold(f64::INFINITY, f64::min);
        let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lo = ((min - 0.01) * 20.0).floor() / 20.0;
        let hi = ((max + 0.01) * 20.0).ceil() / 20.0;
        (lo.max(0.0), hi.min(1.0).max(lo + 0.05))
    };
    let x = |i: usize| {
        if n <= 1 {
            (LEFT + RIGHT) / 2.0
        } else {
            LEFT + (RIGHT - LEFT) * i as f64 / (n - 1) as f64
        }
    };
    let y = |s: f64| BOTTOM - (BOTTOM - TOP) * (s.clamp(lo, hi) - lo) / (hi - lo);

    let _ = write!(
        out,
        "<section id=\"scores\"><h2>Scores across versions</h2>\n<svg id=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"test and CV accuracy per version\">\n"
    );
    // Horizontal grid with the score axis.
    let tick_step = [0.01, 0.02, 0.05, 0.1, 0.2, 0.25]
        .into_iter()
        .find(|step| (hi - lo) / step <= 8.0)
        .unwrap_or(0.25);
    let first_tick = (lo / tick_step).ceil() as i64;
    let last_tick = (hi / tick_step + 1e-9).floor() as i64;
    for k in first_tick..=last_tick {
        let s = k as f64 * tick_step;
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{RIGHT}\" y1=\"{0:.1}\" y2=\"{0:.1}\"/><text class=\"tick\" x=\"{1}\" y=\"{2:.1}\" text-anchor=\"end\">{s:.2}</text>",
            y(s),
            LEFT - 6.0,
            y(s) + 4.0
        );
    }
    // Version labels along the bottom, at most ~12.
    let step = n.div_ceil(12).max(1);
    for (i, md) in versions.iter().enumerate() {
        if i % step == 0 || i + 1 == n {
            let _ = write!(
                out,
                "<text class=\"tick\" x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                x(i),
                BOTTOM + 18.0,
                esc(&md.version.to_string())
            );
        }
    }
    // Alias markers.
    // Labels closer than 80 px stack upwards so they never overlap.
    let mut placed: Vec<(f64, usize)> = Vec::new();
    for alias in &data.aliases {
        let Some(i) = versions.iter().position(|m| m.version == alias.version) else {
            continue;
        };
        let level = (0..)
            .find(|level| !placed.iter().any(|(px, l)| l == level && (px - x(i)).abs() < 80.0))
            .unwrap_or(0);
        placed.push((x(i), level));
        let _ = write!(
            out,
            "<g class=\"alias-marker alias-{0}\" data-alias=\"{0}\" data-version=\"{1}\"><line x1=\"{2:.1}\" x2=\"{2:.1}\" y1=\"{TOP}\" y2=\"{BOTTOM}\"/><text x=\"{2:.1}\" y=\"{3}\" text-anchor=\"{4}\">{0}</text></g>",
            esc(alias.alias.as_str()),
            esc(&alias.version.to_string()),
            x(i),
            TOP - 6.0 - 12.0 * level as f64,
            if x(i) > RIGHT - 40.0 {
                "end"
            } else if x(i) < LEFT + 40.0 {
                "start"
            } else {
                "middle"
            }
        );
    }
    // Which data each run of versions was evaluated on: scores measured on
    // different data are not comparable, so each run gets its own band and
    // label, and the lines break between runs.
    let segments = data_segments(versions);
    if segments.len() > 1 {
        let half = if n > 1 {
            (RIGHT - LEFT) / (n - 1) as f64 / 2.0
        } else {
            20.0
        };
        for (k, (start, end, label)) in segments.iter().enumerate() {
            let (x0, x1) = ((x(*start) - half).max(LEFT), (x(*end) + half).min(RIGHT));
            let _ = write!(
                out,
                "<g class=\"data-band\" data-data=\"{0}\"><rect class=\"band-{1}\" x=\"{2:.1}\" y=\"{TOP}\" width=\"{3:.1}\" height=\"{4:.1}\"/><text x=\"{5:.1}\" y=\"{6:.1}\">data: {0}</text></g>",
                esc(label),
                k % 2,
                x0,
                (x1 - x0).max(1.0),
                BOTTOM - TOP,
                x0 + 4.0,
                BOTTOM - 6.0
            );
        }
    }
    // Lines, error bars, then points on top.
    for (class, pick) in [
        (
            "line-cv",
            (|m: &ModelMetadata| m.info.cv_score) as fn(&ModelMetadata) -> Option<f64>,
        ),
        ("line-test", |m: &ModelMetadata| m.info.test_score),
    ] {
        for (start, end, _) in &segments {
            let points: Vec<String> = (*start..=*end)
                .filter_map(|i| pick(&versions[i]).map(|s| format!("{:.1},{:.1}", x(i), y(s))))
                .collect();
            let _ = write!(out, "<polyline class=\"{class}\" points=\"{}\"/>", points.join(" "));
        }
    }
    if n <= ERROR_BARS_UP_TO {
        for (i, m) in versions.iter().enumerate() {
            if let (Some(c), Some(s)) = (m.info.cv_score, m.info.cv_std) {
                let _ = write!(
                    out,
                    "<line class=\"err\" x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1:.1}\" y2=\"{2:.1}\"/>",
                    x(i),
                    y(c - s),
                    y(c + s)
                );
            }
        }
    }
    let r = if n > 200 { 2.0 } else { 3.5 };
    for (i, m) in versions.iter().enumerate() {
        let v = esc(&m.version.to_string());
        if let Some(c) = m.info.cv_score {
            let _ = write!(
                out,
                "<circle class=\"pt pt-cv\" data-version=\"{v}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"{r}\"><title>{v}: CV {} ± {}</title></circle>",
                x(i),
                y(c),
                score(Some(c)),
                score(m.info.cv_std)
            );
        }
        if let Some(t) = m.info.test_score {
            let _ = write!(
                out,
                "<circle class=\"pt pt-test\" data-version=\"{v}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"{r}\"><title>{v}: test {}</title></circle>",
                x(i),
                y(t),
                score(Some(t))
            );
        }
    }
    let _ = write!(
        out,
        "<g class=\"legend\"><circle class=\"pt pt-test\" cx=\"{0}\" cy=\"{1}\" r=\"4\"/><text x=\"{2}\" y=\"{3}\">test accuracy</text><circle class=\"pt pt-cv\" cx=\"{4}\" cy=\"{1}\" r=\"4\"/><text x=\"{5}\" y=\"{3}\">CV accuracy ± std</text></g>",
        LEFT + 10.0,
        H - 14.0,
        LEFT + 20.0,
        H - 10.0,
        LEFT + 140.0,
        LEFT + 150.0
    );
    out.push_str("</svg></section>\n");
}

fn versions_section(out: &mut String, data: &ReportData) {
    let _ = write!(
        out,
        "<section id=\"versions-section\"><h2>Versions</h2>\n<div class=\"pager\" data-page-size=\"{PAGE_SIZE}\"><button type=\"button\" id=\"prev\">‹ newer</button> <span id=\"page-info\"></span> <button type=\"button\" id=\"next\">older ›</button> <button type=\"button\" id=\"all\">show all</button></div>\n<table id=\"versions\"><thead><tr>\
<th data-type=\"num\" aria-sort=\"descending\">version</th>\
<th data-type=\"num\">created</th>\
<th data-type=\"num\">test</th>\
<th data-type=\"num\">CV mean ± std</th>\
<th data-type=\"text\">data</th>\
<th data-type=\"text\">trained by</th>\
<th data-type=\"text\">aliases</th></tr></thead>\n<tbody>\n"
    );
    for (index, md) in data.versions.iter().enumerate().rev() {
        let info = &md.info;
        let v = esc(&md.version.to_string());
        let data_cell = info
            .lineage
            .data
            .as_ref()
            .map(|d| {
                (
                    format!("{} {}", d.name, d.sha256),
                    format!(
                        "{} <code title=\"sha256 {}\">{}</code>",
                        esc(&d.name),
                        esc(&d.sha256),
                        esc(d.sha256.get(..12).unwrap_or(&d.sha256))
                    ),
                )
            })
            .unwrap_or_else(|| (String::new(), "-".into()));
        let by = info
            .lineage
            .created_by
            .as_ref()
            .map_or("-".to_string(), |a| format!("{}@{}", a.user, a.host));
        let aliases: Vec<String> = aliases_of(data, md).iter().map(|a| a.alias.to_string()).collect();
        let badges: String = aliases
            .iter()
            .map(|a| format!("<span class=\"badge badge-{0}\">{0}</span>", esc(a)))
            .collect();
        let sort_score = |s: Option<f64>| s.map_or("-1".to_string(), |s| s.to_string());
        let _ = writeln!(
            out,
            "<tr data-version=\"{v}\"><td data-sort=\"{index}\"><a href=\"#card-{v}\">{v}</a></td><td data-sort=\"{}\">{}</td><td class=\"num\" data-sort=\"{}\">{}</td><td class=\"num\" data-sort=\"{}\">{} ± {}</td><td data-sort=\"{}\">{}</td><td data-sort=\"{}\">{}</td><td data-sort=\"{}\">{}</td></tr>",
            md.timestamp.unix_timestamp_nanos(),
            utc_seconds(md.timestamp),
            sort_score(info.test_score),
            score(info.test_score),
            sort_score(info.cv_score),
            score(info.cv_score),
            score(info.cv_std),
            esc(&data_cell.0),
            data_cell.1,
            esc(&by),
            esc(&by),
            esc(&aliases.join(" ")),
            badges
        );
    }
    out.push_str("</tbody></table></section>\n");
}

fn move_item(out: &mut String, r: &AliasRecord) {
    let action = serde_json::to_value(r.action).map(|v| plain(&v)).unwrap_or_default();
    let from = r.previous.as_ref().map_or("(new)".to_string(), |p| p.to_string());
    let _ = write!(
        out,
        "<li class=\"move move-{0}\"><time datetime=\"{1}\">{1}</time> <span class=\"action\">{0}</span> <span class=\"from\">{2}</span> → <a href=\"#card-{3}\">{3}</a> <span class=\"by\">by {4}@{5}</span> <span class=\"seq\">#{6}</span></li>",
        esc(&action),
        utc_seconds(r.moved_at),
        esc(&from),
        esc(&r.version.to_string()),
        esc(&r.moved_by.user),
        esc(&r.moved_by.host),
        r.seq
    );
}

fn timelines_section(out: &mut String, data: &ReportData) {
    out.push_str("<section id=\"aliases\"><h2>Alias history</h2>\n");
    if data.histories.is_empty() {
        out.push_str("<p>No aliases yet.</p>");
    }
    for (alias, history) in &data.histories {
        let current = history.last().map_or("-".to_string(), |r| r.version.to_string());
        let _ = write!(
            out,
            "<div class=\"timeline\" data-alias=\"{0}\"><h3><span class=\"badge badge-{0}\">{0}</span> → {1} <small>({2} move{3})</small></h3>",
            esc(alias.as_str()),
            esc(&current),
            history.len(),
            if history.len() == 1 { "" } else { "s" }
        );
        let split = history.len().saturating_sub(RECENT_MOVES);
        if split > 0 {
            let _ = write!(out, "<details><summary>{split} earlier moves</summary><ol>");
            for r in &history[..split] {
                move_item(out, r);
            }
            out.push_str("</ol></details>");
        }
        out.push_str("<ol>");
        for r in &history[split..] {
            move_item(out, r);
        }
        out.push_str("</ol></div>\n");
    }
    out.push_str("</section>\n");
}

fn cards_section(out: &mut String, data: &ReportData) {
    out.push_str("<section id=\"cards\"><h2>Model cards</h2><p class=\"hint\">Click a version to open its card.</p>\n");
    for md in data.versions.iter().rev() {
        out.push_str(&data.card(md).to_html());
    }
    out.push_str("</section>\n");
}

const STYLE: &str = r#"
:root { --ink:#1f2328; --muted:#59636e; --line:#d1d9e0; --test:#2563eb; --cv:#d97706; --bg:#fff; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); margin: 0 auto; max-width: 1100px; padding: 16px 24px 64px; }
h1 { margin: 0 0 4px; font-size: 24px; } h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 12px 0 4px; } h4 { margin: 10px 0 4px; font-size: 13px; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; }
.meta, .hint, small { color: var(--muted); } code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
nav a { margin-right: 14px; } a { color: #0969da; text-decoration: none; } a:hover { text-decoration: underline; }
.alias-summary { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 8px 0; }
.badge { display: inline-block; padding: 0 7px; border-radius: 10px; font-size: 12px; background: #e7ecf0; color: #24292f; margin-right: 3px; }
.badge-latest { background: #dbeafe; color: #1e40af; } .badge-production { background: #dcfce7; color: #166534; } .badge-staging { background: #fef3c7; color: #92400e; }
.warning { border: 1px solid #f0b429; background: #fff8e1; padding: 6px 12px; border-radius: 6px; margin-top: 8px; }
#chart { width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; }
#chart .grid { stroke: #eef1f4; } #chart .tick { font-size: 11px; fill: var(--muted); }
#chart .line-test { fill: none; stroke: var(--test); stroke-width: 1.5; } #chart .line-cv { fill: none; stroke: var(--cv); stroke-width: 1.5; stroke-dasharray: 4 3; }
#chart .pt-test { fill: var(--test); } #chart .pt-cv { fill: var(--cv); } #chart .err { stroke: var(--cv); stroke-opacity: .45; }
#chart .alias-marker line { stroke: #6b7280; stroke-dasharray: 2 3; } #chart .alias-marker text { font-size: 11px; fill: #374151; font-weight: 600; }
#chart .alias-production line { stroke: #16a34a; } #chart .alias-staging line { stroke: #d97706; } #chart .alias-latest line { stroke: #2563eb; }
#chart .legend text { font-size: 12px; fill: var(--ink); }
#chart .data-band .band-0 { fill: #f6f8fa; } #chart .data-band .band-1 { fill: #eef2f7; } #chart .data-band text { font-size: 10px; fill: var(--muted); }
table { border-collapse: collapse; } #versions { width: 100%; }
#versions th, #versions td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; }
#versions th { cursor: pointer; user-select: none; background: #f6f8fa; position: sticky; top: 0; }
#versions th[aria-sort=ascending]::after { content: " ▲"; } #versions th[aria-sort=descending]::after { content: " ▼"; }
#versions tbody tr:hover { background: #f6f8fa; } .num { text-align: right; font-variant-numeric: tabular-nums; }
.pager { margin: 6px 0; } .pager button { font: inherit; padding: 1px 10px; }
.timeline ol { list-style: none; margin: 0; padding: 0 0 0 18px; border-left: 2px solid var(--line); }
.timeline li { position: relative; padding: 2px 0 2px 8px; } .timeline li::before { content: ""; position: absolute; left: -25px; top: 8px; width: 10px; height: 10px; border-radius: 50%; background: #9ca3af; }
.timeline .move-promote::before { background: #16a34a; } .timeline .move-rollback::before { background: #dc2626; } .timeline .move-save::before { background: #2563eb; }
.timeline time { color: var(--muted); font-variant-numeric: tabular-nums; } .timeline .action { font-weight: 600; } .timeline .by, .timeline .seq { color: var(--muted); }
details.card { border: 1px solid var(--line); border-radius: 6px; margin: 6px 0; } details.card > summary { cursor: pointer; padding: 6px 10px; }
details.card[open] > summary { border-bottom: 1px solid var(--line); background: #f6f8fa; } .card-body { padding: 4px 12px 10px; display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 0 24px; }
table.kv th, table.kv td { text-align: left; padding: 2px 8px 2px 0; vertical-align: top; border-bottom: 1px solid #f0f2f4; } table.kv th { color: var(--muted); font-weight: 500; }
table.kv td { word-break: break-all; }
.confusion { display: grid; gap: 2px; width: max-content; } .confusion div { padding: 6px 10px; text-align: center; font-variant-numeric: tabular-nums; }
.confusion .head, .confusion .corner { color: var(--muted); font-size: 12px; } .confusion .cell { border-radius: 3px; font-weight: 600; }
"#;

const SCRIPT: &str = r#"
(function () {
  "use strict";
  var table = document.getElementById("versions");
  var tbody = table.tBodies[0];
  var pager = document.querySelector(".pager");
  var pageSize = Number(pager.dataset.pageSize);
  var page = 0, showAll = false;
  var info = document.getElementById("page-info");
  var prev = document.getElementById("prev"), next = document.getElementById("next"), all = document.getElementById("all");
  function paginate() {
    var rows = tbody.rows, pages = Math.max(1, Math.ceil(rows.length / pageSize));
    if (page >= pages) page = pages - 1;
    for (var i = 0; i < rows.length; i++) {
      rows[i].hidden = !showAll && (i < page * pageSize || i >= (page + 1) * pageSize);
    }
    info.textContent = showAll ? "all " + rows.length + " versions" : "page " + (page + 1) + " of " + pages + " (" + rows.length + " versions)";
    prev.disabled = showAll || page === 0;
    next.disabled = showAll || page >= pages - 1;
    all.textContent = showAll ? "pages" : "show all";
    pager.hidden = rows.length <= pageSize;
  }
  prev.addEventListener("click", function () { page--; paginate(); });
  next.addEventListener("click", function () { page++; paginate(); });
  all.addEventListener("click", function () { showAll = !showAll; paginate(); });
  var headers = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(headers, function (th, column) {
    th.addEventListener("click", function () {
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      var numeric = th.dataset.type === "num";
      var rows = Array.prototype.slice.call(tbody.rows);
      var key = function (row) {
        var v = row.cells[column].dataset.sort;
        return numeric ? Number(v) : v.toLowerCase();
      };
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        var order = x < y ? -1 : x > y ? 1 : 0;
        if (order === 0) order = Number(a.cells[0].dataset.sort) - Number(b.cells[0].dataset.sort);
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { tbody.appendChild(row); });
      Array.prototype.forEach.call(headers, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      page = 0;
      paginate();
    });
  });
  function openCard() {
    var id = decodeURIComponent(location.hash.slice(1));
    var card = id && document.getElementById(id);
    if (card && card.tagName === "DETAILS") { card.open = true; }
  }
  window.addEventListener("hashchange", openCard);
  openCard();
  paginate();
})();
"#;
