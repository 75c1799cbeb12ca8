//! Replaying a JSON-lines script through a fresh engine.
//!
//! Each line is decoded and applied; its events are written as JSON lines; a line refused
//! before the engine (malformed, unknown market, off-tick…) is written as a `rejected` line
//! naming its line number. After the last line come one `account` line per account (collateral,
//! margin, positions at the final marks, their funding), one `market` line per market (index,
//! mark, funding rates and times) and one `end` line with the counts and the final
//! state hash. With `check_invariants`, every engine invariant is checked after every
//! command and the replay stops at the first violation.

use std::io::{BufRead, Write};

use perpx_core::{Command, CommandKind, Engine, EngineConfig, EventKind, MarketId};
use serde::Serialize;

use crate::SCHEMA_VERSION;
use crate::account::{account_view, market_view};
use crate::command::{Line, decode_line};
use crate::event::{encode_refusal, write_event};

/// How to replay.
#[derive(Debug, Clone, Default)]
pub struct ReplayOptions {
    /// Check every engine invariant after every command.
    pub check_invariants: bool,
    /// The engine's settings.
    pub config: EngineConfig,
}

/// The closing line of a replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplaySummary {
    /// Always `end`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Commands applied by the engine.
    pub commands: u64,
    /// Of those, commands the engine rejected.
    pub rejected: u64,
    /// Lines refused before reaching the engine.
    pub refused_lines: u64,
    /// Fills produced.
    pub fills: u64,
    /// The engine's last sequence number.
    pub seq: u64,
    /// The final state hash (hex).
    pub state_hash: String,
}

/// Why a replay stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// Reading the script or writing the output failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The header names a schema or version this build does not read.
    #[error(
        "line {line}: unsupported script header (schema '{schema}', version {version}); this build reads perpx.replay version {SCHEMA_VERSION}"
    )]
    UnsupportedHeader {
        /// Line number.
        line: usize,
        /// The schema named.
        schema: String,
        /// The version named.
        version: u32,
    },
    /// A header appeared after the first command.
    #[error("line {0}: the schema header must come before any command")]
    LateHeader(usize),
    /// An engine invariant broke (an engine bug): the replay stops here.
    #[error("line {line} (seq {seq}): invariant violated: {detail}")]
    Invariant {
        /// Line number.
        line: usize,
        /// Sequence number of the command.
        seq: u64,
        /// What broke.
        detail: String,
    },
}

/// The market a command names, if any: rejections are formatted in its units.
#[must_use]
pub fn command_market(cmd: &Command) -> Option<MarketId> {
    match &cmd.kind {
        CommandKind::SetMark { market, .. }
        | CommandKind::OraclePrice { market, .. }
        | CommandKind::CancelOrder { market, .. }
        | CommandKind::MassCancel { market } => Some(*market),
        CommandKind::PlaceOrder(o) => Some(o.market),
        CommandKind::PlaceStop(s) => Some(s.market),
        CommandKind::AmendOrder(a) => Some(a.market),
        CommandKind::CancelAll { market, .. } => *market,
        CommandKind::SetLeverage { market, .. }
        | CommandKind::SetMarginMode { market, .. }
        | CommandKind::AdjustIsolatedMargin { market, .. }
        | CommandKind::Halt { market }
        | CommandKind::Resume { market }
        | CommandKind::ScheduleParams { market, .. }
        | CommandKind::Delist { market, .. } => Some(*market),
        CommandKind::CapitaliseFund { fund: perpx_core::event::FundRef::Market(market), .. } => Some(*market),
        CommandKind::CreateMarket(_)
        | CommandKind::SetLiquidator { .. }
        | CommandKind::CapitaliseFund { .. }
        | CommandKind::Tick
        | CommandKind::AdminAudit { .. }
        | CommandKind::Deposit { .. }
        | CommandKind::Withdraw { .. } => None,
    }
}

fn write_json<W: Write, T: Serialize>(out: &mut W, value: &T) -> Result<(), ReplayError> {
    serde_json::to_writer(&mut *out, value).map_err(std::io::Error::from)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Replays `input` into a fresh engine, writing events to `output`.
///
/// # Errors
/// [`ReplayError`] for i/o failures, an unsupported header, or (with `check_invariants`) a
/// broken invariant. Refused lines and rejected commands are output, not errors.
pub fn replay<R: BufRead, W: Write>(
    input: R,
    output: &mut W,
    options: &ReplayOptions,
) -> Result<(Engine, ReplaySummary), ReplayError> {
    let mut engine = Engine::new(options.config.clone());
    let mut summary = ReplaySummary {
        kind: "end",
        commands: 0,
        rejected: 0,
        refused_lines: 0,
        fills: 0,
        seq: 0,
        state_hash: String::new(),
    };
    let mut events = Vec::new();
    let mut line = String::new();
    for (i, text) in input.lines().enumerate() {
        let line_no = i + 1;
        let text = text?;
        match decode_line(&text, &engine) {
            Ok(None) => {}
            Ok(Some(Line::Header(h))) => {
                if summary.commands > 0 || summary.refused_lines > 0 {
                    return Err(ReplayError::LateHeader(line_no));
                }
                if h.schema != "perpx.replay" || h.version != SCHEMA_VERSION {
                    return Err(ReplayError::UnsupportedHeader { line: line_no, schema: h.schema, version: h.version });
                }
            }
            Ok(Some(Line::Command(cmd))) => {
                events.clear();
                engine.apply_into(&cmd, &mut events);
                summary.commands += 1;
                let market = command_market(&cmd);
                for e in &events {
                    match e.kind {
                        EventKind::Rejected { .. } => summary.rejected += 1,
                        EventKind::Fill(_) => summary.fills += 1,
                        _ => {}
                    }
                    for notice in e.notices() {
                        line.clear();
                        write_event(&notice, &engine, market, &mut line);
                        line.push('\n');
                        output.write_all(line.as_bytes())?;
                    }
                }
                if options.check_invariants {
                    engine.check_invariants().map_err(|detail| ReplayError::Invariant {
                        line: line_no,
                        seq: engine.seq(),
                        detail,
                    })?;
                }
            }
            Err(refusal) => {
                summary.refused_lines += 1;
                write_json(output, &encode_refusal(&refusal, line_no, &engine))?;
            }
        }
    }
    // The final state of every account, by id, so a script's money can be read off its output.
    let ids: Vec<_> = engine.accounts().map(|(id, _)| *id).collect();
    for id in ids {
        if let Some(view) = account_view(&engine, id) {
            write_json(output, &view)?;
        }
    }
    // Then every market, by id: its prices and its funding disclosure.
    for m in engine.markets() {
        if let Some(view) = market_view(&engine, m.id) {
            write_json(output, &view)?;
        }
    }
    summary.seq = engine.seq();
    summary.state_hash = engine.state_hash().to_hex();
    write_json(output, &summary)?;
    Ok((engine, summary))
}
