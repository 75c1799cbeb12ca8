//! The web console (`docs/CONSOLE.md`): its static files, embedded in the binary and served at
//! `/console/` (no CDN, no fetch at run time: it works on an offline machine); the operator's
//! risk figures the public API doesn't give (`GET /api/v1/admin/risk`: open interest per side
//! and the ADL queue of every market); and finished `perpx sim` output directories, served
//! read-only from `sim_reports` for the console's simulator view.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use axum::body::Body;
use axum::extract::Query;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use perpx_core::{AccountId, Engine, Qty, Quote};
use perpx_wire::units::{format_qty, format_quote};
use serde_json::{Value, json};

use super::{ApiError, Conn, State, authenticate, limit_ip, ok, read};
use crate::keys::Scope;

/// The console's files: name, content type, bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("index.html", "text/html; charset=utf-8", include_bytes!("../../console/index.html")),
    ("style.css", "text/css; charset=utf-8", include_bytes!("../../console/style.css")),
    ("decimal.js", "text/javascript; charset=utf-8", include_bytes!("../../console/decimal.js")),
    ("api.js", "text/javascript; charset=utf-8", include_bytes!("../../console/api.js")),
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("../../console/app.js")),
    (
        "vendor/lightweight-charts.standalone.production.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../console/vendor/lightweight-charts.standalone.production.js"),
    ),
    (
        "vendor/LICENSE-lightweight-charts.txt",
        "text/plain; charset=utf-8",
        include_bytes!("../../console/vendor/LICENSE-lightweight-charts.txt"),
    ),
    (
        "vendor/NOTICE-lightweight-charts.txt",
        "text/plain; charset=utf-8",
        include_bytes!("../../console/vendor/NOTICE-lightweight-charts.txt"),
    ),
];

/// Only the console's own origin: scripts, styles, sockets, frames and images (the charting
/// library sets inline styles from script; charts draw on canvases).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                   connect-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'";

pub(super) async fn redirect() -> Redirect {
    Redirect::permanent("/console/")
}

pub(super) async fn index() -> Response {
    asset("index.html")
}

pub(super) async fn file(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    asset(&name)
}

fn asset(name: &str) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, kind, bytes)) => (
            [
                (header::CONTENT_TYPE, *kind),
                (header::CACHE_CONTROL, "no-cache"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::CONTENT_SECURITY_POLICY, CSP),
                (header::REFERRER_POLICY, "no-referrer"),
            ],
            *bytes,
        )
            .into_response(),
        None => ApiError::not_found(format!("no console file '{name}'")).into_response(),
    }
}

/// Fixed-point text with two decimals of `num / den` (`"inf"` when `den <= 0`).
fn ratio_2dp(num: i128, den: i128) -> String {
    if den <= 0 {
        return "inf".into();
    }
    let h = num * 100 / den;
    format!("{}{}.{:02}", if h < 0 { "-" } else { "" }, (h / 100).abs(), (h % 100).abs())
}

fn narrow(x: i128) -> i64 {
    i64::try_from(x).unwrap_or(if x < 0 { i64::MIN } else { i64::MAX })
}

/// One market's risk figures: open interest per side, holders per side, and each side's ADL
/// queue in rank order (accounts as the pseudonyms of the public feeds).
fn market_risk(e: &Engine, m: &perpx_core::market::Market, salt: &[u8; 16], depth: usize) -> Value {
    let side = |sign: i64| {
        let holders = m.holders_of(sign);
        let count = holders.len();
        let oi: i64 = holders
            .filter_map(|a: AccountId| e.account(a))
            .map(|a| a.position(m.id).size.0.abs())
            .fold(0i64, i64::saturating_add);
        let ranking = e.adl_ranking(m.id, sign);
        let n = ranking.len();
        let queue: Vec<Value> = ranking
            .iter()
            .enumerate()
            .take(depth)
            .map(|(i, p)| {
                json!({
                    "account": super::ws::pseudonym(salt, p.account.0),
                    "percentile": 100 * (n - i) / n,
                    "size": format_qty(m, Qty(p.size)),
                    "unrealized_pnl": format_quote(Quote(narrow(p.upnl))),
                    "notional": format_quote(Quote(narrow(p.notional))),
                    "equity": format_quote(Quote(narrow(p.equity))),
                    "leverage": ratio_2dp(p.notional, p.equity),
                    "margin_mode": if p.isolated { "isolated" } else { "cross" },
                })
            })
            .collect();
        json!({ "open_interest": format_qty(m, Qty(oi)), "holders": count, "adl_queue": queue })
    };
    let view = perpx_wire::account::market_view(e, m.id);
    json!({
        "market": m.spec.symbol,
        "adl_policy": m.spec.liquidation.adl.name(),
        "open_interest": format_qty(m, m.open_interest),
        "mark_price": view.as_ref().and_then(|v| v.mark_price.clone()),
        "insurance_fund": view.as_ref().map(|v| v.insurance_fund.clone()),
        "insurance_fund_balance": view.as_ref().map(|v| v.insurance_fund_balance.clone()),
        "long": side(1),
        "short": side(-1),
    })
}

