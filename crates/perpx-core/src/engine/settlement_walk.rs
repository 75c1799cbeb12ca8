//! The funding settlement's walk over the accounts, cut into stretches that run at once.
//!
//! A settlement pays every position of a market: one walk over all the accounts in id order,
//! each holder's balance and funding total written and a [`FundingLine`] emitted
//! ([`super::Engine::pay_funding`]). With a million holders that is two cache lines an account
//! read and written back and a 40-byte line written (the walk alone, reading one field an
//! account, took half the settlement), and about 214 instructions a position (callgrind,
//! docs/PERFORMANCE.md, "Funding, session 23"). No account's payment depends on another's, so
//! two cores can share both halves. So from [`SettlementWalk::min_holders`] holders on, the accounts are cut into
//! [`SettlementWalk::stretches`] runs of consecutive accounts (by id), and each run after the
//! first is walked on a scoped thread of its own while the calling thread walks the first.
//!
//! **Nothing a settlement does depends on the cut.** Each stretch is walked exactly as the one
//! walk would have walked it, and the stretches' results are joined in id order: the same
//! payments, the same balances, the same accounts noted for the liquidation pass, in the same
//! order. What the cut shows is only how the lines are carried: one `FundingPayments` batch a
//! non-empty stretch, in order, so the notices they are delivered as
//! ([`crate::event::Event::notices`]) are the same, notice for notice. A settlement that does not
//! fit is undone in every stretch. A test runs the same commands with the walk cut into one, two,
//! three and seven stretches and compares every notice and the state hash
//! (`funding_tests.rs`, `the_walk_cut_into_stretches_pays_exactly_what_one_walk_pays`).
//!
//! Measured (funding bench, 1,000,000 positions, alternated on the Intel Xeon VM): 35.6 ms at
//! the median for one walk, 22.8 ms with two stretches joined into one batch (the join copies
//! half the lines), **19.1 ms** with a batch a stretch (docs/PERFORMANCE.md, "Funding, session
//! 23").

use std::sync::{Mutex, PoisonError};

use super::liquidation::{lone_position_covers_maintenance, unit_figures_of};
use crate::account::{Account, MarginMode, Position};
use crate::event::{FundingLine, LiquidationScope};
use crate::ids::{AccountId, MarketId};
use crate::market::Market;
use crate::num::{Price, Quote, Rate};
use crate::risk::funding::payment;

/// How a funding settlement walks the accounts: how it is run, never what it pays. Not state:
/// it is left out of snapshots and the state hash, and a restored engine walks with the
/// default ([`crate::Engine::set_settlement_walk`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettlementWalk {
    /// Into how many stretches of consecutive accounts the walk is cut (1, or 0: one walk on
    /// the calling thread; at most [`SettlementWalk::MAX_STRETCHES`]). Each stretch after the
    /// first runs on a thread of its own.
    pub stretches: usize,
    /// From how many holders of the market the walk is cut at all. Below it a settlement takes
    /// a millisecond or two, and a thread's start (tens of microseconds) and a second batch
    /// would buy little.
    pub min_holders: usize,
}

impl Default for SettlementWalk {
    /// Two stretches from 65,536 holders on: the reference machine has two cores.
    fn default() -> Self {
        Self { stretches: 2, min_holders: 65_536 }
    }
}

impl SettlementWalk {
    /// The most stretches a walk is cut into, whatever [`SettlementWalk::stretches`] says: a
    /// thread each is only worth it up to the cores a machine has, and a larger figure (a
    /// typo) must not start a thread an account.
    pub const MAX_STRETCHES: usize = 64;

    /// How many consecutive accounts each stretch walks, of `accounts` when the market has
    /// `holders` (all of them when the walk is not cut); at least 1.
    fn stretch_len(self, holders: usize, accounts: usize) -> usize {
        let stretches = if holders >= self.min_holders { self.stretches.clamp(1, Self::MAX_STRETCHES) } else { 1 };
        accounts.div_ceil(stretches).max(1)
    }
}

/// One position's payment at `mark` (positive: it pays), the balance it pays from or into after
/// it (`balance`: collateral, or an isolated position's margin), and its funding paid (or
/// received) to date after it; `None` if there is no mark or any of them doesn't fit.
fn funding_step(p: &Position, balance: Quote, mark: Option<Price>, q: i128, f: Rate) -> Option<(Quote, Quote, Quote)> {
    let amount = payment(i128::from(p.size.0) * i128::from(mark?.0) * q, f).ok()?;
    let balance = balance.checked_sub(amount).ok()?;
    let total =
        if amount.is_positive() { p.funding_paid.checked_add(amount) } else { p.funding_received.checked_sub(amount) };
    Some((amount, balance, total.ok()?))
}

