//! Exact numbers: integer newtypes with a fixed scale per type, checked arithmetic.
//!
//! | type        | unit                                   | scale                      |
//! |-------------|----------------------------------------|----------------------------|
//! | [`Price`]   | ticks of one market                    | `tick_size` of the market  |
//! | [`Qty`]     | lots of one market                     | `lot_size` of the market   |
//! | [`Quote`]   | micro-units of the settlement stablecoin | 1e-6                     |
//! | [`Rate`]    | every rate and ratio (fees, bands, margin rates) | 1e-8, signed      |
//! | [`Timestamp`] | milliseconds since the Unix epoch    | 1 ms                       |
//!
//! There are no floats anywhere in perpx. Products go through `i128` and come back with a
//! checked narrowing; overflow is an [`ArithmeticError`], never a wrap. Every function that
//! divides says in its name which way it rounds (`_floor` towards −∞, `_ceil` towards +∞) and
//! its doc says whom that favours.

mod decimal;
mod muldiv;
mod types;

pub use decimal::{Decimal, DecimalError};
pub(crate) use muldiv::{div_euclid, div_rem};
pub use muldiv::{mul_div_ceil, mul_div_floor, narrow};
pub use types::{Price, Qty, Quote, Rate, Timestamp};

/// An arithmetic failure. Inputs that could cause one are rejected before they reach the
/// state; seeing this error inside the engine after validation is a bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ArithmeticError {
    /// A result does not fit its type.
    #[error("arithmetic overflow")]
    Overflow,
    /// A division by zero was attempted.
    #[error("division by zero")]
    DivisionByZero,
}
