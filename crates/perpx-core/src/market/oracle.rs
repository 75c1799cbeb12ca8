//! A market's reference-price configuration and state: its oracle sources, the index made
//! from them, the stale-index policy and the inputs of the mark price.
//!
//! The rules live in [`crate::price::index`] and [`crate::price::mark`] (pure functions); the
//! engine (`engine/oracle.rs`) stores what the oracle commands bring and applies them. The
//! stale-index policy (`docs/FUNDING.md`):
//!
//! - below the quorum the index is **stale** from the moment the quorum was lost (`since`);
//! - `stale_grace_ms` after `since` the market turns **reduce-only**;
//! - `max_stale_ms` after `since` it **halts** (the mark, frozen at its last good value, is no
//!   longer trusted for anything);
//! - when the quorum comes back the stages are undone in reverse order, each with an event.

use std::collections::VecDeque;

use crate::engine::StateHasher;
use crate::num::{Price, Rate, Timestamp};

/// The most oracle sources one market may name.
pub const MAX_ORACLE_SOURCES: usize = 32;
/// The longest moving window of the mark's basis, in sampling steps.
pub const MAX_MARK_BASIS_SAMPLES: u32 = 120;

/// One spot source of the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OracleSource {
    /// Its name (`binance`, `coinbase`…): 1–20 characters of `a–z 0–9 - _ .`, unique in the market.
    pub name: String,
    /// Its weight in the index's weighted median (1–1,000).
    pub weight: u32,
}

/// The oracle section of a market specification. With no sources the market has no index:
/// its mark is set by `set_mark` alone (tests, the simulator) and funding has no premium
/// samples, so it pays the interest rate alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OracleSpec {
    /// The sources, in the order oracle commands name them (their id is their position).
    pub sources: Vec<OracleSource>,
    /// A source price older than this is stale (ms).
    pub staleness_ms: i64,
    /// A source further than this from the median of the fresh sources is an outlier.
    pub outlier_band: Rate,
    /// The fewest sources an index may stand on; `None`: a majority of the sources.
    pub quorum: Option<u32>,
    /// How long the index may be stale before the market turns reduce-only (ms).
    pub stale_grace_ms: i64,
    /// How long the index may be stale before the market halts (ms), at least `stale_grace_ms`.
    pub max_stale_ms: i64,
    /// How far the mark may be from the index: `|mark − index| ≤ index × mark_band`.
    pub mark_band: Rate,
    /// The mark's basis average is over this many sampling steps (1–120).
    pub mark_basis_samples: u32,
}

impl Default for OracleSpec {
    fn default() -> Self {
        Self {
            sources: Vec::new(),
            staleness_ms: 10_000,
            outlier_band: Rate(2_000_000),
            quorum: None,
            stale_grace_ms: 30_000,
            max_stale_ms: 300_000,
            mark_band: Rate(500_000),
            mark_basis_samples: 5,
        }
    }
}

impl OracleSpec {
    /// The quorum in force: the configured one, or a majority of the sources.
    #[must_use]
    pub fn effective_quorum(&self) -> u32 {
        self.quorum.unwrap_or_else(|| u32::try_from(self.sources.len() / 2 + 1).unwrap_or(u32::MAX))
    }

    /// Checks the section.
    ///
    /// # Errors
    /// The first rule broken, as a message for `invalid_market_spec`.
    pub fn validate(&self) -> Result<(), String> {
        if self.sources.len() > MAX_ORACLE_SOURCES {
            return Err(format!("oracle: at most {MAX_ORACLE_SOURCES} sources"));
        }
        for (i, s) in self.sources.iter().enumerate() {
            let ok = !s.name.is_empty()
                && s.name.len() <= 20
                && s.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
            if !ok {
                return Err(format!("oracle: source name '{}' must be 1-20 characters of a-z 0-9 - _ .", s.name));
            }
            if self.sources[..i].iter().any(|o| o.name == s.name) {
                return Err(format!("oracle: source '{}' is named twice", s.name));
            }
            if !(1..=1_000).contains(&s.weight) {
                return Err(format!("oracle: source '{}' weight must be 1..=1000", s.name));
            }
        }
        let day = 24 * 60 * 60 * 1000;
        if !(1..=day).contains(&self.staleness_ms) {
            return Err("oracle: staleness_ms must be 1..=86400000".into());
        }
        if !self.outlier_band.is_positive() || self.outlier_band >= Rate::ONE {
            return Err("oracle: outlier_band must be strictly between 0 and 100 %".into());
        }
        if let Some(q) = self.quorum {
            if q == 0 || (q as usize > self.sources.len() && !self.sources.is_empty()) {
                return Err("oracle: quorum must be between 1 and the number of sources".into());
            }
        }
        if !(0..=day).contains(&self.stale_grace_ms)
            || self.max_stale_ms < self.stale_grace_ms
            || self.max_stale_ms > day
        {
            return Err("oracle: 0 <= stale_grace_ms <= max_stale_ms <= 86400000 is required".into());
        }
        if !self.mark_band.is_positive() || self.mark_band >= Rate::ONE {
            return Err("oracle: mark_band must be strictly between 0 and 100 %".into());
        }
        if !(1..=MAX_MARK_BASIS_SAMPLES).contains(&self.mark_basis_samples) {
            return Err(format!("oracle: mark_basis_samples must be 1..={MAX_MARK_BASIS_SAMPLES}"));
        }
        Ok(())
    }

