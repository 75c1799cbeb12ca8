//! `perpx bench --transport ws`: each client opens one WebSocket, authenticates once (a signed
//! `auth`), then sends its orders as `{"op": "order", "id": N, ...}` messages on a fixed
//! schedule without waiting for answers (open loop, many in flight), while a second thread
//! reads the answers on the same connection. Order `N`'s latency runs from its **scheduled**
//! send time to its answer, so a writer that falls behind or a server that stalls shows in
//! full.
//!
//! Bounded: each client sends `rate × seconds / clients` messages, then waits at most
//! [`DRAIN`] for the answers still missing (counted as `unanswered`).
//!
//! The socket is split by cloning the TCP stream: the writer's half never reads, the reader's
//! half discards what tungstenite would write (the answers to the server's pings: the stream of
//! orders keeps the connection alive).

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use perpx_server::auth::{sign, signed_bytes};
use serde_json::{Value, json};
use tungstenite::protocol::Role;
use tungstenite::{Message, WebSocket};

use super::notices::{AckEvent, AckedFill, taker_fills};
use super::{BenchConfig, Setup, latency_histogram, percentiles, record_latency};

/// How long a client waits for its last answers after its last message.
pub const DRAIN: Duration = Duration::from_secs(10);

/// The shortest sleep of a writer between sends: what falls due meanwhile goes out together
/// when it wakes, late by at most this (which the latency counts, from the scheduled time).
/// A writer that woke for every message (every 40 µs per client at 100 k/s) preempted the
/// server's threads tens of thousands of times a second on the two cores they share.
const SEND_TICK: Duration = Duration::from_micros(200);

/// Every maker's `CANCEL_EVERY`-th message is a `cancel_all` (its book stays bounded).
const CANCEL_EVERY: u64 = 100;

/// The reading half: reads the socket, drops writes.
struct ReadHalf(TcpStream);

impl Read for ReadHalf {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for ReadHalf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The writing half: writes the socket, never reads.
struct WriteHalf(TcpStream);

impl Read for WriteHalf {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::ErrorKind::WouldBlock.into())
    }
}

impl Write for WriteHalf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// The timestamp of the process's last `auth`.
static LAST_LOGIN_MS: AtomicI64 = AtomicI64::new(0);

/// A timestamp for an `auth`, later than every one this process used before. The signature
/// covers only the timestamp (and the fixed `GET /ws`), so two logins with one key in the same
/// millisecond (a client's order and notice connections, opened at once) would sign the same
/// bytes, and the server refuses the second as a replay (6005).
fn login_stamp() -> i64 {
    let now = super::now_ms();
    let next = |last: i64| now.max(last + 1);
    // The update always succeeds (the closure always answers); its result is the value replaced.
    let last = LAST_LOGIN_MS.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| Some(next(last)));
    next(last.unwrap_or_else(|last| last))
}

