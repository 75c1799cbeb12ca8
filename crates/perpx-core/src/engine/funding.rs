//! The funding controller: premium samples and settlements in step 1 of every command, and
//! the disclosure figures (predicted rate, APR, per-position totals).
//!
//! **Samples.** Sample times are the multiples of `sample_period_ms`. Step 1 takes every sample
//! whose time has passed since the last command, each from the state *at that time*: between
//! two commands nothing changes but the age of the oracle prices, so the book is the book after
//! the previous command and the index is [`index_at`] that moment — an observation, not an
//! invention. A sample time at which no index stood on a quorum is **missed** and counted; no
//! value is made up for it. Runs of equal samples (same book, same fresh sources) are added in
//! one step, so a long gap costs one step per source expiry, not one per sample time.
//!
//! **Settlement.** A funding time `T` is due at the first command with `ts ≥ T`; step 1 takes the
//! samples up to `T`, then settles on positions as they were before the command: each pays
//! `size × mark × F` ([`crate::risk::funding::settle`]: payers round up, receivers down, the
//! remainder to the insurance fund), reported as one `funding_settled` and the
//! `FundingPayments` batches with a line a position, in account order (one batch, or one a
//! stretch of the walk when it is cut: [`settlement_walk`]; delivered as a notice a line). Cross positions
//! pay from and receive into collateral; isolated positions from and into their own margin
//! (Binance's rule: an isolated position's costs stay inside it). Funding may leave a payer
//! below maintenance; the same command's liquidation pass queues it (each payer is checked as
//! it pays: [`Engine::pay_funding`]).

use super::oracle::{index_at, next_expiry_after};
use super::{Engine, Out, settlement_walk};
use crate::book::Side;
use crate::event::{EventKind, FundingLine};
use crate::ids::{AccountId, MarketId};
use crate::market::{Market, MarketStatus, OracleStage, next_multiple_after};
use crate::num::{Price, Quote, Rate, Timestamp};
use crate::risk::funding::{FundingParams, apr, default_cap, payment, premium_sample, rate_8h, rate_for_interval};

/// A market's funding figures for disclosure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FundingInfo {
    /// The rate the current period would settle at with the samples so far (`F`).
    pub predicted_rate: Rate,
    /// Its 8-hour form (`F8`).
    pub predicted_rate_8h: Rate,
    /// `F × periods per year` of the predicted rate.
    pub predicted_apr: Rate,
    /// The rate of the last settlement.
    pub last_rate: Option<Rate>,
    /// Its APR.
    pub last_apr: Option<Rate>,
    /// When the last settlement was due.
    pub last_funding_time: Option<Timestamp>,
    /// When the current period ends.
    pub next_funding_time: Timestamp,
    /// The length of the current period (ms).
    pub period_ms: i64,
    /// The cap on `|F8|` in force.
    pub cap_8h: Rate,
    /// Samples taken in the period so far.
    pub samples: u64,
    /// Sample times missed (no index).
    pub missed_samples: u64,
    /// The index, if it stands.
    pub index: Option<Price>,
    /// The stale-index stage.
    pub stage: OracleStage,
}

/// One position's funding figures for disclosure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PositionFunding {
    /// Funding paid to date.
    pub paid: Quote,
    /// Funding received to date.
    pub received: Quote,
    /// The next payment at the predicted rate and the current mark (positive: pays).
    pub next_payment: Quote,
    /// The predicted rate as a yearly cost on the position's notional, signed for this
    /// position (positive: it pays).
    pub apr_on_notional: Rate,
    /// The same on the position's own margin at its leverage: `APR × leverage`.
    pub apr_on_margin: Rate,
    /// The leverage used.
    pub leverage: u32,
}

/// The average fill price of `notional` (micro-units) against `side` of the book: `None` if
/// the side can't fill it. Whole lots are taken until the notional is reached; a bid's average
/// rounds down and an ask's up, so a thin book never overstates the premium.
fn impact_price(m: &Market, side: Side, notional: Quote) -> Option<Price> {
    let q = i128::from(m.quote_per_tick_lot);
    let mut need = i128::from(notional.0);
    let (mut lots, mut value) = (0i128, 0i128);
    for (price, level) in m.book.levels(side) {
        let per_lot = i128::from(price.0) * q;
        let take = i128::from(level.total.0).min((need + per_lot - 1) / per_lot);
        lots += take;
        value += i128::from(price.0) * take;
        need -= take * per_lot;
        if need <= 0 {
            break;
        }
    }
    if need > 0 || lots == 0 {
        return None;
    }
    let avg = if side == Side::Buy { value / lots } else { (value + lots - 1) / lots };
    i64::try_from(avg).ok().map(Price)
}

