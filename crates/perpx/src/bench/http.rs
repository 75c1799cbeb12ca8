//! `perpx bench --transport http`: one signed REST request per order, one request in flight per
//! client thread, each order timed from its **scheduled** send time (open loop). Bounded in count
//! (`rate × seconds / clients` orders a client) and per request ([`super::HTTP_TIMEOUT`]).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::notices::{AckEvent, AckedFill, taker_fills};
use super::{BenchConfig, Client, Setup, latency_histogram, percentiles, record_latency};

/// The part of a REST order answer the bench reads: its events (the trades it made).
#[derive(serde::Deserialize)]
struct AckBody<'a> {
    #[serde(default, borrow)]
    events: Vec<AckEvent<'a>>,
}

/// Runs the HTTP load. Returns the report and the trades the acks reported.
///
/// # Errors
/// A client thread panicked, or the histograms can't be merged.
pub fn run(c: &BenchConfig, clients: usize, setup: &Setup) -> Result<(Value, Vec<AckedFill>), String> {
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
                let mut h = latency_histogram();
                let mut statuses = BTreeMap::<u16, u64>::new();
                let mut fills = Vec::new();
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
                    let answer = client.call_text("POST", "/api/v1/order", &body.to_string());
                    record_latency(&mut h, due.elapsed());
                    let status = answer.as_ref().map_or(0, |r| r.0);
                    *statuses.entry(status).or_default() += 1;
                    if let Ok((200, text)) = &answer {
                        if let Ok(ack) = serde_json::from_str::<AckBody>(text) {
                            taker_fills(&ack.events, due, &mut fills);
                        }
                    }
                }
                (h, statuses, fills)
            })
        })
        .collect();
    let mut all = latency_histogram();
    let mut statuses = BTreeMap::<u16, u64>::new();
    let mut fills = Vec::new();
    for h in handles {
        let (hist, st, mut f) = h.join().map_err(|_| "a client thread panicked")?;
        all.add(&hist).map_err(|e| e.to_string())?;
        for (k, v) in st {
            *statuses.entry(k).or_default() += v;
        }
        fills.append(&mut f);
    }
    let elapsed_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX).max(1);
    let sent = all.len();
    let report = json!({
        "clients": clients,
        "target_rate": c.rate,
        "orders": sent,
        "achieved_rate": sent * 1_000 / elapsed_ms,
        "statuses": statuses,
        "ack_latency_us": percentiles(&all),
        "note": "latency from each order's scheduled send time (open loop); acks are durable when received",
    });
    Ok((report, fills))
}
