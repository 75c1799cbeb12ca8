//! # perpx-server
//!
//! `perpx serve`: the engine behind an HTTP API. One engine thread owns the state
//! ([`sequencer`]); gateway tasks parse, authenticate ([`auth`], [`keys`]) and validate, queue
//! commands and answer once they are durable; background tasks feed the demo oracle, advance
//! the clock with ticks and fire dead-man's switches. [`demo`] is the embedded default venue.
//! The endpoints are in `docs/API.md` and at `/openapi.json`.

pub mod api;
pub mod auth;
pub mod config;
pub mod demo;
pub mod history;
pub mod keys;
pub mod openapi;
pub mod sequencer;
pub mod stream;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use perpx_core::{CommandKind, Engine, EngineConfig, MarketId, Price, Quote};
use serde_json::json;

use crate::api::Shared;
use crate::config::ServerConfig;
use crate::keys::{KeyStore, Scope};
use crate::sequencer::{Journaled, Sequencer, Store, Submission, Volatile};
use perpx_node::{Node, NodeConfig};

/// Starts the venue and serves until SIGTERM or Ctrl-C.
///
/// # Errors
/// The data directory, the key store or the listening socket can't be set up.
pub fn serve(config: ServerConfig) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    runtime.block_on(serve_async(config))
}

async fn serve_async(config: ServerConfig) -> Result<(), String> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| format!("{}: {e}", config.data_dir.display()))?;
    let mut keys = KeyStore::open(&config.data_dir)?;
    let store: Box<dyn Store> = if config.volatile {
        // Yesterday's history would describe another venue.
        drop(std::fs::remove_file(config.data_dir.join("history.sqlite")));
        Box::new(Volatile(Engine::new(EngineConfig::default())))
    } else {
        let node_config = NodeConfig { snapshot_every: Some(config.snapshot_every), ..NodeConfig::default() };
        let dir = config.data_dir.join("journal");

        let (node, recovered) =
            Node::open_dir(&dir, node_config).map_err(|e| format!("journal {}: {e}", dir.display()))?;
        println!(
            "perpx: journal at seq {} (snapshot {}, {} records replayed{}, {} outputs to redeliver)",
            recovered.head.seq,
            recovered.snapshot_seq.map_or_else(|| "none".to_owned(), |s| s.to_string()),
            recovered.replayed,
            recovered
                .torn_tail
                .as_ref()
                .map_or_else(String::new, |t| format!(", torn tail of {} bytes cut", t.bytes_dropped)),
            recovered.redelivered,
        );
        if config.history {
            // The read model is derived data: rebuilt from the journal when it is missing or
            // further behind than what recovery redelivers.
            let have = history::stored_seq(&config.data_dir)?;
            let window = u64::try_from(node.config().gate_capacity).unwrap_or(u64::MAX);
            if have.saturating_add(window) < recovered.head.seq {
                let done = history::rebuild(&config.data_dir, &dir)?;
                println!("perpx: history rebuilt from the journal up to seq {done}");
            }
        }
        Box::new(Journaled(node))
    };
    let fresh = store.engine().markets().is_empty();
    let head = store.engine().seq();
    // The read model subscribes before the engine thread starts, so it sees every event.
    let (sequencer, engine_thread, history) = Sequencer::start(store, config.queue_capacity, |first| {
        config
            .history
            .then(|| history::History::start(&config.data_dir, first, config.history_retention_ms))
            .transpose()
    });
    let history = history?;
    if let Some(h) = &history {
        let have = h.complete_to.load(std::sync::atomic::Ordering::Relaxed);
        if have + 4_096 < head {
            tracing::warn!(
                have,
                head,
                "the history read model is behind the journal; delete history.sqlite to rebuild"
            );
        }
    }

    let mut created_keys = Vec::new();
    if keys.is_empty() {
        created_keys.push(("admin", keys.create(None, vec![Scope::Admin])?));
        if config.demo {
            for account in [1, 2] {
                created_keys.push(("trader", keys.create(Some(account), vec![Scope::Read, Scope::Trade])?));
            }
        }
    }
    let mut demo_markets = Vec::new();
    if config.demo && fresh {
        for spec in [demo::btc(), demo::eth()] {
            submit_now(&sequencer, CommandKind::CreateMarket(Box::new(spec))).await?;
        }
        for account in [1, 2] {
            let amount = Quote(demo::DEMO_COLLATERAL * 1_000_000);
            submit_now(&sequencer, CommandKind::Deposit { account: perpx_core::AccountId(account), amount }).await?;
        }
    }
    // Keys made at start are audited like any other: the operator ("perpx serve") made them.
    for (_, key) in &created_keys {
        let detail = json!({ "key": key.key, "account": key.account, "scopes": key.scopes }).to_string();
        let action = "create_key".to_owned();
        submit_now(&sequencer, CommandKind::AdminAudit { actor: "perpx-serve".into(), action, detail }).await?;
    }
    if config.demo {
        demo_markets = vec![("BTC-PERP".to_owned(), MarketId(0)), ("ETH-PERP".to_owned(), MarketId(1))];
    }
    let shared = Arc::new(Shared {
        sequencer: sequencer.clone(),
        keys: Mutex::new(keys),
        replays: Mutex::default(),
        limiter: Mutex::default(),
        config: config.clone(),
        deadman: Mutex::default(),
        http_status: Mutex::default(),
        ws: api::WsStats { salt: rand::random(), ..api::WsStats::default() },
        history,
        fapi: api::fapi::FapiState {
            symbols: api::fapi::SymbolMap { to_binance: config.fapi_symbols.clone() },
            ..api::fapi::FapiState::default()
        },
    });

    let listener =
        tokio::net::TcpListener::bind(config.listen).await.map_err(|e| format!("listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    // No Nagle delay: a WebSocket answer is a small write that must leave at once.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY");
        }
    });
    announce(addr, &config, &created_keys);

    let mut tasks = Vec::new();
    if config.demo {
        let mut oracle = demo::DemoOracle::new(config.demo_seed);
        if fresh {
            // One step now, so marks exist before the first request.
            publish_oracle(&sequencer, &demo_markets, &mut oracle).await;
        }
        let (s, markets, every) = (sequencer.clone(), demo_markets.clone(), config.oracle_interval_ms);
        tasks.push(tokio::spawn(async move {
            let mut t = interval_after(every);
            loop {
                t.tick().await;
                publish_oracle(&s, &markets, &mut oracle).await;
            }
        }));
    }
    let (s, every) = (sequencer.clone(), config.tick_interval_ms);
    tasks.push(tokio::spawn(async move {
        let mut t = interval_after(every);
        loop {
            t.tick().await;
            // A full queue is already advancing the clock.
            drop(s.submit(Submission::Kind(Box::new(CommandKind::Tick))));
        }
    }));
    let dm = Arc::clone(&shared);
    tasks.push(tokio::spawn(async move {
        let mut t = tokio::time::interval(Duration::from_millis(100));
        loop {
            t.tick().await;
            fire_deadman(&dm).await;
        }
    }));

    let app = api::router(Arc::clone(&shared)).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await.map_err(|e| e.to_string())?;
    for t in tasks {
        t.abort();
    }
    drop(shared);
    drop(sequencer);
    tracing::info!("draining the engine");
    tokio::task::spawn_blocking(move || engine_thread.join()).await.ok();
    println!("perpx: stopped cleanly");
    Ok(())
}