/// Connects and authenticates (a signed `auth`); returns the socket once the server accepted.
pub(super) fn login(url: &str, key: &str, secret: &str) -> Result<WebSocket<TcpStream>, String> {
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let tcp = TcpStream::connect(host).map_err(|e| format!("connect {host}: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let (mut socket, _) = tungstenite::client(format!("ws://{host}/ws"), tcp).map_err(|e| format!("ws: {e}"))?;
    let ts = login_stamp().to_string();
    let sig = sign(secret, &signed_bytes(&ts, "GET", "/ws", b""));
    let auth = json!({ "op": "auth", "key": key, "timestamp": ts, "signature": sig }).to_string();
    socket.send(Message::Text(auth.into())).map_err(|e| e.to_string())?;
    await_op(&mut socket, "auth").map_err(|e| format!("auth: {e}"))?;
    Ok(socket)
}

/// Reads until the server answers `op` (skipping anything else); an `error` answer is the
/// error.
pub(super) fn await_op(socket: &mut WebSocket<TcpStream>, op: &str) -> Result<(), String> {
    loop {
        let Message::Text(t) = socket.read().map_err(|e| e.to_string())? else { continue };
        let v: Value = serde_json::from_str(&t).map_err(|e| e.to_string())?;
        match v["op"].as_str() {
            Some(o) if o == op => return Ok(()),
            Some("error") => return Err(format!("refused: {v}")),
            _ => {}
        }
    }
}

/// Connects, authenticates, and returns the two halves.
fn connect(url: &str, key: &str, secret: &str) -> Result<(WebSocket<WriteHalf>, WebSocket<ReadHalf>), String> {
    let socket = login(url, key, secret)?;
    // Nothing else is in flight: the server answers the auth and waits.
    let tcp = socket.into_inner();
    let reader = tcp.try_clone().map_err(|e| e.to_string())?;
    reader.set_read_timeout(Some(Duration::from_millis(100))).map_err(|e| e.to_string())?;
    Ok((
        WebSocket::from_raw_socket(WriteHalf(tcp), Role::Client, None),
        WebSocket::from_raw_socket(ReadHalf(reader), Role::Client, None),
    ))
}

/// The fields of an answer the bench looks at (of the events, those that name the trades).
#[derive(serde::Deserialize)]
struct Answer<'a> {
    op: &'a str,
    id: Option<u64>,
    code: Option<u16>,
    #[serde(default, borrow)]
    events: Vec<AckEvent<'a>>,
}

/// One client's results.
struct Outcome {
    latency_us: Histogram<u64>,
    /// Answers by kind: `ack`, or the error code.
    answers: BTreeMap<String, u64>,
    sent: u64,
    unanswered: u64,
    /// When the last answer arrived.
    last: Option<Instant>,
    /// The trades the acks reported, for the fill notices.
    fills: Vec<AckedFill>,
    /// Why the connection ended before every answer came (the server's close frame, or the
    /// read error), if it did: without it, `unanswered` would not say why.
    closed: Option<String>,
}

/// Runs the WebSocket load; see the module docs. Returns the report and the trades the acks
/// reported.
///
/// # Errors
/// A client can't connect or authenticate.
pub fn run(c: &BenchConfig, clients: usize, setup: &Setup) -> Result<(Value, Vec<AckedFill>), String> {
    let per_client_ns = 1_000_000_000u64 * clients as u64 / c.rate.max(1);
    let total = c.rate * c.seconds / clients as u64;
    let mut sockets = Vec::with_capacity(clients);
    for (key, secret) in &setup.keys {
        sockets.push(connect(&c.url, key, secret)?);
    }
    let start = Instant::now() + Duration::from_millis(200);
    let due = move |offset: Duration, n: u64| start + offset + Duration::from_nanos(per_client_ns * n);
    let mut handles = Vec::with_capacity(clients);
    for (i, (mut writer, mut reader)) in sockets.into_iter().enumerate() {
        let maker = i % 2 == 0;
        let (prices, taker_price) = setup.prices(maker);
        let market = c.market.clone();
        let offset = Duration::from_nanos(per_client_ns * i as u64 / clients as u64);
        let write = std::thread::spawn(move || -> u64 {
            let mut n = 0;
            while n < total {
                if let Some(wait) = due(offset, n).checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait.max(SEND_TICK));
                }
                // Everything due by now goes out in one flush.
                let now = Instant::now();
                while n < total && due(offset, n) <= now {
                    let text = if !maker {
                        format!(
                            r#"{{"op":"order","id":{n},"market":"{market}","side":"sell","order_type":"limit","tif":"ioc","price":"{taker_price}","qty":"0.001"}}"#
                        )
                    } else if n % CANCEL_EVERY == CANCEL_EVERY - 1 {
                        format!(r#"{{"op":"cancel_all","id":{n},"market":"{market}"}}"#)
                    } else {
                        let price = &prices[(n % 20) as usize];
                        format!(
                            r#"{{"op":"order","id":{n},"market":"{market}","side":"buy","order_type":"limit","price":"{price}","qty":"0.001"}}"#
                        )
                    };
                    if writer.write(Message::Text(text.into())).is_err() {
                        return n;
                    }
                    n += 1;
                }
                if writer.flush().is_err() {
                    return n;
                }
            }
            n
        });
        let read = std::thread::spawn(move || -> Outcome {
            let mut h = latency_histogram();
            let mut answers = BTreeMap::<String, u64>::new();
            let mut received = 0u64;
            let mut last = None;
            let mut fills = Vec::new();
            let mut closed = None;
            let deadline = due(offset, total) + DRAIN;
            while received < total && Instant::now() < deadline {
                let text = match reader.read() {
                    Ok(Message::Text(t)) => t,
                    Ok(Message::Close(frame)) => {
                        closed = Some(format!("client {i}: closed by the server: {frame:?}"));
                        break;
                    }
                    Ok(_) => continue,
                    Err(tungstenite::Error::Io(e))
                        if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) =>
                    {
                        continue;
                    }
                    Err(e) => {
                        closed = Some(format!("client {i}: read failed: {e}"));
                        break;
                    }
                };
                let Ok(a) = serde_json::from_str::<Answer>(&text) else { continue };
                let Some(id) = a.id else {
                    *answers.entry(format!("{}:{}", a.op, a.code.unwrap_or(0))).or_default() += 1;
                    continue;
                };
                let scheduled = due(offset, id);
                record_latency(&mut h, scheduled.elapsed());
                taker_fills(&a.events, scheduled, &mut fills);
                let kind = if a.op == "ack" { "ack".to_owned() } else { a.code.unwrap_or(0).to_string() };
                *answers.entry(kind).or_default() += 1;
                received += 1;
                last = Some(Instant::now());
            }
            Outcome { latency_us: h, answers, sent: 0, unanswered: total - received, last, fills, closed }
        });
        handles.push((write, read));
    }
    let mut all = latency_histogram();
    let mut answers = BTreeMap::<String, u64>::new();
    let (mut sent, mut unanswered, mut last) = (0, 0, start);
    let mut fills = Vec::new();
    let mut closed = Vec::new();
    for (write, read) in handles {
        let n = write.join().map_err(|_| "a writer thread panicked")?;
        let mut o = read.join().map_err(|_| "a reader thread panicked")?;
        o.sent = n;
        all.add(&o.latency_us).map_err(|e| e.to_string())?;
        for (k, v) in o.answers {
            *answers.entry(k).or_default() += v;
        }
        sent += o.sent;
        unanswered += o.unanswered.min(o.sent);
        last = last.max(o.last.unwrap_or(start));
        fills.append(&mut o.fills);
        closed.extend(o.closed);
    }
    let elapsed_ms = u64::try_from(last.duration_since(start).as_millis()).unwrap_or(u64::MAX).max(1);
    let acked = answers.get("ack").copied().unwrap_or(0);
    let report = json!({
        "transport": "ws",
        "clients": clients,
        "target_rate": c.rate,
        "sent": sent,
        "answered": all.len(),
        "unanswered": unanswered,
        "acked_rate": acked * 1_000 / elapsed_ms,
        "answers": answers,
        "order_stream_errors": closed,
        "ack_latency_us": percentiles(&all),
        "note": "latency from each message's scheduled send time (open loop); acks are durable when received; \
                 acked_rate is acks from the first scheduled send to the last answer",
    });
    Ok((report, fills))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Logins in one millisecond sign different timestamps, so the server never takes the
    /// second of two with one key for a replay.
    #[test]
    fn login_stamps_only_go_up_even_within_a_millisecond() {
        let stamps: Vec<i64> = (0..1_000).map(|_| login_stamp()).collect();
        assert!(stamps.windows(2).all(|w| w[1] > w[0]), "strictly increasing");
        assert!(stamps[0] >= super::super::now_ms() - 1_000, "near the clock");
    }
}