/// What the walk paid: each stretch's own account, in id order, and how long the stretches
/// were (what [`unpay`] needs to find them again).
pub(super) struct Walked {
    stretches: Vec<Stretch>,
    stretch_len: usize,
}

impl Walked {
    /// Whether every stretch walked to its end (else one stopped at a figure that didn't fit),
    /// Σ paid and Σ received.
    pub(super) fn totals(&self) -> (bool, i128, i128) {
        self.stretches.iter().fold((true, 0, 0), |(complete, paid, received), s| {
            (complete && s.complete, paid + s.paid, received + s.received)
        })
    }

    /// The payers the liquidation pass must check again, in id order — those left below
    /// maintenance (or whose figures don't fit) and those of a cross unit of several
    /// positions — and the lines of each stretch that paid any, in order: one
    /// `FundingPayments` batch each.
    pub(super) fn into_outcome(self) -> (Vec<AccountId>, Vec<Vec<FundingLine>>) {
        let mut recheck = Vec::new();
        let mut batches = Vec::with_capacity(self.stretches.len());
        for s in self.stretches {
            recheck.extend(s.recheck);
            if !s.lines.is_empty() {
                batches.push(s.lines);
            }
        }
        (recheck, batches)
    }
}

/// What one stretch paid.
struct Stretch {
    lines: Vec<FundingLine>,
    paid: i128,
    received: i128,
    recheck: Vec<AccountId>,
    complete: bool,
}

/// Pays every position in `market` at rate `f` and the market's mark: the accounts `accounts`
/// (ids `ids`, ascending) walked in stretches as `walk` says, a line a position. Each payer's
/// unit is checked where it stands (see [`super::Engine::pay_funding`]).
pub(super) fn pay(
    walk: SettlementWalk,
    markets: &[Market],
    market: MarketId,
    f: Rate,
    ids: &[AccountId],
    accounts: &mut [Account],
) -> Walked {
    let holders = markets[market.index()].holder_count();
    let stretch_len = walk.stretch_len(holders, accounts.len());
    // Each stretch's accounts behind a lock of their own, taken once: by the stretch's thread,
    // or by the calling thread if that thread could not be started (then it walks the stretch
    // itself, after the first).
    type Part<'a> = Mutex<Option<(&'a [AccountId], &'a mut [Account])>>;
    let parts: Vec<Part<'_>> =
        ids.chunks(stretch_len).zip(accounts.chunks_mut(stretch_len)).map(|p| Mutex::new(Some(p))).collect();
    let run = |part: &Part<'_>| {
        let (ids, accounts) = part.lock().unwrap_or_else(PoisonError::into_inner).take()?;
        Some(pay_stretch(markets, market, f, ids, accounts, holders))
    };
    let stretches: Vec<Stretch> = std::thread::scope(|s| {
        let rest = parts.get(1..).unwrap_or_default();
        let threads: Vec<_> = rest
            .iter()
            .map(|part| std::thread::Builder::new().name("funding-walk".into()).spawn_scoped(s, move || run(part)).ok())
            .collect();
        let first = parts.first().and_then(run);
        let mut done: Vec<Stretch> = first.into_iter().collect();
        for (part, thread) in rest.iter().zip(threads) {
            let walked = thread.and_then(|t| t.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
            done.extend(walked.or_else(|| run(part)));
        }
        done
    });
    Walked { stretches, stretch_len }
}

