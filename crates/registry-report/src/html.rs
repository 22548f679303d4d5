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

/// The whole page, for one model.
pub fn render_html(data: &ReportData) -> String {
    render_html_models(std::slice::from_ref(data))
}

/// The whole page for several models (as [`ReportData::collect_models`]
/// reads them): an index of the models, then each model's sections. With
/// more than one, every element id starts with the model's name (model
/// names are ASCII letters, digits, `-` and `_`: safe in an id), so each
/// model's table, pager and cards work on their own.
pub fn render_html_models(models: &[ReportData]) -> String {
    let versions: usize = models.iter().map(|m| m.versions.len()).sum();
    let mut out = String::with_capacity(4096 + versions * 3000);
    let location = models
        .first()
        .map_or("", |m| if models.len() > 1 { &m.registry } else { &m.location });
    let title = format!("modelreg report: {location}");
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style></head>\n<body>\n",
        esc(&title)
    );
    if models.len() > 1 {
        models_index(&mut out, models);
    }
    out.push_str("<main>\n");
    for data in models {
        let page = Page {
            data,
            prefix: if models.len() > 1 {
                format!("{}-", data.model)
            } else {
                String::new()
            },
            several: models.len() > 1,
        };
        let _ = writeln!(
            out,
            "<div class=\"model\" id=\"{}model\" data-model=\"{}\">",
            page.prefix,
            esc(&data.model)
        );
        header(&mut out, &page);
        chart_section(&mut out, &page);
        versions_section(&mut out, &page);
        timelines_section(&mut out, &page);
        cards_section(&mut out, &page);
        out.push_str("</div>\n");
    }
    out.push_str("</main>\n");
    let _ = write!(out, "<script>{SCRIPT}</script>\n</body></html>\n");
    out
}

/// One model's part of the page: its data and the prefix of its ids.
struct Page<'a> {
    data: &'a ReportData,
    prefix: String,
    several: bool,
}

impl Page<'_> {
    /// The link to a version's card.
    fn card_href(&self, version: &str) -> String {
        format!("#{}card-{}", self.prefix, esc(version))
    }
}

/// The page's own header when it shows several models: where, when, and a
/// row per model.
fn models_index(out: &mut String, models: &[ReportData]) {
    let _ = write!(
        out,
        "<header class=\"registry\"><h1>Model registry</h1><p class=\"meta\"><code>{}</code> · {} models · generated {}</p>\n<table class=\"models\"><thead><tr><th>model</th><th>versions</th><th>aliases</th></tr></thead><tbody>",
        esc(&models[0].registry),
        models.len(),
        utc_seconds(models[0].generated_at)
    );
    for m in models {
        let aliases: Vec<String> = m
            .aliases
            .iter()
            .map(|a| format!("{} → {}", esc(a.alias.as_str()), esc(&a.version.to_string())))
            .collect();
        let _ = write!(
            out,
            "<tr data-model=\"{0}\"><td><a href=\"#{0}-model\">{0}</a></td><td class=\"num\">{1}</td><td>{2}</td></tr>",
            esc(&m.model),
            m.versions.len(),
            aliases.join(", ")
        );
    }
    out.push_str("</tbody></table></header>\n");
}

fn aliases_of<'a>(data: &'a ReportData, md: &ModelMetadata) -> Vec<&'a AliasRecord> {
    data.aliases.iter().filter(|a| a.version == md.version).collect()
}

