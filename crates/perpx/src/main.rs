//! `perpx`: the command-line entry point.
//!
//! Subcommands land with their issues; today: `serve`, `replay`, `verify`, `proof` and `bench`.

mod bench;
mod proof;
mod verify;

/// mimalloc instead of glibc's allocator for every subcommand. Measured (docs/PERFORMANCE.md,
/// "Server under load", session 6): under `perpx bench` at saturation glibc's `malloc`, `free`
/// and their chunk bookkeeping were about 38 % of the engine thread's samples — the thread
/// frees what the gateway threads allocated (commands, answer channels) and allocates what they
/// free (answers, encoded events). The engine's results do not depend on the allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use perpx_wire::replay::{ReplayOptions, replay};

/// perpx: an open-source perpetual-futures exchange.
#[derive(Debug, Parser)]
#[command(name = "perpx", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Load-test a running `perpx serve`: concurrent signed clients, open loop at a target rate,
    /// latency percentiles of acks, fill notices to both sides and (with `--liquidations`)
    /// liquidation and ADL notices (docs/PERFORMANCE.md).
    Bench {
        /// The server.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// An admin key (printed by `serve` on first start).
        #[arg(long)]
        admin_key: String,
        /// Its secret.
        #[arg(long)]
        admin_secret: String,
        /// Concurrent clients.
        #[arg(long, default_value_t = 8)]
        clients: usize,
        /// Target orders per second, all clients together.
        #[arg(long, default_value_t = 2_000)]
        rate: u64,
        /// Seconds of load.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// The market.
        #[arg(long, default_value = "BTC-PERP")]
        market: String,
        /// `http` (a signed request per order, one in flight per client) or `ws` (one
        /// WebSocket per client, a signed login, orders pipelined).
        #[arg(long, default_value = "http", value_parser = ["http", "ws"])]
        transport: String,
        /// After the load, a price gap: this many leveraged accounts are driven into
        /// liquidation (and ADL) by an admin mark move, and their notices are timed (at most
        /// 64: one liquidation pass). 0: no gap.
        #[arg(long, default_value_t = 0)]
        liquidations: usize,
        /// Don't follow the account streams (no fill-notice figures): the load alone, as the
        /// bench measured before the streams (they cost the server a forward per notice).
        #[arg(long)]
        no_notices: bool,
    },
    /// Run the venue: the HTTP API over the engine. With no arguments it creates ./perpx-data
    /// with two demo markets, a demo oracle and demo keys (printed once). docs/API.md.
    Serve {
        /// Where the venue keeps its state (default ./perpx-data).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Address to listen on (default 127.0.0.1:8080; port 0 picks one and prints it).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// A TOML file of settings (docs/API.md, "Settings"); flags override it.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Don't create the demo markets, keys and oracle (an admin key is still created).
        #[arg(long)]
        no_demo: bool,
        /// A directory of finished `perpx sim` outputs the web console may open, read-only
        /// (docs/CONSOLE.md).
        #[arg(long)]
        sim_reports: Option<PathBuf>,
    },
    /// Feed a JSON-lines script of commands into a fresh engine; print its events as JSON
    /// lines, then the final state hash. The schema is in docs/REPLAY.md.
    Replay {
        /// The script (`-` for standard input).
        script: PathBuf,
        /// Skip the invariant check after every command (faster on very long scripts).
        #[arg(long)]
        no_invariants: bool,
        /// Print only the closing summary line, not every event.
        #[arg(long)]
        summary_only: bool,
    },
    /// Run a stress scenario through the engine: liquidations, funds, ADL, basis traders;
    /// a report with charts. Monte Carlo with --runs, policy comparison with --compare.
    /// docs/SIMULATOR.md.
    Sim {
        /// The scenario (TOML; see scenarios/).
        scenario: PathBuf,
        /// The seed (default: the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Monte Carlo: this many runs over seeds seed, seed+1, … on every core.
        #[arg(long)]
        runs: Option<u32>,
        /// Where the report goes (default sim-out/NAME, NAME-mc or NAME-compare).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Compare the ADL policies and waterfalls on the same scenario and seed.
        #[arg(long)]
        compare: bool,
        /// Threads for --runs and --compare (default: every core; results do not depend on it).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Check a journal directory end to end: every checksum and the hash chain from genesis
    /// (archive included), every command replayed through a fresh engine against its recorded
    /// events digest, and the final state against the newest snapshot. Prints a JSON report;
    /// the first mismatch names the record, its segment and offset, and what differed.
    Verify {
        /// The journal directory.
        dir: PathBuf,
        /// No progress or summary on standard error.
        #[arg(long)]
        quiet: bool,
    },
    /// Prove that a record is in a journal: the record, its decoded command, its events and
    /// every record linking it to the chain head, as JSON, verified against that head.
    Proof {
        /// The journal directory.
        dir: PathBuf,
        /// The record to prove.
        #[arg(long)]
        seq: u64,
        /// The head to prove it against (default: the journal's last record).
        #[arg(long)]
        to: Option<u64>,
    },
}

