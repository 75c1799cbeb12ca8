//! The unit newtypes. Each wraps an `i64` whose scale is fixed by the type, so a price can't
//! be added to a size and a fee rate can't be mistaken for a price.

use super::{ArithmeticError, mul_div_ceil, mul_div_floor, narrow};

macro_rules! int_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub i64);

        impl $name {
            /// Zero of this unit.
            pub const ZERO: Self = Self(0);

            /// The raw integer in this type's unit.
            #[must_use]
            pub const fn raw(self) -> i64 {
                self.0
            }

            /// `self + rhs`.
            ///
            /// # Errors
            /// [`ArithmeticError::Overflow`] if the sum does not fit.
            pub fn checked_add(self, rhs: Self) -> Result<Self, ArithmeticError> {
                self.0.checked_add(rhs.0).map(Self).ok_or(ArithmeticError::Overflow)
            }

            /// `self − rhs`.
            ///
            /// # Errors
            /// [`ArithmeticError::Overflow`] if the difference does not fit.
            pub fn checked_sub(self, rhs: Self) -> Result<Self, ArithmeticError> {
                self.0.checked_sub(rhs.0).map(Self).ok_or(ArithmeticError::Overflow)
            }

            /// `−self`.
            ///
            /// # Errors
            /// [`ArithmeticError::Overflow`] for `i64::MIN`.
            pub fn checked_neg(self) -> Result<Self, ArithmeticError> {
                self.0.checked_neg().map(Self).ok_or(ArithmeticError::Overflow)
            }

            /// Whether the value is strictly positive.
            #[must_use]
            pub const fn is_positive(self) -> bool {
                self.0 > 0
            }

            /// Whether the value is strictly negative.
            #[must_use]
            pub const fn is_negative(self) -> bool {
                self.0 < 0
            }

            /// Absolute value.
            ///
            /// # Errors
            /// [`ArithmeticError::Overflow`] for `i64::MIN`.
            pub fn checked_abs(self) -> Result<Self, ArithmeticError> {
                self.0.checked_abs().map(Self).ok_or(ArithmeticError::Overflow)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

int_newtype!(
    /// A price in ticks of its market. `Price(860_000)` with a tick of 0.1 is 86,000.0.
    Price
);
int_newtype!(
    /// A size in lots of its market. Order sizes are positive; position sizes are signed
    /// (long > 0). `Qty(100)` with a lot of 0.001 is 0.1 of the base asset.
    Qty
);
int_newtype!(
    /// An amount of the settlement stablecoin in micro-units (1e-6): collateral, fees, PnL,
    /// cost basis. `Quote(400_000_000)` is 400.000000.
    Quote
);
int_newtype!(
    /// A signed rate or ratio in units of 1e-8: fees (1.5 bp = 15,000), bands, margin rates,
    /// funding rates. `Rate::ONE` is 100 %.
    Rate
);

impl Rate {
    /// 100 %, the denominator of every rate.
    pub const ONE: Self = Self(100_000_000);
    /// The denominator as `i128`, for intermediates.
    pub const SCALE: i128 = 100_000_000;
}

impl Quote {
    /// Micro-units per whole unit of the settlement stablecoin.
    pub const SCALE: i64 = 1_000_000;

    /// `⌈self × rate⌉` in micro-units: what the venue *charges* at `rate` (a fee), rounded so
    /// the venue never gives up the last unit.
    ///
    /// # Errors
    /// [`ArithmeticError::Overflow`] if the result does not fit.
    pub fn mul_rate_ceil(self, rate: Rate) -> Result<Self, ArithmeticError> {
        narrow(mul_div_ceil(i128::from(self.0), i128::from(rate.0), Rate::SCALE)?).map(Self)
    }

    /// `⌊self × rate⌋` in micro-units: what the venue *pays* at `rate` (a rebate), rounded so
    /// the receiver never gets a unit the venue did not collect.
    ///
    /// # Errors
    /// [`ArithmeticError::Overflow`] if the result does not fit.
    pub fn mul_rate_floor(self, rate: Rate) -> Result<Self, ArithmeticError> {
        narrow(mul_div_floor(i128::from(self.0), i128::from(rate.0), Rate::SCALE)?).map(Self)
    }
}

impl Price {
    /// `⌊self × (1 + rate)⌋`: the highest whole tick not above `self` moved up by `rate`.
    /// Used for the upper edge of a band, so the edge stays inside it.
    ///
    /// # Errors
    /// [`ArithmeticError::Overflow`] if the result does not fit.
    pub fn scale_up_floor(self, rate: Rate) -> Result<Self, ArithmeticError> {
        let factor = Rate::SCALE + i128::from(rate.0);
        narrow(mul_div_floor(i128::from(self.0), factor, Rate::SCALE)?).map(Self)
    }

    /// `⌈self × (1 − rate)⌉`: the lowest whole tick not below `self` moved down by `rate`.
    /// Used for the lower edge of a band, so the edge stays inside it.
    ///
    /// # Errors
    /// [`ArithmeticError::Overflow`] if the result does not fit.
    pub fn scale_down_ceil(self, rate: Rate) -> Result<Self, ArithmeticError> {
        let factor = Rate::SCALE - i128::from(rate.0);
        narrow(mul_div_ceil(i128::from(self.0), factor, Rate::SCALE)?).map(Self)
    }
}

/// A point in time: milliseconds since the Unix epoch. Time enters the engine only as a field
/// of each command; the engine never reads a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Milliseconds since the epoch.
    #[must_use]
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// `self + ms`, saturating: a deadline past the end of time is the end of time.
    #[must_use]
    pub const fn saturating_add_millis(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fees_are_charged_rounded_up_and_rebates_paid_rounded_down() {
        // 5 bp taker fee on 10.000001 is 0.00500000005: charged as 0.005001.
        assert_eq!(Quote(10_000_001).mul_rate_ceil(Rate(50_000)), Ok(Quote(5_001)));
        // a 1.1 bp rebate on the same notional is 0.0011000001: paid as 0.001100.
        assert_eq!(Quote(10_000_001).mul_rate_floor(Rate(11_000)), Ok(Quote(1_100)));
    }

    #[test]
    fn band_edges_stay_inside_the_band() {
        // mark 1001 ticks, 5 % band: 1051.05 → 1051 up, 950.95 → 951 down.
        assert_eq!(Price(1_001).scale_up_floor(Rate(5_000_000)), Ok(Price(1_051)));
        assert_eq!(Price(1_001).scale_down_ceil(Rate(5_000_000)), Ok(Price(951)));
    }

    #[test]
    fn checked_ops_report_overflow() {
        assert_eq!(Qty(i64::MAX).checked_add(Qty(1)), Err(ArithmeticError::Overflow));
        assert_eq!(Quote(i64::MIN).checked_neg(), Err(ArithmeticError::Overflow));
        assert_eq!(Price(5).checked_sub(Price(7)), Ok(Price(-2)));
    }
}
