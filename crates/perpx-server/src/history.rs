//! The history read model: every published event in an embedded SQLite database, indexed for
//! the history endpoints (`api/history.rs`).
//!
//! **Why SQLite**: one file, no server, transactions, real indexes and range queries, and it is
//! the most tested embedded database there is; the history is append-only and read by indexed
//! range, which is exactly what it does well. The engine never waits for it: a dedicated thread
//! takes the published outputs (after they are durable) and writes them in batches, one
//! transaction each. It may lag; every answer says up to which sequence number it is complete.
//!
//! **Layout**: `events(seq, idx, ts, type, market, json)` with the key `(seq, idx)` (the event's
//! place in the journal order), and `event_accounts(account, seq, idx)` for the accounts an event
//! names. Queries are by market or account, by event types, with cursor pagination on
//! `(seq, idx)`; candles are aggregated from trades and mark/index events on the fly.
//!
//! **Retention**: `history_retention_ms` (0: keep all) deletes events older than that, an hour at
//! a time. **Rebuild**: the database is derived data — delete the file and it is rebuilt from
//! the journal's events when the journal is wired in (today the server is volatile, so the read
//! model starts empty with it).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::{Connection, params};
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;

use crate::stream::Published;

/// The read side: a connection for queries and how far the writer is.
#[derive(Debug)]
pub struct History {
    conn: std::sync::Mutex<Connection>,
    /// Every event up to this sequence number is stored.
    pub complete_to: Arc<AtomicU64>,
    /// Whether the writer fell behind the publications and skipped some (rebuild needed).
    pub gap: Arc<AtomicU64>,
}

/// The layout's version (`PRAGMA user_version`). A database of an older layout is derived data
/// like any other: it is emptied and rebuilt from the journal.
const SCHEMA_VERSION: i64 = 2;

/// The sequence number the database holds every event up to: recorded with each batch (the
/// last commands may have had no events), else the last event's.
const COMPLETE_TO: &str =
    "SELECT COALESCE((SELECT value FROM meta WHERE name = 'complete_to'), (SELECT MAX(seq) FROM events), 0)";

fn open(path: &Path) -> Result<Connection, String> {
    let c = Connection::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let version: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| e.to_string())?;
    if version < SCHEMA_VERSION {
        c.execute_batch(
            "DROP TABLE IF EXISTS events; DROP TABLE IF EXISTS event_accounts; DROP TABLE IF EXISTS event_orders; DROP TABLE IF EXISTS meta;",
        )
        .map_err(|e| e.to_string())?;
    }
    c.execute_batch(&format!(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         CREATE TABLE IF NOT EXISTS events (
             seq INTEGER NOT NULL, idx INTEGER NOT NULL, ts INTEGER NOT NULL,
             type TEXT NOT NULL, market TEXT, json TEXT NOT NULL,
             PRIMARY KEY (seq, idx)) WITHOUT ROWID;
         CREATE INDEX IF NOT EXISTS events_market ON events (market, type, seq, idx);
         CREATE INDEX IF NOT EXISTS events_type ON events (type, seq, idx);
         CREATE INDEX IF NOT EXISTS events_ts ON events (ts);
         CREATE TABLE IF NOT EXISTS event_accounts (
             account INTEGER NOT NULL, seq INTEGER NOT NULL, idx INTEGER NOT NULL,
             PRIMARY KEY (account, seq, idx)) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS event_orders (
             order_id INTEGER NOT NULL, seq INTEGER NOT NULL, idx INTEGER NOT NULL,
             PRIMARY KEY (order_id, seq, idx)) WITHOUT ROWID;
         PRAGMA user_version = {SCHEMA_VERSION};"
    ))
    .map_err(|e| e.to_string())?;
    Ok(c)
}

/// What the writer indexes an event by, read from its JSON text without building a `Value`
/// (a map per event was a fifth of the writer's time): its time, type and the orders it is
/// about — its `order_id` or `stop_id` (a stop keeps its id when it triggers), or both orders
/// of a fill.
#[derive(serde::Deserialize)]
struct EventHead {
    #[serde(default)]
    ts: i64,
    #[serde(rename = "type", default)]
    kind: String,
    order_id: Option<u64>,
    stop_id: Option<u64>,
    maker_order_id: Option<u64>,
    taker_order_id: Option<u64>,
}

impl EventHead {
    fn read(raw: &str) -> Self {
        serde_json::from_str(raw).unwrap_or(Self {
            ts: 0,
            kind: String::new(),
            order_id: None,
            stop_id: None,
            maker_order_id: None,
            taker_order_id: None,
        })
    }

