//! The simulator's errors. An invariant failure names the seed and the command, so the run can
//! be reproduced exactly.

use crate::scenario::ScenarioError;

/// Why a run stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// The scenario file was refused.
    #[error(transparent)]
    Scenario(#[from] Box<ScenarioError>),
    /// A set-up command (market, fund, deposit…) was refused by the engine.
    #[error("{0}")]
    Setup(Box<SetupFailure>),
    /// `check_invariants()` failed: a bug in the engine (or in what the simulator asked of it).
    #[error("{0}")]
    Invariant(Box<InvariantFailure>),
    /// Writing the report failed.
    #[error("{0}")]
    Io(String),
}

/// Where and how an invariant broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "INVARIANT BROKEN in scenario '{scenario}' with seed {seed} at step {step} ({at}), after {command}: \
     {message}\n  reproduce with: perpx sim {file} --seed {seed}"
)]
pub struct InvariantFailure {
    /// The scenario.
    pub scenario: String,
    /// Its file.
    pub file: String,
    /// The seed.
    pub seed: u64,
    /// The step.
    pub step: usize,
    /// Its time.
    pub at: String,
    /// The last command applied.
    pub command: String,
    /// The invariant's message.
    pub message: String,
}

/// A set-up command the engine refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scenario '{scenario}' (seed {seed}): the engine refused the set-up command {command}: {reason}")]
pub struct SetupFailure {
    /// The scenario.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// The command.
    pub command: String,
    /// The engine's reason.
    pub reason: String,
}
