//! `perpx bench`: a load generator for a running `perpx serve`.
//!
//! Open loop: each client has a schedule of send times at the target rate and measures every
//! acknowledgement's latency from its **scheduled** time, not from when it was actually sent, so
//! a server that stalls can't hide its stall by slowing the clients down (coordinated omission).
//! Half the clients are makers (limit orders around the mark, a cancel-all every 100 orders),
//! half takers (IOC orders that cross the makers' quotes): every ack is durable when received
//! (output commit), and many carry fills. Bounded in time: it stops by itself.
//!
//! Two transports: `http` ([`http`]: one signed request per order, one request in flight per
//! client) and `ws` ([`ws`]: one WebSocket per client, a signed `auth` once, then order messages
//! pipelined — many in flight per connection, answered on the same socket).
//!
//! **Notices.** Every bench account also follows its private account stream on a second,
//! read-only WebSocket ([`notices`]): the taker's and the maker's fill notice of every trade
//! are timed from the taker order's scheduled send time (`fill_notice_taker`,
//! `fill_notice_maker`). With `--liquidations N` a gap scenario follows the load ([`gap`]): N
//! leveraged accounts, the mark moved against them by the admin, and their liquidation notices
//! and the ADL notices of the accounts deleveraged against them timed from the moment the price
//! move was sent (`liquidation_notice`, `adl_notice`). Every wait is bounded; a notice that
//! never comes is counted `missing`.

mod gap;
mod http;
mod notices;
mod ws;

use std::time::Duration;

use hdrhistogram::Histogram;
use perpx_server::auth::{sign, signed_bytes};
use serde_json::{Value, json};

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// The server, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    /// An admin key and its secret (to create the bench accounts).
    pub admin_key: String,
    /// Its secret.
    pub admin_secret: String,
    /// Concurrent clients (at least 2).
    pub clients: usize,
    /// Target orders per second over all clients.
    pub rate: u64,
    /// How long to send (s).
    pub seconds: u64,
    /// The market.
    pub market: String,
    /// First account id of the bench accounts.
    pub first_account: u64,
    /// `http` or `ws`.
    pub transport: Transport,
    /// Accounts the gap scenario drives into liquidation after the load (0: no scenario).
    pub liquidations: usize,
    /// Whether the bench accounts follow their account streams (the notice figures).
    pub notices: bool,
}

/// How the clients send their orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// One signed HTTP request per order, waiting for its answer before the next.
    Http,
    /// One WebSocket per client, orders pipelined on it.
    Ws,
}

/// What every client gets from the set-up: its key and secret, and the market's mark.
pub(crate) struct Setup {
    /// (key, secret) per client.
    pub keys: Vec<(String, String)>,
    /// The account of each client, in the order of `keys`.
    pub accounts: Vec<u64>,
    /// The mark in the market's price units (ticks times the tick's decimals).
    pub mark_units: i64,
    /// Digits after the decimal point of the market's prices.
    pub scale: usize,
}

impl Setup {
    /// A price in the market's units as a decimal string.
    pub fn fmt(&self, units: i64) -> String {
        let scale = self.scale;
        if scale == 0 {
            units.to_string()
        } else {
            let p = 10i64.pow(u32::try_from(scale).unwrap_or(0));
            format!("{}.{:0scale$}", units / p, units % p)
        }
    }

    /// The prices a client sends: a maker's 20 bids below the mark, a taker's price that
    /// crosses them all.
    pub fn prices(&self, maker: bool) -> (Vec<String>, String) {
        let m = self.mark_units;
        let prices = (0..20).map(|o| self.fmt(m + if maker { -(o + 1) } else { o + 1 } * 10)).collect();
        (prices, self.fmt(if maker { m } else { m - m / 100 }))
    }
}

struct Client {
    agent: ureq::Agent,
    url: String,
    key: String,
    secret: String,
    /// The last signing timestamp: strictly increasing, so identical requests in the same
    /// millisecond don't share a signature (the server refuses replays).
    last_ts: std::cell::Cell<i64>,
}

/// The longest the bench waits for one HTTP answer.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest latency the histograms tell apart (µs): a minute; a longer one counts as a minute.
const LATENCY_MAX_US: u64 = 60_000_000;

/// A latency histogram in µs, 1 µs to a minute, three significant digits.
fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_MAX_US, 3).expect("histogram bounds")
}

/// Records `elapsed` in µs (at least 1, at most a minute).
fn record_latency(h: &mut Histogram<u64>, elapsed: Duration) {
    let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    h.record(us.clamp(1, LATENCY_MAX_US)).ok();
}

/// p50, p99, p99.9 and max of `h`, in µs.
fn percentiles(h: &Histogram<u64>) -> Value {
    json!({
        "p50": h.value_at_quantile(0.5),
        "p99": h.value_at_quantile(0.99),
        "p999": h.value_at_quantile(0.999),
        "max": h.max(),
    })
}