    fn order_ids(&self) -> impl Iterator<Item = u64> {
        [self.order_id, self.stop_id, self.maker_order_id, self.taker_order_id].into_iter().flatten()
    }
}

/// A page of events.
#[derive(Debug)]
pub struct Page {
    /// The events' JSON, in order.
    pub events: Vec<Value>,
    /// The cursor of the next page (`seq:idx`), if there may be more.
    pub next: Option<String>,
}

/// A time range of events (see [`History::range`]).
#[derive(Debug, Clone)]
pub struct Range<'a> {
    /// One account's events only.
    pub account: Option<u64>,
    /// One market's events only.
    pub market: Option<&'a str>,
    /// Event types.
    pub types: &'a [&'a str],
    /// From this time (ms, inclusive).
    pub from_ts: i64,
    /// To this time (ms, inclusive).
    pub to_ts: i64,
    /// At most this many.
    pub limit: u32,
    /// The last `limit` of the range rather than the first.
    pub newest: bool,
}

/// What to list.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    /// One market's events only.
    pub market: Option<&'a str>,
    /// One account's events only.
    pub account: Option<u64>,
    /// Event types to include.
    pub types: &'a [&'a str],
    /// Start after this `(seq, idx)` (exclusive).
    pub after: (u64, u64),
    /// At most this many.
    pub limit: u32,
}

