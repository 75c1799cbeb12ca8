//! # perpx-wire
//!
//! The JSON form of perpx commands and events, as `perpx replay` reads and writes them and as
//! the API will speak them. Numbers that carry a unit are **decimal strings** in the market's
//! own precision (`"86000.5"`, `"0.001"`), never JSON floats; they are converted to the
//! engine's integer units exactly, or refused (a price off the tick is an error, not rounded).
//!
//! - [`units`]: decimal text ↔ `Price`, `Qty`, `Quote`, `Rate` for one market;
//! - [`account`]: the account view (collateral, margin, positions);
//! - [`command`]: a JSON command line → `Command`, with typed refusals;
//! - [`command_json`]: `Command` → its JSON command line (the inverse, for `perpx proof`);
//! - [`event`]: `Event` → JSON, with decimals formatted by the market's tick and lot;
//! - [`json_object`]: the JSON object writer the events are written with;
//! - [`replay`]: a whole script through a fresh engine, events out, state hash last;
//! - [`routing`]: which market and which accounts an event concerns;
//! - [`trade_message`]: the native WebSocket's trading messages, parsed in one pass.
//!
//! The schema is versioned ([`SCHEMA_VERSION`]) and documented in `docs/REPLAY.md`.

pub mod account;
pub mod command;
pub mod command_json;
pub mod event;
pub mod json_object;
pub mod replay;
pub mod routing;
pub mod trade_message;
pub mod units;

/// The version of the JSON schema of commands and events.
pub const SCHEMA_VERSION: u32 = 1;