fn now_ms() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Client {
    fn new(url: &str, key: &str, secret: &str) -> Self {
        // Bounded: a request the server never answers fails after HTTP_TIMEOUT instead of
        // hanging the bench.
        let agent =
            ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(HTTP_TIMEOUT)).build().into();
        Self {
            agent,
            url: url.to_owned(),
            key: key.to_owned(),
            secret: secret.to_owned(),
            last_ts: std::cell::Cell::new(0),
        }
    }

    fn call(&self, method: &str, path: &str, body: &str) -> Result<(u16, Value), String> {
        let (status, text) = self.call_text(method, path, body)?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// A POST that must succeed (set-up steps): its answer, or what went wrong.
    fn post_ok(&self, path: &str, body: &Value) -> Result<Value, String> {
        let (status, v) = self.call("POST", path, &body.to_string())?;
        if status == 200 { Ok(v) } else { Err(format!("POST {path} {body}: {status} {v}")) }
    }

    /// [`Client::call`] with the answer's body as text.
    fn call_text(&self, method: &str, path: &str, body: &str) -> Result<(u16, String), String> {
        let ts = now_ms().max(self.last_ts.get() + 1);
        self.last_ts.set(ts);
        let ts = ts.to_string();
        let sig = sign(&self.secret, &signed_bytes(&ts, method, path, body.as_bytes()));
        let url = format!("{}{path}", self.url);
        let r = if method == "GET" {
            self.agent
                .get(&url)
                .header("X-PERPX-APIKEY", &self.key)
                .header("X-PERPX-TIMESTAMP", &ts)
                .header("X-PERPX-SIGNATURE", &sig)
                .call()
        } else {
            self.agent
                .post(&url)
                .header("X-PERPX-APIKEY", &self.key)
                .header("X-PERPX-TIMESTAMP", &ts)
                .header("X-PERPX-SIGNATURE", &sig)
                .header("content-type", "application/json")
                .send(body)
        };
        let mut r = r.map_err(|e| e.to_string())?;
        let status = r.status().as_u16();
        Ok((status, r.body_mut().read_to_string().unwrap_or_default()))
    }
}

/// Creates the bench accounts' keys, funds them and reads the mark.
fn setup(c: &BenchConfig, clients: usize) -> Result<Setup, String> {
    let admin = Client::new(&c.url, &c.admin_key, &c.admin_secret);
    let mut keys = Vec::with_capacity(clients);
    for i in 0..clients {
        let account = c.first_account + i as u64;
        let (status, k) = admin.call(
            "POST",
            "/api/v1/admin/keys",
            &json!({ "account": account, "scopes": ["read", "trade"] }).to_string(),
        )?;
        if status != 200 {
            return Err(format!("creating a key: {status} {k}"));
        }
        let deposit = json!({ "type": "deposit", "account": account, "amount": "10000000" }).to_string();
        let (status, v) = admin.call("POST", "/api/v1/admin/command", &deposit)?;
        if status != 200 {
            return Err(format!("deposit: {status} {v}"));
        }
        keys.push(key_of(&k));
    }
    let (mark_units, scale) = read_mark(c)?;
    let accounts = (0..clients).map(|i| c.first_account + i as u64).collect();
    Ok(Setup { keys, accounts, mark_units, scale })
}

/// (key, secret) of a `POST admin/keys` answer.
fn key_of(k: &Value) -> (String, String) {
    (k["key"].as_str().unwrap_or_default().to_owned(), k["secret"].as_str().unwrap_or_default().to_owned())
}

/// The market's mark: (price in units, digits after the point).
fn read_mark(c: &BenchConfig) -> Result<(i64, usize), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(HTTP_TIMEOUT)).build().into();
    let ticker: Value = agent
        .get(format!("{}/api/v1/ticker?market={}", c.url, c.market))
        .call()
        .map_err(|e| e.to_string())?
        .body_mut()
        .read_json()
        .map_err(|e| e.to_string())?;
    let mark = ticker["mark_price"].as_str().ok_or("the market has no mark")?.to_owned();
    let (whole, frac) = mark.split_once('.').unwrap_or((&mark, ""));
    let units: i64 = format!("{whole}{frac}").parse().map_err(|_| format!("bad mark {mark}"))?;
    Ok((units, frac.len()))
}

/// Runs the load (and the gap scenario, if asked) and returns the report (JSON).
///
/// # Errors
/// The set-up (keys, deposits, the market's mark, the account streams) fails, or the gap
/// scenario can't build its positions.
pub fn run(c: &BenchConfig) -> Result<Value, String> {
    if c.liquidations > gap::MAX_VICTIMS {
        return Err(format!(
            "--liquidations {} is more than {}: one liquidation pass, so every notice belongs to the price move's step",
            c.liquidations,
            gap::MAX_VICTIMS
        ));
    }
    if c.liquidations > 0 && !c.notices {
        return Err("--liquidations times notices: it needs the account streams (drop --no-notices)".into());
    }
    let clients = c.clients.max(2);
    let setup = setup(c, clients)?;
    let mut streams = notices::Streams::default();
    if c.notices {
        for (account, (key, secret)) in setup.accounts.iter().zip(&setup.keys) {
            streams.open(&c.url, *account, key, secret)?;
        }
    }
    let (mut report, fills) = match c.transport {
        Transport::Ws => ws::run(c, clients, &setup)?,
        Transport::Http => http::run(c, clients, &setup)?,
    };
    report["fills_acked"] = json!(fills.len());
    if !c.notices {
        drop(streams.close());
        return Ok(report);
    }
    let (taker, maker) = streams.fill_notices(&fills);
    report["fill_notice_taker"] = taker;
    report["fill_notice_maker"] = maker;
    if c.liquidations > 0 {
        let scenario = gap::run(c, &setup, &mut streams);
        match scenario {
            Ok(g) => {
                for (k, v) in g {
                    report[k] = v;
                }
            }
            Err(e) => {
                drop(streams.close());
                return Err(format!("the gap scenario: {e}"));
            }
        }
    }
    report["stream_errors"] = json!(streams.close());
    report["notice_note"] = json!(
        "notice latency: fills from the taker order's scheduled send time, matched by trade id; \
         liquidation and ADL from when the price move was sent; count received, missing never came \
         within the wait"
    );
    Ok(report)
}