/// A timer whose first tick is one period from now (tokio's first tick is immediate).
fn interval_after(ms: u64) -> tokio::time::Interval {
    let period = Duration::from_millis(ms.max(10));
    tokio::time::interval_at(tokio::time::Instant::now() + period, period)
}

async fn submit_now(s: &Sequencer, kind: CommandKind) -> Result<(), String> {
    let rx = s.submit(Submission::Kind(Box::new(kind))).map_err(|e| format!("{e:?}"))?;
    match rx.await {
        Ok(Ok(ack)) if ack.rejection.is_none() => Ok(()),
        Ok(Ok(ack)) => Err(format!("demo set-up rejected: {:?}", ack.rejection)),
        other => Err(format!("demo set-up failed: {other:?}")),
    }
}

async fn publish_oracle(s: &Sequencer, markets: &[(String, MarketId)], oracle: &mut demo::DemoOracle) {
    for (symbol, quotes) in oracle.step() {
        let Some((_, market)) = markets.iter().find(|(m, _)| *m == symbol) else { continue };
        for (source, price) in quotes {
            let kind = CommandKind::OraclePrice { market: *market, source, price: Price(price) };
            // A full queue drops a demo price, never a client's command.
            if let Ok(rx) = s.submit(Submission::Kind(Box::new(kind))) {
                drop(rx.await);
            }
        }
    }
}

async fn fire_deadman(s: &Shared) {
    let now = api::now_ms();
    let due: Vec<u64> = {
        let mut d = s.deadman.lock().expect("deadman lock");
        let due: Vec<u64> = d.iter().filter(|(_, t)| **t <= now).map(|(a, _)| *a).collect();
        for a in &due {
            d.remove(a);
        }
        due
    };
    for account in due {
        let kind = CommandKind::CancelAll { account: perpx_core::AccountId(account), market: None };
        match s.sequencer.submit(Submission::Kind(Box::new(kind))) {
            Ok(rx) => {
                drop(rx.await);
                tracing::info!(account, "dead-man's switch fired: every order cancelled");
            }
            Err(e) => tracing::error!(account, error = ?e, "dead-man's switch could not be queued"),
        }
    }
}

fn announce(addr: std::net::SocketAddr, config: &ServerConfig, created: &[(&str, keys::ApiKey)]) {
    println!("perpx: serving on http://{addr} (data in {})", config.data_dir.display());
    println!("perpx: API docs at http://{addr}/docs, OpenAPI at http://{addr}/openapi.json");
    for (role, k) in created {
        let line = json!({ "role": role, "key": k.key, "secret": k.secret, "account": k.account, "scopes": k.scopes });
        println!("perpx: new {role} key (shown once): {line}");
    }
    if created.is_empty() {
        println!("perpx: API keys are in {}", config.data_dir.join("keys.json").display());
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        drop(tokio::signal::ctrl_c().await);
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    println!("perpx: shutting down: draining in-flight commands");
}