    pub(crate) fn hash_into(&self, h: &mut StateHasher) {
        h.u64(self.sources.len() as u64);
        for s in &self.sources {
            h.str(&s.name).u64(u64::from(s.weight));
        }
        h.i64(self.staleness_ms).i64(self.outlier_band.0);
        match self.quorum {
            None => h.tag(0),
            Some(q) => h.tag(1).u64(u64::from(q)),
        };
        h.i64(self.stale_grace_ms).i64(self.max_stale_ms).i64(self.mark_band.0).u64(u64::from(self.mark_basis_samples));
    }
}

/// What the last index computation made of one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceStatus {
    /// No price received yet.
    Missing,
    /// Fresh and within the band: in the index.
    Used,
    /// Older than `staleness_ms`: dropped.
    Stale,
    /// Further than `outlier_band` from the median: ignored.
    Outlier,
}

impl SourceStatus {
    fn tag(self) -> u8 {
        match self {
            Self::Missing => 0,
            Self::Used => 1,
            Self::Stale => 2,
            Self::Outlier => 3,
        }
    }
}

/// Where a market is in the stale-index policy. The stages only move one step at a time: a
/// loss of quorum goes `Live → Stale → ReduceOnly → Halted` as time passes, a recovery walks
/// back down to `Live`, each step an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OracleStage {
    /// The index stands on a quorum (or the market has no oracle).
    Live,
    /// Below quorum, within `stale_grace_ms`: trading goes on at the last good mark.
    Stale,
    /// Below quorum beyond `stale_grace_ms`: only reduce-only orders and cancels.
    ReduceOnly,
    /// Below quorum beyond `max_stale_ms`: cancels only.
    Halted,
}

impl OracleStage {
    fn tag(self) -> u8 {
        match self {
            Self::Live => 0,
            Self::Stale => 1,
            Self::ReduceOnly => 2,
            Self::Halted => 3,
        }
    }
}

/// A market's oracle state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OracleState {
    /// Each source's latest price and when it arrived (by source id).
    pub prices: Vec<Option<(Price, Timestamp)>>,
    /// Each source's status after the last evaluation.
    pub status: Vec<SourceStatus>,
    /// The index after the last evaluation (`None` below quorum or before any price).
    pub index: Option<Price>,
    /// The last index that stood on a quorum.
    pub last_good_index: Option<Price>,
    /// The stale-index stage.
    pub stage: OracleStage,
    /// When the quorum was lost (while `stage` is not `Live`).
    pub stale_since: Option<Timestamp>,
    /// The last `mark_basis_samples` values of `mid − index` (ticks), oldest first.
    pub basis: VecDeque<i64>,
}

impl OracleState {
    /// The state of a market with `sources` sources and no prices yet.
    #[must_use]
    pub fn new(sources: usize) -> Self {
        Self {
            prices: vec![None; sources],
            status: vec![SourceStatus::Missing; sources],
            index: None,
            last_good_index: None,
            stage: OracleStage::Live,
            stale_since: None,
            basis: VecDeque::new(),
        }
    }

    /// The moving average of `mid − index`, rounded towards zero, if any sample was taken.
    #[must_use]
    pub fn basis_average(&self) -> Option<i64> {
        if self.basis.is_empty() {
            return None;
        }
        let sum: i128 = self.basis.iter().map(|b| i128::from(*b)).sum();
        i64::try_from(sum / self.basis.len() as i128).ok()
    }

    pub(crate) fn hash_into(&self, h: &mut StateHasher) {
        h.u64(self.prices.len() as u64);
        for (p, s) in self.prices.iter().zip(&self.status) {
            match p {
                None => h.tag(0),
                Some((price, at)) => h.tag(1).i64(price.0).i64(at.0),
            };
            h.tag(s.tag());
        }
        for p in [self.index, self.last_good_index] {
            match p {
                None => h.tag(0),
                Some(p) => h.tag(1).i64(p.0),
            };
        }
        h.tag(self.stage.tag());
        match self.stale_since {
            None => h.tag(0),
            Some(t) => h.tag(1).i64(t.0),
        };
        h.u64(self.basis.len() as u64);
        for b in &self.basis {
            h.i64(*b);
        }
    }
}
