//! The web console against the real binary: its embedded files (served from the binary, no
//! request off the server), the operator's risk endpoint, the simulator reports served
//! read-only (no way out of the reports directory) — and the browser tests: headless Chromium
//! driven by playwright-core (`tests/browser/console.test.mjs`) through every view, with the
//! unit tests of the console's pure modules (`tests/browser/units.test.mjs`).
//!
//! The browser test needs `node`, Debian's `chromium` and `npm ci` in `tests/browser`; `.ci/run`
//! installs them. Without them it is skipped with a message locally, and fails under `CI=true`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Server, start_with, temp_dir};
use serde_json::{Value, json};

/// A finished `perpx sim` run of the tiny scenario in `dir/tiny`.
fn sim_reports(dir: &Path) -> PathBuf {
    let tiny = Path::new(env!("CARGO_MANIFEST_DIR")).join("../perpx-sim/tests/data/tiny.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_perpx"))
        .args(["sim", tiny.to_str().unwrap(), "--seed", "3", "--out"])
        .arg(dir.join("tiny"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    dir.to_path_buf()
}

fn start_console(name: &str) -> (Server, common::TempDir) {
    let reports = temp_dir(&format!("{name}-sims"));
    let dir = sim_reports(&reports.0);
    let extra = format!("sim_reports = {}\n", toml_string(&dir));
    (start_with(name, false, &extra), reports)
}

fn toml_string(p: &Path) -> String {
    Value::String(p.to_str().unwrap().to_owned()).to_string()
}

/// GET → (status, content type, body text).
fn fetch(s: &Server, path: &str) -> (u16, String, String) {
    let mut r = s.agent.get(format!("{}{path}", s.base)).call().unwrap();
    let kind = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    (r.status().as_u16(), kind, r.body_mut().read_to_string().unwrap_or_default())
}

#[test]
fn the_console_is_served_from_the_binary_and_fetches_nothing_elsewhere() {
    let (s, _reports) = start_console("console-files");
    let mut r = s.agent.get(format!("{}/console/", s.base)).call().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let csp = r.headers().get("content-security-policy").unwrap().to_str().unwrap().to_owned();
    assert!(csp.contains("default-src 'self'") && csp.contains("connect-src 'self'"), "{csp}");
    let html = r.body_mut().read_to_string().unwrap();
    assert!(html.contains("vendor/lightweight-charts.standalone.production.js") && html.contains("app.js"));
    for (file, kind) in [
        ("app.js", "text/javascript"),
        ("api.js", "text/javascript"),
        ("decimal.js", "text/javascript"),
        ("style.css", "text/css"),
        ("vendor/lightweight-charts.standalone.production.js", "text/javascript"),
        ("vendor/LICENSE-lightweight-charts.txt", "text/plain"),
        ("vendor/NOTICE-lightweight-charts.txt", "text/plain"),
    ] {
        let (status, content_type, body) = fetch(&s, &format!("/console/{file}"));
        assert_eq!(status, 200, "{file}");
        assert!(content_type.starts_with(kind), "{file}: {content_type}");
        // The console's own code loads nothing from another origin (links in the footer aside).
        if !file.starts_with("vendor/") {
            let code = body.lines().filter(|l| !l.trim_start().starts_with("//"));
            for line in code.filter(|l| l.contains("http://") || l.contains("https://")) {
                assert!(line.contains("<a href=\"https://www.tradingview.com/\""), "{file}: {line}");
            }
        }
    }
    assert!(fetch(&s, "/console/vendor/LICENSE-lightweight-charts.txt").2.contains("Apache License"));
    assert_eq!(fetch(&s, "/console/nope.js").0, 404);
    assert!(fetch(&s, "/").2.contains("/console/"), "the index links to the console");
}

#[test]
fn simulator_reports_are_served_read_only_and_never_outside_their_directory() {
    let (s, reports) = start_console("console-sims");
    let (status, _, body) = fetch(&s, "/console/sims.json");
    assert_eq!(status, 200);
    let runs: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(runs["runs"][0]["run"], "tiny", "{runs}");
    assert_eq!(runs["runs"][0]["kind"], "summary");
    assert!(runs["runs"][0]["files"].as_array().unwrap().contains(&json!("report.html")));
    let (status, kind, summary) = fetch(&s, "/console/sims/tiny/summary.json");
    assert_eq!((status, kind.as_str()), (200, "application/json"));
    assert!(summary.contains("final_state_hash"));
    assert_eq!(fetch(&s, "/console/sims/tiny/prices-BTC-PERP.svg").1, "image/svg+xml");
    // The server's own data directory (keys.json!) is a sibling of nothing here, but try anyway.
    for bad in [
        "/console/sims/../sims.json",
        "/console/sims/tiny/../../keys.json",
        "/console/sims/tiny/..%2F..%2Fkeys.json",
        "/console/sims/tiny/%2e%2e/summary.json",
        "/console/sims/tiny/.hidden.json",
        "/console/sims/summary.json",
        "/console/sims/tiny/timeseries.txt",
        "/console/sims//etc/passwd",
    ] {
        assert_eq!(fetch(&s, bad).0, 404, "{bad}");
    }
    // Only a finished run's files: a directory without a summary serves nothing (had the
    // reports directory been set to one holding a venue's data, its keys.json stays private).
    let data = reports.0.join("perpx-data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("keys.json"), "{\"secret\": \"...\"}").unwrap();
    assert_eq!(fetch(&s, "/console/sims/perpx-data/keys.json").0, 404);
    assert!(!fetch(&s, "/console/sims.json").2.contains("perpx-data"));
    // A symbolic link out of the reports directory is not followed out of it.
    #[cfg(unix)]
    {
        let root = &reports.0;
        let outside = temp_dir("console-outside");
        std::fs::write(outside.0.join("secret.json"), "{}").unwrap();
        std::os::unix::fs::symlink(&outside.0, root.join("tiny").join("link")).unwrap();
        assert_eq!(fetch(&s, "/console/sims/tiny/link/secret.json").0, 404);
    }
    // Without a reports directory the view says so.
    let plain = common::start("console-no-sims", false);
    let (status, _, body) = fetch(&plain, "/console/sims.json");
    assert_eq!(status, 404);
    assert!(body.contains("--sim-reports"), "{body}");
}

#[test]
fn the_risk_endpoint_gives_operators_open_interest_and_the_adl_queues() {
    let s = common::start("console-risk", false);
    let (a, b) = (&s.traders[0], &s.traders[1]);
    assert_eq!(s.signed(a, "GET", "/api/v1/admin/risk", "").0, 403, "operators only");
    let mark = s.mark("BTC-PERP");
    let (status, v) = s.signed(b, "POST", "/api/v1/order", &common::order("BTC-PERP", "sell", &mark, "0.500", "gtc"));
    assert_eq!(status, 200, "{v}");
    let (status, v) = s.signed(a, "POST", "/api/v1/order", &common::order("BTC-PERP", "buy", &mark, "0.500", "ioc"));
    assert_eq!(status, 200, "{v}");
    let (status, r) = s.signed(&s.admin, "GET", "/api/v1/admin/risk?market=BTC-PERP", "");
    assert_eq!(status, 200, "{r}");
    let m = &r["markets"][0];
    assert_eq!(r["markets"].as_array().unwrap().len(), 1);
    assert_eq!((m["market"].as_str(), m["open_interest"].as_str()), (Some("BTC-PERP"), Some("0.500")));
    for side in ["long", "short"] {
        assert_eq!(m[side]["open_interest"], "0.500", "{m}");
        assert_eq!(m[side]["holders"], 1);
        let q = &m[side]["adl_queue"][0];
        assert_eq!(q["size"], "0.500");
        assert_eq!(q["percentile"], 100);
        let pseudonym = q["account"].as_str().unwrap();
        assert!(pseudonym.len() == 12 && pseudonym.chars().all(|c| c.is_ascii_hexdigit()), "{q}");
    }
    assert_ne!(m["long"]["adl_queue"][0]["account"], m["short"]["adl_queue"][0]["account"]);
    let (status, all) = s.signed(&s.admin, "GET", "/api/v1/admin/risk", "");
    assert_eq!((status, all["markets"].as_array().map(Vec::len)), (200, Some(2)));
    assert_eq!(s.signed(&s.admin, "GET", "/api/v1/admin/risk?market=NOPE", "").0, 404);
    assert_eq!(s.signed(&s.admin, "GET", "/api/v1/admin/risk?depth=0", "").0, 400);
}

/// What the browser test needs, or why it can't run.
fn browser_setup() -> Result<(PathBuf, PathBuf), String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let chromium = std::env::var_os("PERPX_CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    if !chromium.is_file() {
        return Err(format!("no Chromium at {} (apt-get install chromium)", chromium.display()));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Err("no node on PATH".into());
    }
    if !dir.join("node_modules/playwright-core/package.json").is_file() {
        return Err(format!("playwright-core is not installed: (cd {} && npm ci)", dir.display()));
    }
    Ok((dir, chromium))
}

#[test]
fn the_console_works_in_a_real_browser() {
    let (dir, chromium) = match browser_setup() {
        Ok(x) => x,
        Err(why) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("the browser test must run in CI: {why}")
        }
        Err(why) => {
            eprintln!("SKIPPED the_console_works_in_a_real_browser: {why}");
            return;
        }
    };
    let (s, _reports) = start_console("console-browser");
    let keys = json!({
        "admin": { "key": s.admin.key, "secret": s.admin.secret },
        "traders": s.traders.iter().map(|k| json!({ "key": k.key, "secret": k.secret })).collect::<Vec<_>>(),
    });
    let shots = std::env::var_os("PERPX_SCREENSHOTS")
        .map_or_else(|| std::env::temp_dir().join("perpx-console-screenshots"), PathBuf::from);
    let out = Command::new("node")
        .args(["--test", "--test-reporter=spec", "--test-timeout=180000", "units.test.mjs", "console.test.mjs"])
        .current_dir(&dir)
        .env("PERPX_URL", &s.base)
        .env("PERPX_KEYS", keys.to_string())
        .env("PERPX_SCREENSHOTS", &shots)
        .env("PERPX_CHROMIUM", &chromium)
        .output()
        .unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the browser tests failed:\n{report}");
    println!("{report}\nscreenshots in {}", shots.display());
    for view in ["trade-filled-account-1.png", "trade-filled-account-2.png", "risk-after-liquidation.png", "sim.png"] {
        assert!(shots.join(view).metadata().is_ok_and(|m| m.len() > 10_000), "screenshot {view}");
    }
}
