//! A market's funding configuration and the state of its current funding period.
//!
//! The formulas are in [`crate::risk::funding`]; the engine (`engine/funding.rs`) takes the
//! premium samples and runs the settlements in step 1 of every command. Funding times are
//! multiples of the interval since the Unix epoch (00:00, 08:00, 16:00 UTC for 8 h), sample
//! times multiples of the sampling period. A period's rate is scaled to its length: the interval,
//! except for the one period in which a scheduled interval change lands (its length is from the
//! last funding time to the first multiple of the new interval after it). A market created
//! mid-interval starts in the running period and pays its full rate at the first funding time:
//! funding is owed by whoever holds a position at the funding time, as on every venue.

use crate::engine::StateHasher;
use crate::num::{Quote, Rate, Timestamp};

/// One hour in ms.
pub const HOUR_MS: i64 = 60 * 60 * 1000;
/// The intervals a market may settle funding at: 1 h, 4 h, 8 h.
pub const FUNDING_INTERVALS_MS: [i64; 3] = [HOUR_MS, 4 * HOUR_MS, 8 * HOUR_MS];

/// The funding section of a market specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundingSpec {
    /// The settlement interval: 1 h, 4 h or 8 h (ms).
    pub interval_ms: i64,
    /// The interest rate per 8 h, `I8` (default 0.01 %).
    pub interest_8h: Rate,
    /// The dampener `c` around the interest rate (default 0.05 %).
    pub clamp: Rate,
    /// The cap on `|F8|`; `None`: `0.75 × (1/max_leverage − mmr(tier 1))`.
    pub cap_8h: Option<Rate>,
    /// The premium sampling period (ms): divides an hour, at least a second.
    pub sample_period_ms: i64,
    /// The notional the impact bid and ask must fill; `None`: 200 USD × max leverage (the
    /// notional whose initial margin at maximum leverage is 200 USD, Binance's rule).
    pub impact_notional: Option<Quote>,
}

impl Default for FundingSpec {
    fn default() -> Self {
        Self {
            interval_ms: 8 * HOUR_MS,
            interest_8h: Rate(10_000),
            clamp: Rate(50_000),
            cap_8h: None,
            sample_period_ms: 60_000,
            impact_notional: None,
        }
    }
}

impl FundingSpec {
    /// Checks the section.
    ///
    /// # Errors
    /// The first rule broken, as a message for `invalid_market_spec`.
    pub fn validate(&self) -> Result<(), String> {
        if !FUNDING_INTERVALS_MS.contains(&self.interval_ms) {
            return Err("funding: interval_ms must be 1 h, 4 h or 8 h (3600000, 14400000, 28800000)".into());
        }
        if self.interest_8h.0.unsigned_abs() > 1_000_000 {
            return Err("funding: interest_8h must be within ±1 %".into());
        }
        if self.clamp.is_negative() || self.clamp.0 > 1_000_000 {
            return Err("funding: clamp must be between 0 and 1 %".into());
        }
        if self.cap_8h.is_some_and(|c| !c.is_positive() || c > Rate(75_000_000)) {
            return Err("funding: cap_8h must be above 0 and at most 75 %".into());
        }
        if self.sample_period_ms < 1_000 || HOUR_MS % self.sample_period_ms != 0 {
            return Err("funding: sample_period_ms must be at least 1000 and divide an hour".into());
        }
        if self.impact_notional.is_some_and(|n| !n.is_positive()) {
            return Err("funding: impact_notional must be positive".into());
        }
        Ok(())
    }

    pub(crate) fn hash_into(&self, h: &mut StateHasher) {
        h.i64(self.interval_ms).i64(self.interest_8h.0).i64(self.clamp.0);
        for v in [self.cap_8h.map(|r| r.0), self.impact_notional.map(|q| q.0)] {
            match v {
                None => h.tag(0),
                Some(x) => h.tag(1).i64(x),
            };
        }
        h.i64(self.sample_period_ms);
    }
}

/// The first multiple of `step` strictly after `t`.
#[must_use]
pub fn next_multiple_after(t: Timestamp, step: i64) -> Timestamp {
    Timestamp((t.0.div_euclid(step) + 1).saturating_mul(step))
}

/// The state of a market's funding: the current period and its premium samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundingState {
    /// When the current period began (the last funding time, or the interval boundary before
    /// the market's creation).
    pub period_start: Timestamp,
    /// When it ends: the next funding time.
    pub next_funding: Timestamp,
    /// The next premium sample time.
    pub next_sample_at: Timestamp,
    /// Σ premium samples of the period (1e-8 of the index).
    pub premium_sum: i128,
    /// Samples taken in the period.
    pub samples: u64,
    /// Sample times of the period at which no index stood (nothing was invented).
    pub missed: u64,
    /// The rate of the last settlement (per its period), if any.
    pub last_rate: Option<Rate>,
    /// The 8-hour rate of the last settlement.
    pub last_rate_8h: Option<Rate>,
    /// The APR of the last settlement's rate (`F × periods per year` of its period).
    pub last_apr: Option<Rate>,
    /// When the last settlement was due.
    pub last_funding: Option<Timestamp>,
}

impl FundingState {
    /// The state of a market created at `now`.
    #[must_use]
    pub fn new(spec: &FundingSpec, now: Timestamp) -> Self {
        let next_funding = next_multiple_after(now, spec.interval_ms);
        Self {
            period_start: Timestamp(next_funding.0 - spec.interval_ms),
            next_funding,
            next_sample_at: next_multiple_after(now, spec.sample_period_ms),
            premium_sum: 0,
            samples: 0,
            missed: 0,
            last_rate: None,
            last_rate_8h: None,
            last_apr: None,
            last_funding: None,
        }
    }

    /// The mean premium of the period, rounded towards zero, if any sample was taken.
    #[must_use]
    pub fn average_premium(&self) -> Option<Rate> {
        if self.samples == 0 {
            return None;
        }
        let avg = self.premium_sum / i128::from(self.samples);
        Some(Rate(i64::try_from(avg).unwrap_or(if avg > 0 { i64::MAX } else { i64::MIN })))
    }

    pub(crate) fn hash_into(&self, h: &mut StateHasher) {
        h.i64(self.period_start.0).i64(self.next_funding.0).i64(self.next_sample_at.0);
        // The i128 sum as two halves, low first.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let (lo, hi) = (self.premium_sum as u64, (self.premium_sum >> 64) as u64);
        h.u64(lo).u64(hi).u64(self.samples).u64(self.missed);
        for v in [
            self.last_rate.map(|r| r.0),
            self.last_rate_8h.map(|r| r.0),
            self.last_apr.map(|r| r.0),
            self.last_funding.map(|t| t.0),
        ] {
            match v {
                None => h.tag(0),
                Some(x) => h.tag(1).i64(x),
            };
        }
    }
}