fn header(out: &mut String, page: &Page<'_>) {
    let data = page.data;
    let p = &page.prefix;
    let (tag, title) = if page.several {
        ("h2", format!("Model {}", esc(&data.model)))
    } else {
        let named = if data.model == registry_core::ModelName::DEFAULT {
            String::new()
        } else {
            format!(": {}", esc(&data.model))
        };
        ("h1", format!("Model registry{named}"))
    };
    let _ = write!(
        out,
        "<header><{tag} class=\"model-title\">{title}</{tag}><p class=\"meta\"><code>{}</code> · {} version{} · generated {}</p>\n<ul class=\"alias-summary\">",
        esc(&data.location),
        data.versions.len(),
        if data.versions.len() == 1 { "" } else { "s" },
        utc_seconds(data.generated_at)
    );
    for a in &data.aliases {
        let v = a.version.to_string();
        let _ = write!(
            out,
            "<li><span class=\"badge badge-{0}\">{0}</span> → <a href=\"{1}\">{2}</a></li>",
            esc(a.alias.as_str()),
            page.card_href(&v),
            esc(&v)
        );
    }
    let _ = write!(
        out,
        "</ul>\n<nav><a href=\"#{p}scores\">Scores</a> <a href=\"#{p}versions-section\">Versions</a> <a href=\"#{p}aliases\">Alias history</a> <a href=\"#{p}cards\">Model cards</a></nav>"
    );
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

fn chart_section(out: &mut String, page: &Page<'_>) {
    let data = page.data;
    let p = &page.prefix;
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
        "<section id=\"{p}scores\"><h2>Scores across versions</h2>\n<svg id=\"{p}chart\" class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"test and CV accuracy per version\">\n"
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

fn versions_section(out: &mut String, page: &Page<'_>) {
    let data = page.data;
    let p = &page.prefix;
    let _ = write!(
        out,
        "<section id=\"{p}versions-section\"><h2>Versions</h2>\n<div class=\"pager\" data-page-size=\"{PAGE_SIZE}\"><button type=\"button\" id=\"{p}prev\" class=\"prev\">‹ newer</button> <span id=\"{p}page-info\" class=\"page-info\"></span> <button type=\"button\" id=\"{p}next\" class=\"next\">older ›</button> <button type=\"button\" id=\"{p}all\" class=\"all\">show all</button></div>\n<table id=\"{p}versions\" class=\"versions\"><thead><tr>\
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
            "<tr data-version=\"{v}\"><td data-sort=\"{index}\"><a href=\"#{p}card-{v}\">{v}</a></td><td data-sort=\"{}\">{}</td><td class=\"num\" data-sort=\"{}\">{}</td><td class=\"num\" data-sort=\"{}\">{} ± {}</td><td data-sort=\"{}\">{}</td><td data-sort=\"{}\">{}</td><td data-sort=\"{}\">{}</td></tr>",
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

fn move_item(out: &mut String, page: &Page<'_>, r: &AliasRecord) {
    let action = serde_json::to_value(r.action).map(|v| plain(&v)).unwrap_or_default();
    let from = r.previous.as_ref().map_or("(new)".to_string(), |p| p.to_string());
    let _ = write!(
        out,
        "<li class=\"move move-{0}\"><time datetime=\"{1}\">{1}</time> <span class=\"action\">{0}</span> <span class=\"from\">{2}</span> → <a href=\"{7}\">{3}</a> <span class=\"by\">by {4}@{5}</span> <span class=\"seq\">#{6}</span></li>",
        esc(&action),
        utc_seconds(r.moved_at),
        esc(&from),
        esc(&r.version.to_string()),
        esc(&r.moved_by.user),
        esc(&r.moved_by.host),
        r.seq,
        page.card_href(&r.version.to_string())
    );
}

fn timelines_section(out: &mut String, page: &Page<'_>) {
    let data = page.data;
    let _ = writeln!(out, "<section id=\"{}aliases\"><h2>Alias history</h2>", page.prefix);
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
                move_item(out, page, r);
            }
            out.push_str("</ol></details>");
        }
        out.push_str("<ol>");
        for r in &history[split..] {
            move_item(out, page, r);
        }
        out.push_str("</ol></div>\n");
    }
    out.push_str("</section>\n");
}

fn cards_section(out: &mut String, page: &Page<'_>) {
    let data = page.data;
    let _ = writeln!(
        out,
        "<section id=\"{}cards\"><h2>Model cards</h2><p class=\"hint\">Click a version to open its card.</p>",
        page.prefix
    );
    for md in data.versions.iter().rev() {
        out.push_str(&data.card(md).to_html_in(&page.prefix));
    }
    out.push_str("</section>\n");
}

/// The page's style, inlined (the CSP forbids fetching any).
const STYLE: &str = include_str!("report.css");

/// Sorting, pagination and opening a linked card; the page works without it.
const SCRIPT: &str = include_str!("report.js");