/// `GET /api/v1/admin/risk?market=&depth=`: per market (or the one named) the open interest of
/// each side and its holders, and each side's ADL queue (the first `depth`, default 20, at
/// most 500), accounts named by their public pseudonyms.
#[allow(clippy::too_many_arguments)]
pub(super) async fn risk(
    s: State,
    axum::extract::ConnectInfo(addr): Conn,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
    body: Body,
) -> Result<Response, ApiError> {
    authenticate(&s, addr, &method, &uri, &headers, body, Scope::Admin).await?;
    let depth: usize = match q.get("depth") {
        None => 20,
        Some(d) => d
            .parse()
            .ok()
            .filter(|d| (1..=500).contains(d))
            .ok_or_else(|| ApiError::bad_request("depth must be 1..=500"))?,
    };
    let market = q.get("market").cloned();
    let salt = s.ws.salt;
    let sym = market.clone();
    let v = read(&s, move |e| {
        let markets: Vec<Value> = e
            .markets()
            .iter()
            .filter(|m| sym.as_ref().is_none_or(|s| *s == m.spec.symbol))
            .map(|m| market_risk(e, m, &salt, depth))
            .collect();
        json!({ "seq": e.seq(), "markets": markets })
    })
    .await?;
    if let Some(symbol) = market {
        if v["markets"].as_array().is_none_or(Vec::is_empty) {
            return Err(ApiError::refused((2001, "unknown_market", format!("unknown market '{symbol}'"))));
        }
    }
    Ok(ok(v))
}

/// A name that is one plain path segment: letters, digits, `.`, `_`, `-`, not starting with a
/// dot (so never `..`, never hidden files).
fn plain_segment(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.len() <= 200
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// What the sim view may open: a report's own files.
fn report_file(name: &str) -> Option<&'static str> {
    let ext = Path::new(name).extension().and_then(|e| e.to_str())?;
    match ext {
        "json" => Some("application/json"),
        "csv" => Some("text/csv; charset=utf-8"),
        "svg" => Some("image/svg+xml"),
        "html" => Some("text/html; charset=utf-8"),
        _ => None,
    }
}

fn sim_root(s: &super::Shared) -> Result<PathBuf, ApiError> {
    s.config
        .sim_reports
        .clone()
        .ok_or_else(|| ApiError::not_found("no simulator reports are served: start `perpx serve --sim-reports DIR`"))
}

/// What makes a directory a finished run's output.
const RUN_MARKERS: [&str; 3] = ["summary.json", "montecarlo.json", "compare.json"];

/// Whether `dir` is a finished run's output (only those are served: a reports directory set to
/// somewhere broader, say one holding a venue's data directory, serves no `keys.json`).
fn is_run(dir: &Path) -> bool {
    RUN_MARKERS.iter().any(|f| dir.join(f).is_file())
}