/// The notional the impact prices fill: configured, or 200 USD × max leverage.
fn impact_notional(m: &Market) -> Quote {
    m.spec.funding.impact_notional.unwrap_or(Quote(200 * Quote::SCALE * i64::from(m.spec.max_leverage)))
}

/// The rate parameters of `m` for a period of `period_ms`.
fn params(m: &Market, period_ms: i64) -> FundingParams {
    let f = &m.spec.funding;
    FundingParams { interest_8h: f.interest_8h, clamp: f.clamp, cap_8h: cap_8h(m), interval_ms: period_ms }
}

fn cap_8h(m: &Market) -> Rate {
    m.spec.funding.cap_8h.unwrap_or_else(|| default_cap(m.spec.max_leverage, m.spec.tiers[0].maintenance_rate))
}

/// `(F8, F)` of the current period with the samples taken so far.
fn period_rate(m: &Market) -> (Rate, Rate) {
    let f = &m.funding;
    let period = f.next_funding.0 - f.period_start.0;
    let samples: Vec<Rate> = f.average_premium().into_iter().collect();
    let f8 = rate_8h(&samples, &params(m, period));
    (f8, rate_for_interval(f8, period))
}

impl Engine {
    /// Step 1: premium samples and due settlements of every market, in market order.
    pub(crate) fn advance_funding(&mut self, out: &mut Out<'_>) {
        for i in 0..self.markets.len() {
            if self.markets[i].status == MarketStatus::Delisted {
                continue;
            }
            while self.markets[i].funding.next_funding <= self.now {
                let due = self.markets[i].funding.next_funding;
                self.take_samples(i, due);
                self.settle_funding(i, due, out);
            }
            self.take_samples(i, self.now);
        }
    }

    /// The earliest time at which step 1 has work (see `Engine::clock_work_due`): the next
    /// funding sample or settlement, or scheduled parameter change, of any market not delisted.
    /// Measured: skipping the walk until then took `engine_mix` from 163.1 M to 155.3 M
    /// instructions (callgrind; docs/PERFORMANCE.md, "Session 13").
    pub(crate) fn next_clock_work(&self) -> Timestamp {
        self.markets
            .iter()
            .filter(|m| m.status != MarketStatus::Delisted)
            .flat_map(|m| {
                let change = m.pending_change.as_ref().map(|(at, _)| *at);
                [Some(m.funding.next_funding), Some(m.funding.next_sample_at), change]
            })
            .flatten()
            .min()
            .unwrap_or(Timestamp(i64::MAX))
    }

    /// Takes market `i`'s samples due up to `upto` (inclusive). Most commands fall between two
    /// samples, so that check is inlined into the caller and the work is behind a call
    /// (measured: the call's entry and exit were 46 instructions a command of `engine_mix`'s
    /// 2,197, two markets; callgrind, docs/PERFORMANCE.md session 6).
    #[inline]
    fn take_samples(&mut self, i: usize, upto: Timestamp) {
        if self.markets[i].funding.next_sample_at <= upto {
            self.take_due_samples(i, upto);
        }
    }

    /// [`Engine::take_samples`] once at least one sample is due.
    #[inline(never)]
    fn take_due_samples(&mut self, i: usize, upto: Timestamp) {
        let m = &self.markets[i];
        let period = m.spec.funding.sample_period_ms;
        if !m.has_oracle() {
            // No index by design: nothing to sample and nothing missed.
            let skip = (upto.0 - m.funding.next_sample_at.0) / period + 1;
            self.markets[i].funding.next_sample_at = Timestamp(m.funding.next_sample_at.0 + skip * period);
            return;
        }
        let notional = impact_notional(m);
        let impact = (impact_price(m, Side::Buy, notional), impact_price(m, Side::Sell, notional));
        let mid = match (m.book.best_price(Side::Buy), m.book.best_price(Side::Sell)) {
            (Some(b), Some(a)) => Some((i128::from(b.0) + i128::from(a.0)).div_euclid(2)),
            _ => None,
        };
        let keep = m.spec.oracle.mark_basis_samples as usize;
        let mut t = m.funding.next_sample_at;
        let (mut sum, mut samples, mut missed) = (0i128, 0u64, 0u64);
        let mut basis: Vec<i64> = Vec::new();
        while t <= upto {
            // The sources are unchanged until the next expiry: so is every sample before it.
            let index = index_at(m, t).index;
            let segment_end = next_expiry_after(m, t).map_or(upto, |e| Timestamp(e.0 - 1).min(upto));
            let n = (segment_end.0 - t.0) / period + 1;
            let count = u64::try_from(n).expect("positive");
            match index {
                Some(index) => {
                    let p = premium_sample(index, impact.0, impact.1).expect("a positive index");
                    sum += i128::from(p.0) * i128::from(n);
                    samples += count;
                    if let Some(mid) = mid {
                        let b = i64::try_from(mid - i128::from(index.0)).unwrap_or(0);
                        basis.extend(std::iter::repeat_n(b, usize::try_from(n).unwrap_or(keep).min(keep)));
                        if basis.len() > keep {
                            basis.drain(..basis.len() - keep);
                        }
                    }
                }
                None => missed += count,
            }
            t = Timestamp(t.0 + n * period);
        }
        let m = &mut self.markets[i];
        m.funding.next_sample_at = t;
        m.funding.premium_sum += sum;
        m.funding.samples += samples;
        m.funding.missed += missed;
        for b in basis {
            if m.oracle.basis.len() == keep {
                m.oracle.basis.pop_front();
            }
            m.oracle.basis.push_back(b);
        }
    }