impl History {
    /// Opens (or creates) `dir/history.sqlite` and starts the writer on `published`.
    ///
    /// # Errors
    /// The database can't be opened.
    pub fn start(
        dir: &Path,
        mut published: tokio::sync::broadcast::Receiver<crate::sequencer::PublishedBatch>,
        retention_ms: i64,
    ) -> Result<Arc<Self>, String> {
        let path = dir.join("history.sqlite");
        let mut writer = open(&path)?;
        let reader = open(&path)?;
        let start: u64 = writer
            .query_row(COMPLETE_TO, [], |r| r.get::<_, i64>(0))
            .map(|s| u64::try_from(s).unwrap_or(0))
            .map_err(|e| e.to_string())?;
        let h = Arc::new(Self {
            conn: std::sync::Mutex::new(reader),
            complete_to: Arc::new(AtomicU64::new(start)),
            gap: Arc::new(AtomicU64::new(0)),
        });
        let (complete, gap) = (Arc::clone(&h.complete_to), Arc::clone(&h.gap));
        std::thread::Builder::new()
            .name("perpx-history".into())
            .spawn(move || {
                let mut last_prune = 0i64;
                loop {
                    let first = match published.blocking_recv() {
                        Ok(p) => p,
                        Err(RecvError::Lagged(n)) => {
                            tracing::error!(
                                skipped_group_commits = n,
                                "the history writer fell behind; rebuild it from the journal"
                            );
                            gap.fetch_add(n, Ordering::Relaxed);
                            continue;
                        }
                        Err(RecvError::Closed) => return,
                    };
                    let mut batch: Vec<Arc<Published>> = first.to_vec();
                    while batch.len() < 4_096 {
                        match published.try_recv() {
                            Ok(p) => batch.extend(p.iter().cloned()),
                            Err(_) => break,
                        }
                    }
                    match write(&mut writer, &batch) {
                        Ok(seq) => complete.store(seq, Ordering::Relaxed),
                        Err(e) => tracing::error!(error = %e, "history write failed"),
                    }
                    if retention_ms > 0 {
                        let now = crate::api::now_ms();
                        if now - last_prune > 3_600_000 {
                            last_prune = now;
                            if let Err(e) = prune(&writer, now - retention_ms) {
                                tracing::error!(error = %e, "history retention failed");
                            }
                        }
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(h)
    }

    /// Lists events matching `q`.
    ///
    /// # Errors
    /// A database error.
    pub fn list(&self, q: &Query<'_>) -> Result<Page, String> {
        let conn = self.conn.lock().expect("history lock");
        let types = q.types.iter().map(|t| format!("'{}'", t.replace('\'', ""))).collect::<Vec<_>>().join(",");
        let limit = i64::from(q.limit.clamp(1, 1_000));
        let (after_seq, after_idx) =
            (i64::try_from(q.after.0).unwrap_or(i64::MAX), i64::try_from(q.after.1).unwrap_or(0));
        let mut rows: Vec<(i64, i64, String)> = Vec::new();
        let mut push = |r: &rusqlite::Row<'_>| -> rusqlite::Result<()> {
            rows.push((r.get(0)?, r.get(1)?, r.get(2)?));
            Ok(())
        };
        let order = "ORDER BY e.seq, e.idx LIMIT ?";
        let cursor = "(e.seq > ?1 OR (e.seq = ?1 AND e.idx > ?2))";
        let result = match (q.account, q.market) {
            (Some(account), market) => {
                let sql = format!(
                    "SELECT e.seq, e.idx, e.json FROM event_accounts a JOIN events e ON e.seq = a.seq AND e.idx = a.idx
                     WHERE a.account = ?3 AND {cursor} AND e.type IN ({types}) AND (?4 IS NULL OR e.market = ?4) {order}5"
                );
                let account = i64::try_from(account).unwrap_or(i64::MAX);
                conn.prepare(&sql).and_then(|mut st| {
                    let mut r = st.query(params![after_seq, after_idx, account, market, limit])?;
                    while let Some(row) = r.next()? {
                        push(row)?;
                    }
                    Ok(())
                })
            }
            (None, market) => {
                let sql = format!(
                    "SELECT e.seq, e.idx, e.json FROM events e
                     WHERE {cursor} AND e.type IN ({types}) AND (?3 IS NULL OR e.market = ?3) {order}4"
                );
                conn.prepare(&sql).and_then(|mut st| {
                    let mut r = st.query(params![after_seq, after_idx, market, limit])?;
                    while let Some(row) = r.next()? {
                        push(row)?;
                    }
                    Ok(())
                })
            }
        };
        result.map_err(|e| e.to_string())?;
        let next = (rows.len() == usize::try_from(limit).unwrap_or(usize::MAX))
            .then(|| rows.last().map(|(s, i, _)| format!("{s}:{i}")))
            .flatten();
        let events = rows.into_iter().filter_map(|(_, _, j)| serde_json::from_str(&j).ok()).collect();
        Ok(Page { events, next })
    }

    /// Every event about order `order_id`, oldest first (see `EventHead`).
    ///
    /// # Errors
    /// A database error.
    pub fn order_events(&self, order_id: u64) -> Result<Vec<Value>, String> {
        let conn = self.conn.lock().expect("history lock");
        let mut st = conn
            .prepare_cached(
                "SELECT e.json FROM event_orders o JOIN events e ON e.seq = o.seq AND e.idx = o.idx
                 WHERE o.order_id = ?1 ORDER BY o.seq, o.idx",
            )
            .map_err(|e| e.to_string())?;
        let rows = st
            .query_map(params![i64::try_from(order_id).unwrap_or(i64::MAX)], |r| r.get::<_, String>(0))
            .map_err(|e| e.to_string())?;
        rows.map(|r| r.map_err(|e| e.to_string()).and_then(|j| serde_json::from_str(&j).map_err(|e| e.to_string())))
            .collect()
    }

    /// Events of `types` (of one account's, when given; of one market, when given) with
    /// `from_ts <= ts <= to_ts`, oldest first, at most `limit`; `newest` takes the last `limit`
    /// of the range instead of the first (still returned oldest first).
    ///
    /// # Errors
    /// A database error.
    pub fn range(&self, r: &Range<'_>) -> Result<Vec<Value>, String> {
        let conn = self.conn.lock().expect("history lock");
        let types = r.types.iter().map(|t| format!("'{}'", t.replace('\'', ""))).collect::<Vec<_>>().join(",");
        let dir = if r.newest { "DESC" } else { "ASC" };
        let (from, who) = match r.account {
            Some(_) => ("event_accounts a JOIN events e ON e.seq = a.seq AND e.idx = a.idx", "a.account = ?5 AND"),
            None => ("events e", "(?5 IS NULL) AND"),
        };
        let sql = format!(
            "SELECT e.json FROM {from} WHERE {who} e.type IN ({types}) AND (?1 IS NULL OR e.market = ?1)
             AND e.ts >= ?2 AND e.ts <= ?3 ORDER BY e.seq {dir}, e.idx {dir} LIMIT ?4"
        );
        let account = r.account.map(|a| i64::try_from(a).unwrap_or(i64::MAX));
        let mut st = conn.prepare(&sql).map_err(|e| e.to_string())?;
        let rows = st
            .query_map(params![r.market, r.from_ts, r.to_ts, i64::from(r.limit), account], |row| {
                row.get::<_, String>(0)
            })
            .map_err(|e| e.to_string())?;
        let mut out: Vec<Value> = rows
            .map(|x| x.map_err(|e| e.to_string()).and_then(|j| serde_json::from_str(&j).map_err(|e| e.to_string())))
            .collect::<Result<_, _>>()?;
        if r.newest {
            out.reverse();
        }
        Ok(out)
    }

    /// OHLC candles of `market` over `interval_ms` buckets from trades (`source = "last"`) or
    /// from mark or index events, between `from` and `to` (ms), oldest first.
    ///
    /// # Errors
    /// A database error.
    pub fn candles(
        &self,
        market: &str,
        source: &str,
        interval_ms: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<Value>, String> {
        let kind = match source {
            "last" => "fill",
            "mark" => "mark_price",
            "index" => "index_price",
            _ => return Err("source is last, mark or index".into()),
        };
        let conn = self.conn.lock().expect("history lock");
        let mut st = conn
            .prepare(
                "SELECT ts, json FROM events WHERE market = ?1 AND type = ?2 AND ts >= ?3 AND ts < ?4 ORDER BY seq, idx",
            )
            .map_err(|e| e.to_string())?;
        let mut rows = st.query(params![market, kind, from, to]).map_err(|e| e.to_string())?;
        // (open time, open, high, low, close, volume in lots) with prices kept as text; they
        // compare as integers once the decimal point is dropped (one market, one precision).
        let mut candles: Vec<(i64, String, String, String, String, i64)> = Vec::new();
        let units = |s: &str| s.replace('.', "").parse::<i64>().unwrap_or(0);
        let mut qty_scale = 0;
        while let Some(r) = rows.next().map_err(|e| e.to_string())? {
            let ts: i64 = r.get(0).map_err(|e| e.to_string())?;
            let json: String = r.get(1).map_err(|e| e.to_string())?;
            let v: Value = serde_json::from_str(&json).map_err(|e| e.to_string())?;
            let price = v["price"].as_str().unwrap_or_default().to_owned();
            let qty = v["qty"].as_str().unwrap_or("0");
            qty_scale = qty.split_once('.').map_or(0, |(_, f)| f.len());
            let open_time = ts - ts.rem_euclid(interval_ms.max(1));
            match candles.last_mut() {
                Some(c) if c.0 == open_time => {
                    if units(&price) > units(&c.2) {
                        c.2.clone_from(&price);
                    }
                    if units(&price) < units(&c.3) {
                        c.3.clone_from(&price);
                    }
                    c.4 = price;
                    c.5 += units(qty);
                }
                _ => candles.push((open_time, price.clone(), price.clone(), price.clone(), price, units(qty))),
            }
        }
        let decimal = |u: i64| {
            if qty_scale == 0 {
                return u.to_string();
            }
            let p = 10i64.pow(u32::try_from(qty_scale).unwrap_or(0));
            format!("{}.{:0w$}", u / p, u % p, w = qty_scale)
        };
        Ok(candles
            .into_iter()
            .map(|(t, o, h, l, c, vol)| {
                let mut v = serde_json::json!({ "open_time": t, "open": o, "high": h, "low": l, "close": c });
                if kind == "fill" {
                    v["volume"] = Value::String(decimal(vol));
                }
                v
            })
            .collect())
    }
}

/// Writes a batch in one transaction; returns the last sequence number written.
fn write(conn: &mut Connection, batch: &[Arc<Published>]) -> Result<u64, String> {
    let tx = conn.transaction().map_err(|e| e.to_string())?;
    let mut last = 0;
    {
        let mut ins = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO events (seq, idx, ts, type, market, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(|e| e.to_string())?;
        let mut acc = tx
            .prepare_cached("INSERT OR IGNORE INTO event_accounts (account, seq, idx) VALUES (?1, ?2, ?3)")
            .map_err(|e| e.to_string())?;
        let mut ord = tx
            .prepare_cached("INSERT OR IGNORE INTO event_orders (order_id, seq, idx) VALUES (?1, ?2, ?3)")
            .map_err(|e| e.to_string())?;
        for p in batch {
            let seq = i64::try_from(p.seq).unwrap_or(i64::MAX);
            for (i, e) in p.events.iter().enumerate() {
                let idx = i64::try_from(i).unwrap_or(i64::MAX);
                let head = EventHead::read(e.json().raw());
                ins.execute(params![seq, idx, head.ts, head.kind, e.market(), e.json().raw()])
                    .map_err(|e| e.to_string())?;
                for a in e.accounts() {
                    acc.execute(params![i64::try_from(a.0).unwrap_or(i64::MAX), seq, idx])
                        .map_err(|e| e.to_string())?;
                }
                for o in head.order_ids() {
                    ord.execute(params![i64::try_from(o).unwrap_or(i64::MAX), seq, idx]).map_err(|e| e.to_string())?;
                }
            }
            last = p.seq;
        }
    }
    tx.execute(
        "INSERT INTO meta (name, value) VALUES ('complete_to', ?1)
         ON CONFLICT (name) DO UPDATE SET value = MAX(value, excluded.value)",
        params![i64::try_from(last).unwrap_or(i64::MAX)],
    )
    .map_err(|e| e.to_string())?;
    tx.commit().map_err(|e| e.to_string())?;
    Ok(last)
}

fn prune(conn: &Connection, before_ts: i64) -> Result<(), String> {
    conn.execute(
        "DELETE FROM event_accounts WHERE (seq, idx) IN (SELECT seq, idx FROM events WHERE ts < ?1)",
        params![before_ts],
    )
    .and_then(|_| {
        conn.execute(
            "DELETE FROM event_orders WHERE (seq, idx) IN (SELECT seq, idx FROM events WHERE ts < ?1)",
            params![before_ts],
        )
    })
    .and_then(|_| conn.execute("DELETE FROM events WHERE ts < ?1", params![before_ts]))
    .map(|_| ())
    .map_err(|e| e.to_string())
}

/// The sequence number the read model at `dir/history.sqlite` is complete to (0 when absent).
///
/// # Errors
/// The database exists but can't be read.
pub fn stored_seq(dir: &Path) -> Result<u64, String> {
    let path = dir.join("history.sqlite");
    if !path.exists() {
        return Ok(0);
    }
    let c = open(&path)?;
    c.query_row(COMPLETE_TO, [], |r| r.get::<_, i64>(0))
        .map(|s| u64::try_from(s).unwrap_or(0))
        .map_err(|e| e.to_string())
}

/// Rebuilds `dir/history.sqlite` from the journal in `journal_dir`: every record replayed
/// through a fresh engine (each checked against its record's events check and its commit's
/// events digest), its events
/// encoded and written as the live writer would. Returns the last sequence number written.
///
/// # Errors
/// The journal can't be read or doesn't replay (a corrupt journal: `perpx verify` says where),
/// or the database can't be written.
pub fn rebuild(dir: &Path, journal_dir: &Path) -> Result<u64, String> {
    for suffix in ["", "-wal", "-shm"] {
        drop(std::fs::remove_file(dir.join(format!("history.sqlite{suffix}"))));
    }
    let mut conn = open(&dir.join("history.sqlite"))?;
    let storage = perpx_journal::FileStorage::open(journal_dir).map_err(|e| e.to_string())?;
    let mut replayer = perpx_node::Replayer::new(perpx_core::Engine::default(), false);
    let mut batch: Vec<Arc<Published>> = Vec::new();
    let mut specs: crate::stream::Specs = Arc::new([]);
    let mut failure: Option<String> = None;
    let mut last = 0;
    perpx_journal::verify_chain_with(
        &storage,
        |_| {},
        |c| {
            if failure.is_some() {
                return;
            }
            let mut replayed = Vec::with_capacity(c.records.len());
            if let Err((seq, e)) = replayer.apply_commit(c, |r, _, events| replayed.push((r.seq, events.to_vec()))) {
                failure = Some(format!("record {seq}: {e}"));
                return;
            }
            // Markets never change once created: the specs after the commit encode every event
            // of it as the live engine did.
            crate::stream::refresh_specs(&mut specs, replayer.engine());
            for (seq, events) in replayed {
                let events = crate::stream::PublishedEvent::all(events, &specs, None);
                batch.push(Arc::new(Published {
                    seq,
                    durable_at: std::time::Instant::now(),
                    events,
                    book: Vec::new(),
                    head: None,
                }));
            }
            if batch.len() >= 4_096 {
                match write(&mut conn, &batch) {
                    Ok(seq) => last = seq,
                    Err(e) => failure = Some(e),
                }
                batch.clear();
            }
        },
    )
    .map_err(|e| e.to_string())?;
    if let Some(e) = failure {
        return Err(e);
    }
    if !batch.is_empty() {
        last = write(&mut conn, &batch)?;
    }
    Ok(last)
}