/// The finished runs under `root`: directories (to two levels, for the runs inside Monte Carlo
/// and comparison outputs) holding a `summary.json`, `montecarlo.json` or `compare.json`.
fn list_runs(root: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    let mut walk = vec![(root.to_path_buf(), String::new(), 0)];
    while let Some((dir, rel, level)) = walk.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .filter(|n| plain_segment(n))
            .collect();
        names.sort();
        for name in names.into_iter().rev() {
            let path = dir.join(&name);
            let id = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
            let kind = RUN_MARKERS.into_iter().find(|f| path.join(f).is_file()).map(|f| f.trim_end_matches(".json"));
            if let Some(kind) = kind {
                let files: Vec<String> = std::fs::read_dir(&path)
                    .into_iter()
                    .flatten()
                    .filter_map(Result::ok)
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                    .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                    .filter(|n| plain_segment(n) && report_file(n).is_some())
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                out.push(json!({ "run": id, "kind": kind, "files": files }));
            }
            if level < 1 {
                walk.push((path, id, level + 1));
            }
        }
    }
    out.sort_by(|a, b| a["run"].as_str().cmp(&b["run"].as_str()));
    out
}

/// `GET /console/sims.json`: the finished runs the console can open.
pub(super) async fn sims(s: State, axum::extract::ConnectInfo(addr): Conn) -> Result<Response, ApiError> {
    limit_ip(&s, addr)?;
    let root = sim_root(&s)?;
    let runs = tokio::task::spawn_blocking(move || list_runs(&root))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, 6013, "io_error", e.to_string()))?;
    Ok(ok(json!({ "runs": runs })))
}

/// `GET /console/sims/RUN/FILE`: one file of a finished run, read-only. Every segment is a plain
/// name (no `..`, no hidden files, no absolute paths), only a report's kinds of files are
/// served, from a directory that is a finished run's output, and the resolved path must stay
/// under the reports directory (no symlink out).
pub(super) async fn sim_file(
    s: State,
    axum::extract::ConnectInfo(addr): Conn,
    axum::extract::Path(path): axum::extract::Path<String>,
) -> Result<Response, ApiError> {
    limit_ip(&s, addr)?;
    let root = sim_root(&s)?;
    let segments: Vec<&str> = path.split('/').collect();
    let name = segments.last().copied().unwrap_or_default();
    let kind = report_file(name);
    if segments.len() < 2 || segments.len() > 4 || !segments.iter().all(|s| plain_segment(s)) || kind.is_none() {
        return Err(ApiError::not_found(format!("no report file '{path}'")));
    }
    let rel: PathBuf = segments.iter().collect();
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(ApiError::not_found(format!("no report file '{path}'")));
    }
    let bytes = tokio::task::spawn_blocking(move || -> Option<Vec<u8>> {
        let root = root.canonicalize().ok()?;
        let full = root.join(rel).canonicalize().ok()?;
        if !full.starts_with(&root) || !full.is_file() || !full.parent().is_some_and(is_run) {
            return None;
        }
        std::fs::read(full).ok()
    })
    .await
    .ok()
    .flatten()
    .ok_or_else(|| ApiError::not_found(format!("no report file '{path}'")))?;
    Ok((
        [
            (header::CONTENT_TYPE, kind.unwrap_or("application/octet-stream")),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::{plain_segment, ratio_2dp, report_file};

    #[test]
    fn only_plain_names_and_report_files_pass() {
        for bad in ["", "..", ".", ".hidden", "a/b", "a\\b", "%2e%2e", "a b", "ü"] {
            assert!(!plain_segment(bad), "{bad}");
        }
        for good in ["tiny", "gap-20pct-compare", "worst-seed-7", "summary.json"] {
            assert!(plain_segment(good), "{good}");
        }
        assert!(report_file("report.html").is_some() && report_file("prices-BTC-PERP.svg").is_some());
        assert!(report_file("keys.json").is_some(), "json is a report kind; the root confines it");
        assert!(report_file("journal.log").is_none() && report_file("noext").is_none());
    }

    #[test]
    fn leverage_has_two_decimals() {
        assert_eq!(ratio_2dp(50_000, 1_000), "50.00");
        assert_eq!(ratio_2dp(1_234, 1_000), "1.23");
        assert_eq!(ratio_2dp(-1_234, 1_000), "-1.23");
        assert_eq!(ratio_2dp(1, 0), "inf");
    }
}