    /// The interval in force for the period that begins at `t`: a scheduled change that takes
    /// effect at or before `t` counts.
    fn interval_at(m: &Market, t: Timestamp) -> i64 {
        match &m.pending_change {
            Some((at, c)) if *at <= t => c.funding_interval_ms.unwrap_or(m.spec.funding.interval_ms),
            _ => m.spec.funding.interval_ms,
        }
    }

    /// Settles market `i`'s period ending at `due` and starts the next one.
    fn settle_funding(&mut self, i: usize, due: Timestamp, out: &mut Out<'_>) {
        let m = &self.markets[i];
        let market = m.id;
        let (f8, f) = period_rate(m);
        let period = m.funding.next_funding.0 - m.funding.period_start.0;
        let (samples, missed) = (m.funding.samples, m.funding.missed);
        let next = next_multiple_after(due, Self::interval_at(m, due));
        // The settlement's event, then its payments; if any figure doesn't fit, nothing is
        // paid and the period is reported skipped.
        match self.pay_funding(market, f) {
            Some((batches, paid, received)) => {
                let remainder = Quote(paid.0 - received.0);
                self.credit_fund(market, remainder);
                self.shrink_payers_bands(i, f);
                out.push(EventKind::FundingSettled(Box::new(crate::event::FundingSettlement {
                    market,
                    funding_time: due,
                    rate: f,
                    rate_8h: f8,
                    mark: self.markets[i].mark,
                    samples,
                    missed_samples: missed,
                    positions: batches.iter().map(Vec::len).sum::<usize>() as u64,
                    paid,
                    received,
                    to_insurance_fund: remainder,
                    next_funding_time: next,
                })));
                for lines in batches {
                    out.push(EventKind::FundingPayments { market, payments: lines });
                }
            }
            None => out.push(EventKind::FundingSkipped { market, funding_time: due }),
        }
        let st = &mut self.markets[i].funding;
        st.last_rate = Some(f);
        st.last_rate_8h = Some(f8);
        st.last_funding = Some(due);
        st.last_apr = Some(apr(f, period));
        st.period_start = due;
        st.next_funding = next;
        st.premium_sum = 0;
        st.samples = 0;
        st.missed = 0;
    }

    /// Narrows the safe bands of market `i`'s paying side (longs at a positive rate, shorts at
    /// a negative one) by what a settlement at rate `f` can take from a lot: the payers were
    /// not noted for the liquidation pass ([`Engine::pay_funding`] checks them in hand), so
    /// their bands must allow for the payment ([`crate::market::SafeBand`], "Funding").
    fn shrink_payers_bands(&mut self, i: usize, f: Rate) {
        let m = &mut self.markets[i];
        let (Some(mark), false) = (m.mark, f.0 == 0) else { return };
        let side = usize::from(f.0 < 0);
        let t = crate::market::funding_shrink(mark, m.quote_per_tick_lot, f, m.max_maintenance_rate());
        m.band_shrink[side] = m.band_shrink[side].saturating_add(t);
    }

