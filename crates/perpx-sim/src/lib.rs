//! # perpx-sim
//!
//! The stress simulator: agent-based crash scenarios driving the **same engine** as the server
//! and `perpx replay` — no second model of the rules. Agents produce `Command`s, the engine
//! applies them, the simulator reads events and state.
//!
//! - [`scenario`]: the TOML scenario file (markets in the JSON schema's terms, waterfall, price
//!   paths, oracle behaviour, agent populations), refused with line and key when malformed;
//! - [`path`]: spot paths — GBM with jumps, volatility regimes and scripted gaps, or a CSV replay;
//! - [`oracle`]: the oracle feed with delays, noise, stale sources, frozen feeds and outliers;
//! - [`agents`]: leveraged traders, market makers (basis trade in spot), arbitrageurs, backstop
//!   liquidators;
//! - [`run`](mod@run): one run — set-up, steps, ticks, invariant checks after every step;
//! - [`observe`] and [`summary`]: what a run did (`summary.json`, the time series);
//! - [`report`]: `summary.json`, `timeseries.csv`, SVG charts and an HTML report;
//! - [`montecarlo`]: many seeds on every core, results independent of the thread count;
//! - [`compare`]: the same scenario and seed under each ADL policy and each waterfall.
//!
//! Floats are allowed only where inputs are made (paths, agents, chart coordinates); every
//! value that reaches the engine is converted in [`convert`]. `docs/SIMULATOR.md` is the guide.

pub mod agents;
pub mod cli;
pub mod compare;
pub mod convert;
pub mod error;
pub mod montecarlo;
pub mod observe;
pub mod oracle;
pub mod parallel;
pub mod path;
pub mod progress;
pub mod report;
pub mod rng;
pub mod run;
pub mod scenario;
pub mod stats;
pub mod summary;
pub mod time;

pub use error::SimError;
pub use run::{RunOptions, RunOutput, run};
pub use scenario::{Scenario, ScenarioError};