/// Pays the positions in `market` of the accounts `accounts` (ids `ids`), in order, until a
/// figure doesn't fit.
fn pay_stretch(
    markets: &[Market],
    market: MarketId,
    f: Rate,
    ids: &[AccountId],
    accounts: &mut [Account],
    holders: usize,
) -> Stretch {
    let m = &markets[market.index()];
    let q = i128::from(m.quote_per_tick_lot);
    let (mut paid, mut received) = (0i128, 0i128);
    let mut complete = true;
    // One line per holder at most: sized once, the vector is not grown (and copied) a doubling
    // at a time. Measured: docs/PERFORMANCE.md, "Funding, session 7".
    let mut lines = Vec::with_capacity(holders.min(ids.len()));
    let mut recheck = Vec::new();
    for (id, a) in ids.iter().zip(accounts) {
        let isolated = a.mode(market) == MarginMode::Isolated;
        let lone = a.positions.len() == 1;
        let Some(p) = a.positions.get_mut(&market).filter(|p| p.size.0 != 0) else { continue };
        let balance = if isolated { p.isolated_margin } else { a.collateral };
        let Some((amount, new_balance, new_total)) = funding_step(p, balance, m.mark, q, f) else {
            complete = false;
            break;
        };
        if isolated {
            p.isolated_margin = new_balance;
        } else {
            a.collateral = new_balance;
        }
        if amount.is_positive() {
            p.funding_paid = new_total;
            paid += i128::from(amount.0);
        } else {
            p.funding_received = new_total;
            received -= i128::from(amount.0);
        }
        lines.push(FundingLine {
            account: *id,
            size: p.size,
            amount,
            collateral: a.collateral,
            isolated_margin: p.isolated_margin,
        });
        if amount.is_positive() {
            // A unit whose only position is this one (isolated, or the account's only
            // market) has its figures from the position in hand; a cross account with
            // several markets sums them all.
            let covered = if isolated || lone {
                let mark = m.mark.expect("a position paid at this mark");
                let p = a.positions.get(&market).expect("the position just paid");
                lone_position_covers_maintenance(m, mark, p, new_balance)
            } else {
                unit_figures_of(markets, a, LiquidationScope::Cross).is_some_and(|(equity, mm)| equity >= mm)
            };
            // A cross unit of several positions shares its headroom between their safe bands,
            // and only this market's band narrows with this payment (`market/safe_band.rs`):
            // the pass re-derives the bands from what the payment left.
            if !covered || !(isolated || lone) {
                recheck.push(*id);
            }
        }
    }
    Stretch { lines, paid, received, recheck, complete }
}

/// Undoes what [`pay`] paid (`walked`): in each stretch, the positions it paid, a line each
/// (the same walk, the same amounts), one stretch after another.
pub(super) fn unpay(m: &Market, market: MarketId, f: Rate, accounts: &mut [Account], walked: &Walked) {
    let q = i128::from(m.quote_per_tick_lot);
    for (accounts, stretch) in accounts.chunks_mut(walked.stretch_len).zip(&walked.stretches) {
        let mut left = stretch.lines.len();
        for a in accounts {
            if left == 0 {
                break;
            }
            let isolated = a.mode(market) == MarginMode::Isolated;
            let Some(p) = a.positions.get_mut(&market).filter(|p| p.size.0 != 0) else { continue };
            let mark = m.mark.expect("a position paid at this mark");
            let amount = payment(i128::from(p.size.0) * i128::from(mark.0) * q, f).expect("it was paid");
            let balance = if isolated { &mut p.isolated_margin } else { &mut a.collateral };
            *balance = Quote(balance.0 + amount.0);
            if amount.is_positive() {
                p.funding_paid = Quote(p.funding_paid.0 - amount.0);
            } else {
                p.funding_received = Quote(p.funding_received.0 + amount.0);
            }
            left -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SettlementWalk;

    #[test]
    fn the_walk_is_cut_only_from_min_holders_on_into_at_most_max_stretches() {
        let walk = |stretches, min_holders| SettlementWalk { stretches, min_holders };
        // The default: two stretches from 65,536 holders on, the second a few accounts shorter
        // when the count is odd.
        assert_eq!(SettlementWalk::default(), walk(2, 65_536));
        assert_eq!(SettlementWalk::default().stretch_len(65_535, 1_000_001), 1_000_001);
        assert_eq!(SettlementWalk::default().stretch_len(65_536, 1_000_001), 500_001);
        // 0 and 1 stretches are one walk; more than the cap are the cap.
        assert_eq!(walk(0, 0).stretch_len(10, 1_000_000), 1_000_000);
        assert_eq!(walk(1, 0).stretch_len(10, 1_000_000), 1_000_000);
        assert_eq!(walk(usize::MAX, 0).stretch_len(10, 1_000_000), 1_000_000 / SettlementWalk::MAX_STRETCHES);
        // More stretches than accounts: a stretch an account; no accounts: one empty stretch.
        assert_eq!(walk(7, 0).stretch_len(3, 3), 1);
        assert_eq!(walk(7, 0).stretch_len(0, 0), 1);
    }
}