    /// Pays every position of `market` its funding at rate `f` and the market's mark, in one
    /// walk over the accounts in id order, cut into stretches that run at once when the market
    /// has many holders ([`settlement_walk`]); returns a [`FundingLine`] for each, in id order,
    /// as the `FundingPayments` batches that carry them (one a stretch that paid any), Σ paid
    /// and Σ received. If any amount, balance, total or fund would not fit, it undoes what
    /// every stretch paid ([`settlement_walk::unpay`]) and returns `None`: then nothing is paid.
    ///
    /// The walk does not note the accounts for the liquidation pass (which would re-check every
    /// holder): every holder's balance moved, but only a **payer** can have fallen below
    /// maintenance: a receiver only gained, at unchanged marks, and a unit that was already
    /// below was queued by an earlier pass (the invariant `check_invariants` holds after every command). So each
    /// payer's unit is checked here, on the account in hand (from the position just paid when
    /// it is the unit's only one: an isolated position, or a cross account in one market), and
    /// only one left below maintenance (or whose figures don't fit), or one of a cross unit of
    /// several positions (whose safe bands share its headroom, `market/safe_band.rs`), is noted
    /// for the liquidation pass ([`crate::account::AccountTable::note_changed`]); if anything later in the command changes the account or a mark it
    /// holds, that makes it a candidate again. The pass then queues exactly the units it queued
    /// when it re-checked every holder of the market. The payers' safe bands are narrowed after
    /// the walk by what a payment can cost ([`Engine::shrink_payers_bands`]).
    ///
    /// Measured (docs/PERFORMANCE.md, "One walk, payers checked where they stand"): the pass's
    /// re-check of every holder was half of a settlement's instructions, and a validation walk
    /// before a paying walk that looked every payer up again cost a second read of every
    /// account. With one walk and payers checked here, the funding bench's tick went from
    /// 203 M to 42 M instructions over 100,000 positions (callgrind) and from 569 ms to 183 ms
    /// over 1,000,000 (`cargo bench -p perpx-core --bench funding`, back to back, load ≈ 2).
    /// Session 7 (same bench, alternated with the build before): the events vector sized once
    /// for every holder and the lone-position check took it from 37–46 ms to 19.7–23.8 ms
    /// (docs/PERFORMANCE.md, "Funding, session 7"). Session 22: a 40-byte line a position in
    /// one batch instead of a 96-byte event each ("Funding, session 22"). Session 23: the walk
    /// in two stretches at once ("Funding, session 23").
    fn pay_funding(&mut self, market: MarketId, f: Rate) -> Option<(Vec<Vec<FundingLine>>, Quote, Quote)> {
        let (ids, accounts) = self.accounts.slices_mut_rechecked_by_caller();
        let walked = settlement_walk::pay(self.settlement_walk, &self.markets, market, f, ids, accounts);
        let (complete, paid, received) = walked.totals();
        let totals = (i64::try_from(paid).ok().map(Quote), i64::try_from(received).ok().map(Quote));
        if let (true, (Some(paid), Some(received))) = (complete, totals) {
            let remainder = Quote(paid.0 - received.0);
            let m = &self.markets[market.index()];
            if m.insurance_fund.checked_add(remainder).is_ok()
                && self.ledger.insurance_fund.checked_add(remainder).is_ok()
            {
                let (recheck, batches) = walked.into_outcome();
                for id in recheck {
                    self.accounts.note_changed(id);
                }
                return Some((batches, paid, received));
            }
        }
        let (_, accounts) = self.accounts.slices_mut_rechecked_by_caller();
        settlement_walk::unpay(&self.markets[market.index()], market, f, accounts, &walked);
        None
    }

    // ---- disclosure -----------------------------------------------------------------------

    /// A market's funding figures: predicted and last rate, their APR, the next funding time.
    #[must_use]
    pub fn funding_info(&self, market: MarketId) -> Option<FundingInfo> {
        let m = self.markets.get(market.index())?;
        let f = &m.funding;
        let period_ms = f.next_funding.0 - f.period_start.0;
        let (f8, rate) = period_rate(m);
        Some(FundingInfo {
            predicted_rate: rate,
            predicted_rate_8h: f8,
            predicted_apr: apr(rate, period_ms),
            last_rate: f.last_rate,
            last_apr: f.last_apr,
            last_funding_time: f.last_funding,
            next_funding_time: f.next_funding,
            period_ms,
            cap_8h: cap_8h(m),
            samples: f.samples,
            missed_samples: f.missed,
            index: m.oracle.index,
            stage: m.oracle.stage,
        })
    }

    /// One position's funding figures: totals to date, the next payment at the predicted rate
    /// and mark, and the APR on its notional and on its own margin at its leverage.
    #[must_use]
    pub fn position_funding(&self, account: AccountId, market: MarketId) -> Option<PositionFunding> {
        let a = self.accounts.get(&account)?;
        let m = self.markets.get(market.index())?;
        let p = a.positions.get(&market)?;
        let info = self.funding_info(market)?;
        let q = i128::from(m.quote_per_tick_lot);
        let notional = i128::from(p.size.0) * i128::from(m.mark.map_or(0, |x| x.0)) * q;
        let next_payment = payment(notional, info.predicted_rate).unwrap_or(Quote::ZERO);
        let sign = p.size.0.signum();
        let apr_on_notional = Rate(info.predicted_apr.0.saturating_mul(sign));
        let leverage = self.leverage_of(a, m);
        Some(PositionFunding {
            paid: p.funding_paid,
            received: p.funding_received,
            next_payment,
            apr_on_notional,
            apr_on_margin: Rate(apr_on_notional.0.saturating_mul(i64::from(leverage))),
            leverage,
        })
    }
}
