//! `perpx bench`: a load generator for a running `perpx serve`.
//!
//! Open loop: each client has a schedule of send times at the target rate and measures every
//! acknowledgement's latency from its **scheduled** time, not from when it was actually sent, so
//! a server that stalls can't hide its stall by slowing the clients down (coordinated omission).
//! Half the clients are makers (limit orders around the mark, a cancel-all every 100 orders),
//! half takers (IOC orders that cross the makers' quotes): every ack is durable when received
//! (output commit), and many carry fills. Bounded in time: it stops by itself.
//!
//! Two transports: `http` (one signed request per order, one request in flight per client)
//! and `ws` ([`ws`]: one WebSocket per client, a signed `auth` once, then order messages
//! pipelined — many in flight per connection, answered on the same socket).

mod ws;

use std::time::{Duration, Instant};

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

fn now_ms() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Client {
    fn new(url: &str, key: &str, secret: &str) -> Self {
        let agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        Self {
            agent,
            url: url.to_owned(),
            key: key.to_owned(),
            secret: secret.to_owned(),
            last_ts: std::cell::Cell::new(0),
        }
    }

    fn call(&self, method: &str, path: &str, body: &str) -> Result<(u16, Value), String> {
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
        Ok((status, r.body_mut().read_json().unwrap_or(Value::Null)))
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
        keys.push((
            k["key"].as_str().unwrap_or_default().to_owned(),
            k["secret"].as_str().unwrap_or_default().to_owned(),
        ));
    }
    let ticker: Value = ureq::get(format!("{}/api/v1/ticker?market={}", c.url, c.market))
        .call()
        .map_err(|e| e.to_string())?
        .body_mut()
        .read_json()
        .map_err(|e| e.to_string())?;
    let mark = ticker["mark_price"].as_str().ok_or("the market has no mark")?.to_owned();
    let (whole, frac) = mark.split_once('.').unwrap_or((&mark, ""));
    let scale = frac.len();
    let mark_units: i64 = format!("{whole}{frac}").parse().map_err(|_| "bad mark")?;
    Ok(Setup { keys, mark_units, scale })
}

/// Runs the load and returns the report (JSON).
///
/// # Errors
/// The set-up (keys, deposits, the market's mark) fails.
pub fn run(c: &BenchConfig) -> Result<Value, String> {
    let clients = c.clients.max(2);
    let setup = setup(c, clients)?;
    if c.transport == Transport::Ws {
        return ws::run(c, clients, &setup);
    }
    let per_client_ns = 1_000_000_000u64 * clients as u64 / c.rate.max(1);
    let total = c.rate * c.seconds / clients as u64;
    let start = Instant::now() + Duration::from_millis(200);
    let handles: Vec<_> = setup
        .keys
        .iter()
        .enumerate()
        .map(|(i, (key, secret))| {
            let client = Client::new(&c.url, key, secret);
            let market = c.market.clone();
            let maker = i % 2 == 0;
            let (prices, taker_price) = setup.prices(maker);
            let offset = Duration::from_nanos(per_client_ns * i as u64 / clients as u64);
            std::thread::spawn(move || {
                let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
                let mut statuses = std::collections::BTreeMap::<u16, u64>::new();
                for n in 0..total {
                    let due = start + offset + Duration::from_nanos(per_client_ns * n);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let body = if maker {
                        if n % 100 == 99 {
                            client
                                .call("POST", "/api/v1/orders/cancel-all", &json!({ "market": market }).to_string())
                                .ok();
                        }
                        json!({ "market": market, "side": "buy", "order_type": "limit",
                                "price": prices[(n % 20) as usize], "qty": "0.001" })
                    } else {
                        json!({ "market": market, "side": "sell", "order_type": "limit", "tif": "ioc",
                                "price": taker_price, "qty": "0.001" })
                    };
                    let status = client.call("POST", "/api/v1/order", &body.to_string()).map_or(0, |r| r.0);
                    let us = u64::try_from(due.elapsed().as_micros()).unwrap_or(u64::MAX).max(1);
                    h.record(us.min(60_000_000)).ok();
                    *statuses.entry(status).or_default() += 1;
                }
                (h, statuses)
            })
        })
        .collect();
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
    let mut statuses = std::collections::BTreeMap::<u16, u64>::new();
    for h in handles {
        let (hist, st) = h.join().map_err(|_| "a client thread panicked")?;
        all.add(&hist).map_err(|e| e.to_string())?;
        for (k, v) in st {
            *statuses.entry(k).or_default() += v;
        }
    }
    let elapsed_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX).max(1);
    let sent = all.len();
    Ok(json!({
        "clients": clients,
        "target_rate": c.rate,
        "orders": sent,
        "achieved_rate": sent * 1_000 / elapsed_ms,
        "statuses": statuses,
        "ack_latency_us": {
            "p50": all.value_at_quantile(0.5),
            "p99": all.value_at_quantile(0.99),
            "p999": all.value_at_quantile(0.999),
            "max": all.max(),
        },
        "note": "latency from each order's scheduled send time (open loop); acks are durable when received",
    }))
}
