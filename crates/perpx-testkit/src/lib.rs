//! # perpx-testkit
//!
//! What the engine's tests are built from:
//! - [`fixtures`]: realistic market specs (BTC, ETH) and a tiny one whose limits random streams
//!   hit, plus terse command builders;
//! - [`reference`](mod@reference): a naive reference model of the book rules of
//!   `docs/ENGINE.md`, written from the document, to compare the engine with command by command;
//! - [`stream`]: seeded generators of realistic, partly adversarial command streams;
//!   [`venue_stream`] where margin binds; [`mixed_stream`] with admin, oracle and clock
//!   commands mixed in (for snapshot and journal tests);
//! - [`compare`]: engine events reduced to the model's outcomes, engine books as snapshots, and
//!   a coverage tally so a test can prove its stream exercised what it claims.

pub mod compare;
pub mod fixtures;
pub mod margin_model;
pub mod mixed_stream;
pub mod reference;
pub mod stream;
pub mod venue_stream;
