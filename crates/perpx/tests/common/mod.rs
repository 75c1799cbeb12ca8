//! The harness of the server tests: the real binary on a loopback port, real HTTP requests signed
//! as a client would sign them.

#![allow(dead_code)]

pub mod ws;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use perpx_server::auth::{sign, signed_bytes};
use serde_json::{Value, json};

pub struct Key {
    pub key: String,
    pub secret: String,
}

pub struct Server {
    pub child: Child,
    pub base: String,
    pub admin: Key,
    pub traders: Vec<Key>,
    pub agent: ureq::Agent,
    _dir: TempDir,
}

/// A directory removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        drop(std::fs::remove_dir_all(&self.0));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.child.kill());
        drop(self.child.wait());
    }
}

pub fn temp_dir(name: &str) -> TempDir {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("perpx-test-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

/// Starts the binary with the demo venue; the oracle and ticks are slowed down unless `live`, so
/// the state only changes when the test changes it.
pub fn start(name: &str, live: bool) -> Server {
    start_with(name, live, "")
}

/// [`start`] with more TOML settings.
pub fn start_with(name: &str, live: bool, extra: &str) -> Server {
    spawn(temp_dir(name), live, extra)
}

impl Server {
    /// Kills the server (SIGKILL: no clean shutdown) and starts it again on the same data.
    pub fn kill_and_restart(self) -> Server {
        self.kill_and_restart_with(|_| {})
    }

    /// [`Server::kill_and_restart`], running `between` on the data directory while it is down.
    pub fn kill_and_restart_with(mut self, between: impl FnOnce(&std::path::Path)) -> Server {
        drop(self.child.kill());
        drop(self.child.wait());
        let dir = std::mem::replace(&mut self._dir, TempDir(std::path::PathBuf::new()));
        between(&dir.0.join("data"));
        spawn(dir, false, "")
    }
}

fn spawn(dir: TempDir, live: bool, extra: &str) -> Server {
    let config = dir.0.join("perpx.toml");
    let quiet = if live { "" } else { "oracle_interval_ms = 3600000\ntick_interval_ms = 3600000\n" };
    std::fs::write(&config, format!("{quiet}max_body_bytes = 4096\n{extra}")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_perpx"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.0.join("data"))
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut base, mut admin, mut traders) = (None, None, Vec::new());
    // On a restart the keys are not printed again: they are read from the key store.
    let keys = dir.0.join("data").join("keys.json");
    if let Ok(text) = std::fs::read_to_string(&keys) {
        let stored: serde_json::Map<String, Value> = serde_json::from_str(&text).unwrap();
        let mut by_account: Vec<(u64, Key)> = Vec::new();
        for v in stored.values() {
            let k = Key { key: v["key"].as_str().unwrap().into(), secret: v["secret"].as_str().unwrap().into() };
            match v["account"].as_u64() {
                None => admin = Some(k),
                Some(a) => by_account.push((a, k)),
            }
        }
        by_account.sort_by_key(|(a, _)| *a);
        traders = by_account.into_iter().map(|(_, k)| k).collect();
    }
    while base.is_none() || admin.is_none() || traders.len() < 2 {
        let line = lines.next().expect("the server prints its address and keys").unwrap();
        if let Some(rest) = line.strip_prefix("perpx: serving on ") {
            base = Some(rest.split_whitespace().next().unwrap().to_owned());
        } else if let Some((_, j)) = line.split_once("(shown once): ") {
            let v: Value = serde_json::from_str(j).unwrap();
            let k = Key { key: v["key"].as_str().unwrap().into(), secret: v["secret"].as_str().unwrap().into() };
            if v["role"] == "admin" {
                admin = Some(k);
            } else {
                traders.push(k);
            }
        }
    }
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    Server { child, base: base.unwrap(), admin: admin.unwrap(), traders, agent, _dir: dir }
}

/// The last timestamp a request was signed with: each request gets a later one, so two
/// identical requests in the same millisecond don't share a signature (the server would refuse
/// the second as a replay).
static LAST_TS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// A signing timestamp: the clock, strictly after the previous one.
pub fn stamp() -> i64 {
    let now = now_ms();
    let prev = LAST_TS.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
    if prev >= now { LAST_TS.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 } else { now }
}

pub fn now_ms() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

impl Server {
    pub fn get(&self, path: &str) -> (u16, Value) {
        let mut r = self.agent.get(format!("{}{path}", self.base)).call().unwrap();
        (r.status().as_u16(), r.body_mut().read_json().unwrap_or(Value::Null))
    }

    /// A signed request with explicit parts, to forge every kind of bad signature.
    pub fn raw(&self, method: &str, path: &str, body: &str, key: &str, ts: i64, signature: &str) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut r = if method == "GET" {
            self.agent
                .get(&url)
                .header("X-PERPX-APIKEY", key)
                .header("X-PERPX-TIMESTAMP", ts.to_string())
                .header("X-PERPX-SIGNATURE", signature)
                .call()
                .unwrap()
        } else {
            self.agent
                .post(&url)
                .header("X-PERPX-APIKEY", key)
                .header("X-PERPX-TIMESTAMP", ts.to_string())
                .header("X-PERPX-SIGNATURE", signature)
                .header("content-type", "application/json")
                .send(body)
                .unwrap()
        };
        (r.status().as_u16(), r.body_mut().read_json().unwrap_or(Value::Null))
    }

    /// A signed POST that returns `None` when the connection fails (the server died) or the
    /// answer is not JSON.
    pub fn try_signed(&self, k: &Key, method: &str, path: &str, body: &str) -> Option<(u16, Value)> {
        let (status, v) = self.post_stamped(k, method, path, body, stamp())?;
        Some((status, v?))
    }

    /// A POST signed with timestamp `ts` (callers that keep their own clock: the soak and fuzz
    /// tests stamp with the wall clock). `None` when the connection fails; the body is `None`
    /// when it is not JSON.
    pub fn post_stamped(&self, k: &Key, method: &str, path: &str, body: &str, ts: i64) -> Option<(u16, Option<Value>)> {
        let sig = sign(&k.secret, &signed_bytes(&ts.to_string(), method, path, body.as_bytes()));
        let mut r = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("X-PERPX-APIKEY", &k.key)
            .header("X-PERPX-TIMESTAMP", ts.to_string())
            .header("X-PERPX-SIGNATURE", &sig)
            .header("content-type", "application/json")
            .send(body)
            .ok()?;
        let status = r.status().as_u16();
        Some((status, r.body_mut().read_json().ok()))
    }

    pub fn signed(&self, k: &Key, method: &str, path: &str, body: &str) -> (u16, Value) {
        let ts = stamp();
        let sig = sign(&k.secret, &signed_bytes(&ts.to_string(), method, path, body.as_bytes()));
        self.raw(method, path, body, &k.key, ts, &sig)
    }

    pub fn mark(&self, market: &str) -> String {
        let (status, t) = self.get(&format!("/api/v1/ticker?market={market}"));
        assert_eq!(status, 200, "{t}");
        t["mark_price"].as_str().expect("a mark").to_owned()
    }

    pub fn account(&self, k: &Key) -> Value {
        let (status, v) = self.signed(k, "GET", "/api/v1/account", "");
        assert_eq!(status, 200, "{v}");
        v
    }
}

pub fn order(market: &str, side: &str, price: &str, qty: &str, tif: &str) -> String {
    json!({ "market": market, "side": side, "order_type": "limit", "price": price, "qty": qty, "tif": tif }).to_string()
}
