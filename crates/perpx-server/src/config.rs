//! Server settings: every field has a default, so `perpx serve` runs with none; `--config FILE`
//! reads a TOML file with any subset of them (unknown keys are refused, so a typo is an error).

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// The server's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Where to listen (default `127.0.0.1:8080`; port 0 picks a free port and prints it).
    pub listen: SocketAddr,
    /// Where the venue keeps its state (default `./perpx-data`).
    pub data_dir: PathBuf,
    /// On first start, create the demo markets, keys and collateral, and run the demo oracle.
    pub demo: bool,
    /// Seed of the demo oracle's random walk (the walk is an input: it is journaled as oracle
    /// commands, so a replay never needs the seed).
    pub demo_seed: u64,
    /// How often the demo oracle publishes each source's price (ms).
    pub oracle_interval_ms: u64,
    /// How often a `tick` advances the engine clock when nothing else does (ms).
    pub tick_interval_ms: u64,
    /// The engine queue's capacity; beyond it requests are answered 503 with a retry hint.
    pub queue_capacity: usize,
    /// The largest request body (bytes).
    pub max_body_bytes: usize,
    /// How far a signed request's timestamp may be from the server clock (ms).
    pub recv_window_ms: i64,
    /// Requests per second allowed per API key (token bucket, burst twice as large).
    pub rate_limit_per_key: u32,
    /// Requests per second allowed per client IP.
    pub rate_limit_per_ip: u32,
    /// The most items in one batch request.
    pub max_batch: usize,
    /// The longest dead-man's switch timeout (ms).
    pub max_deadman_ms: i64,
    /// Messages a WebSocket client may leave unsent before it is cut off as slow, checked as
    /// each group commit's messages arrive (they go in together): `api::send_queue`. 8,192 by
    /// default: at 60 k orders/s on the reference machine a connection's writer was seen idle
    /// for 25–47 ms with messages waiting (both cores shared with the load tool), and a notice
    /// stream of 40 k messages/s (measured) outran 1,024 in about 25 ms (docs/PERFORMANCE.md,
    /// session 10). About 2.5 MB of the bench's notices (about 310 bytes each, measured).
    pub ws_send_buffer: usize,
    /// Trading commands one WebSocket connection may have queued or waiting for their commit;
    /// beyond it the server stops reading the socket until answers go out. Capped at
    /// `ws_send_buffer` (the answers must fit in the send queue): see
    /// [`ServerConfig::ws_in_flight_max`].
    pub ws_max_in_flight: usize,
    /// Keep the state in memory only, without the journal (tests, throwaway demos).
    pub volatile: bool,
    /// Write an engine snapshot every this many commands (bounds the replay after a restart).
    pub snapshot_every: u64,
    /// Keep the history read model (`history.sqlite` in the data directory).
    pub history: bool,
    /// Delete history older than this (ms); 0 keeps everything.
    pub history_retention_ms: i64,
    /// Binance symbols of perpx markets where the default rule (`BASE-PERP` → `BASEUSDT`)
    /// doesn't fit, e.g. `fapi_symbols = { "XBT-PERP" = "BTCUSDT" }`.
    pub fapi_symbols: std::collections::BTreeMap<String, String>,
    /// A directory of finished `perpx sim` outputs the console's simulator view may open
    /// (served read-only at `/console/sims/`; none by default).
    pub sim_reports: Option<PathBuf>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("perpx-data"),
            demo: true,
            demo_seed: 1,
            oracle_interval_ms: 1_000,
            tick_interval_ms: 1_000,
            queue_capacity: 4_096,
            max_body_bytes: 64 * 1024,
            recv_window_ms: 5_000,
            rate_limit_per_key: 100,
            rate_limit_per_ip: 400,
            max_batch: 20,
            max_deadman_ms: 10 * 60 * 1_000,
            ws_send_buffer: 8_192,
            ws_max_in_flight: 512,
            volatile: false,
            snapshot_every: 100_000,
            history: true,
            history_retention_ms: 0,
            fapi_symbols: std::collections::BTreeMap::new(),
            sim_reports: None,
        }
    }
}

impl ServerConfig {
    /// Reads a TOML file over the defaults.
    ///
    /// # Errors
    /// The file can't be read or isn't valid TOML for these settings.
    pub fn from_file(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The trading messages one WebSocket may have waiting: `ws_max_in_flight`, but never more
    /// than `ws_send_buffer` (every answer must fit in the send queue) nor less than 1.
    #[must_use]
    pub fn ws_in_flight_max(&self) -> usize {
        self.ws_max_in_flight.min(self.ws_send_buffer).max(1)
    }
}