fn run_replay(script: &PathBuf, no_invariants: bool, summary_only: bool) -> Result<(), String> {
    let options = ReplayOptions { check_invariants: !no_invariants, ..ReplayOptions::default() };
    let stdout = io::stdout();
    let result = if summary_only {
        let mut sink = io::sink();
        run_on(script, &mut sink, &options).and_then(|summary| {
            let mut out = stdout.lock();
            serde_json::to_writer(&mut out, &summary).map_err(|e| e.to_string())?;
            writeln!(out).map_err(|e| e.to_string())
        })
    } else {
        let mut out = BufWriter::new(stdout.lock());
        run_on(script, &mut out, &options).map(|_| ()).and_then(|()| out.flush().map_err(|e| e.to_string()))
    };
    result.map_err(|e| format!("replay of {}: {e}", script.display()))
}

fn run_on<W: Write>(
    script: &PathBuf,
    out: &mut W,
    options: &ReplayOptions,
) -> Result<perpx_wire::replay::ReplaySummary, String> {
    let r = if script.as_os_str() == "-" {
        replay(io::stdin().lock(), out, options)
    } else {
        let file = File::open(script).map_err(|e| e.to_string())?;
        replay(BufReader::new(file), out, options)
    };
    r.map(|(_, summary)| summary).map_err(|e| e.to_string())
}

fn run_serve(
    data_dir: &Option<PathBuf>,
    listen: Option<std::net::SocketAddr>,
    config: Option<&PathBuf>,
    no_demo: bool,
    sim_reports: Option<&PathBuf>,
) -> Result<(), String> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(io::stderr)
        .init();
    let mut c = match config {
        Some(path) => perpx_server::config::ServerConfig::from_file(path)?,
        None => perpx_server::config::ServerConfig::default(),
    };
    if let Some(d) = data_dir {
        c.data_dir.clone_from(d);
    }
    if let Some(l) = listen {
        c.listen = l;
    }
    if no_demo {
        c.demo = false;
    }
    if let Some(d) = sim_reports {
        c.sim_reports = Some(d.clone());
    }
    perpx_server::serve(c)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Cmd::Bench {
            url,
            admin_key,
            admin_secret,
            clients,
            rate,
            seconds,
            market,
            transport,
            liquidations,
            no_notices,
        } => {
            let c = bench::BenchConfig {
                url: url.clone(),
                admin_key: admin_key.clone(),
                admin_secret: admin_secret.clone(),
                clients: *clients,
                rate: *rate,
                seconds: *seconds,
                market: market.clone(),
                first_account: 1_000_000,
                transport: if transport == "ws" { bench::Transport::Ws } else { bench::Transport::Http },
                liquidations: *liquidations,
                notices: !*no_notices,
            };
            bench::run(&c).map(|report| println!("{report}"))
        }
        Cmd::Serve { data_dir, listen, config, no_demo, sim_reports } => {
            run_serve(data_dir, *listen, config.as_ref(), *no_demo, sim_reports.as_ref())
        }
        Cmd::Replay { script, no_invariants, summary_only } => run_replay(script, *no_invariants, *summary_only),
        Cmd::Sim { scenario, seed, runs, out, compare, threads } => perpx_sim::cli::main(&perpx_sim::cli::SimArgs {
            scenario: scenario.clone(),
            seed: *seed,
            runs: *runs,
            out: out.clone(),
            compare: *compare,
            threads: *threads,
        }),
        Cmd::Verify { dir, quiet } => verify::run(dir, *quiet),
        Cmd::Proof { dir, seq, to } => proof::run(dir, *seq, *to),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("perpx: {msg}");
            ExitCode::FAILURE
        }
    }
}
