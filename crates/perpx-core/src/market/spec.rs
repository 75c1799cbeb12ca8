//! The market specification and its validation.

use super::funding::FundingSpec;
use super::liquidation::LiquidationSpec;
use super::oracle::OracleSpec;
use crate::num::{Decimal, Qty, Quote, Rate, mul_div_floor};
use crate::reject::RejectReason;

/// One notional bracket of the margin table (Binance's "leverage bracket", BitMEX's "risk
/// limit"). Brackets are listed by ascending `max_notional`; a position whose notional is in
/// `(previous.max_notional, max_notional]` uses this bracket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarginTier {
    /// Upper bound (inclusive) of the position notional in this bracket.
    pub max_notional: Quote,
    /// The highest leverage a position of this size may use.
    pub max_leverage: u32,
    /// Maintenance margin rate `mmr`.
    pub maintenance_rate: Rate,
    /// Maintenance amount, subtracted so that `MM = N × mmr − amount` is continuous across
    /// bracket edges: `amount_k = amount_{k−1} + max_notional_{k−1} × (mmr_k − mmr_{k−1})`.
    pub maintenance_amount: Quote,
}

/// Per-market limits: a limit on everything that can grow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketLimits {
    /// Open (resting) orders one account may hold in this market.
    pub max_open_orders_per_account: u32,
    /// Distinct price levels per side of the book.
    pub max_price_levels: u32,
    /// Untriggered stop orders one account may hold in this market.
    pub max_stops_per_account: u32,
    /// The largest single order.
    pub max_order_qty: Qty,
}

/// The hard ceilings the engine accepts for [`MarketLimits`], so that one market's settings
/// cannot make the engine's own work per command unbounded.
pub const LIMIT_CEILINGS: MarketLimits = MarketLimits {
    max_open_orders_per_account: 10_000,
    max_price_levels: 1_000_000,
    max_stops_per_account: 1_000,
    max_order_qty: Qty(i64::MAX / 4),
};

impl Default for MarketLimits {
    fn default() -> Self {
        Self {
            max_open_orders_per_account: 200,
            max_price_levels: 10_000,
            max_stops_per_account: 10,
            max_order_qty: Qty(1_000_000_000),
        }
    }
}

/// What an admin submits to create a market.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketSpec {
    /// The name, e.g. `BTC-PERP`: 1–20 characters of `A–Z 0–9 - _`.
    pub symbol: String,
    /// The price increment in the settlement stablecoin per unit of the base asset.
    pub tick_size: Decimal,
    /// The size increment in units of the base asset.
    pub lot_size: Decimal,
    /// The smallest order size.
    pub min_qty: Qty,
    /// The smallest order notional (price × size).
    pub min_notional: Quote,
    /// The highest leverage any position may use (tier 1's ceiling).
    pub max_leverage: u32,
    /// The margin brackets, ascending.
    pub tiers: Vec<MarginTier>,
    /// Maker fee; negative is a rebate.
    pub maker_fee: Rate,
    /// Taker fee; never below the size of a maker rebate, so fees never create money.
    pub taker_fee: Rate,
    /// How far an order price may be from mark: `|price − mark| ≤ mark × order_band`.
    pub order_band: Rate,
    /// The market's limits.
    pub limits: MarketLimits,
    /// Oracle sources, index and mark rules (default: no sources, the mark set by `set_mark`).
    pub oracle: OracleSpec,
    /// Funding interval, rate parameters and premium sampling (defaults: 8 h, 0.01 %, 0.05 %).
    pub funding: FundingSpec,
    /// Liquidation fee, buffer, backstop discount, insurance fund, ADL policy and open-interest
    /// cap (defaults: 0.5 %, 10 %, 1 %, the market's own fund, queue, no cap).
    pub liquidation: LiquidationSpec,
}

impl AsRef<MarketSpec> for MarketSpec {
    fn as_ref(&self) -> &MarketSpec {
        self
    }
}

/// A spec that passed validation, with the derived scale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidMarket {
    /// The spec as submitted.
    pub spec: MarketSpec,
    /// Micro-units of the settlement stablecoin per tick per lot: `tick_size × lot_size × 10^6`.
    pub quote_per_tick_lot: i64,
}

const MAX_SYMBOL_LEN: usize = 20;
const MAX_TIERS: usize = 32;
const MAX_LEVERAGE: u32 = 1_000;
/// A fee above 10 % is a typo, not a business model.
const MAX_FEE: Rate = Rate(10_000_000);

fn invalid(msg: impl Into<String>) -> RejectReason {
    RejectReason::InvalidMarketSpec(msg.into())
}

impl MarketSpec {
    /// Checks every rule of a market specification and derives `quote_per_tick_lot`.
    ///
    /// Rules: a symbol of 1–20 characters `A–Z 0–9 - _`; positive tick and lot whose product
    /// is a whole number (≥ 1) of micro-units; `min_qty ≥ 1`, `min_notional ≥ 0`;
    /// `1 ≤ max_leverage ≤ 1000`; 1–32 tiers with strictly ascending notional caps,
    /// non-increasing leverage (tier 1's equal to `max_leverage`), non-decreasing positive
    /// maintenance rates below the tier's initial rate (`mmr × max_leverage < 1`), and
    /// maintenance amounts that make MM continuous (tier 1's is zero); `0 ≤ taker ≤ 10 %`,
    /// `|maker| ≤ taker` when the maker fee is a rebate and `maker ≤ taker` always;
    /// `0 < order_band < 100 %`; limits between 1 and the engine's ceilings; the oracle and
    /// funding sections' own rules ([`OracleSpec::validate`], [`FundingSpec::validate`]).
    ///
    /// # Errors
    /// [`RejectReason::InvalidMarketSpec`] naming the first rule broken.
    pub fn validate(self) -> Result<ValidMarket, RejectReason> {
        let s = &self;
        let symbol_ok = !s.symbol.is_empty()
            && s.symbol.len() <= MAX_SYMBOL_LEN
            && s.symbol.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !symbol_ok {
            return Err(invalid(format!("symbol '{}' must be 1-20 characters of A-Z 0-9 - _", s.symbol)));
        }
        if s.tick_size.mantissa <= 0 || s.lot_size.mantissa <= 0 {
            return Err(invalid("tick_size and lot_size must be positive"));
        }
        let quote_per_tick_lot = quote_per_tick_lot(s.tick_size, s.lot_size)?;
        if s.min_qty.0 < 1 {
            return Err(invalid("min_qty must be at least one lot"));
        }
        if s.min_notional.is_negative() {
            return Err(invalid("min_notional must not be negative"));
        }
        if s.max_leverage == 0 || s.max_leverage > MAX_LEVERAGE {
            return Err(invalid(format!("max_leverage must be 1..={MAX_LEVERAGE}")));
        }
        validate_tiers(&s.tiers, s.max_leverage)?;
        if s.taker_fee.is_negative() || s.taker_fee > MAX_FEE || s.maker_fee > MAX_FEE {
            return Err(invalid("fees must be between 0 and 10 % (a negative maker fee is a rebate)"));
        }
        if s.maker_fee > s.taker_fee || s.maker_fee.0.unsigned_abs() > s.taker_fee.0.unsigned_abs() {
            return Err(invalid("the taker fee must be at least the maker fee and the size of any maker rebate"));
        }
        if !s.order_band.is_positive() || s.order_band >= Rate::ONE {
            return Err(invalid("order_band must be strictly between 0 and 100 %"));
        }
        validate_limits(&s.limits)?;
        s.oracle.validate().map_err(invalid)?;
        s.funding.validate().map_err(invalid)?;
        s.liquidation.validate().map_err(invalid)?;
        Ok(ValidMarket { spec: self, quote_per_tick_lot })
    }
}

/// `tick_size × lot_size` in micro-units, which must be whole and at least one: then every
/// notional `price_ticks × qty_lots × quote_per_tick_lot` is an exact number of micro-units.
fn quote_per_tick_lot(tick: Decimal, lot: Decimal) -> Result<i64, RejectReason> {
    let mantissa = i128::from(tick.mantissa) * i128::from(lot.mantissa);
    let scale = u32::from(tick.scale) + u32::from(lot.scale);
    // value in micro-units = mantissa × 10^(6 − scale)
    let v = if scale <= 6 {
        mantissa.checked_mul(10i128.pow(6 - scale))
    } else {
        let d = 10i128.checked_pow(scale - 6).ok_or_else(|| invalid("tick_size × lot_size has too many decimals"))?;
        if mantissa % d != 0 {
            return Err(invalid(format!(
                "tick_size × lot_size = {tick} × {lot} is not a whole number of micro-units (1e-6)"
            )));
        }
        Some(mantissa / d)
    };
    v.and_then(|v| i64::try_from(v).ok())
        .filter(|v| *v >= 1)
        .ok_or_else(|| invalid("tick_size × lot_size must be between 1 micro-unit and i64::MAX"))
}

fn validate_tiers(tiers: &[MarginTier], max_leverage: u32) -> Result<(), RejectReason> {
    if tiers.is_empty() || tiers.len() > MAX_TIERS {
        return Err(invalid(format!("between 1 and {MAX_TIERS} margin tiers are required")));
    }
    if tiers[0].max_leverage != max_leverage {
        return Err(invalid("tier 1's max_leverage must equal the market's max_leverage"));
    }
    if tiers[0].maintenance_amount != Quote::ZERO {
        return Err(invalid("tier 1's maintenance_amount must be 0"));
    }
    for (i, t) in tiers.iter().enumerate() {
        let n = i + 1;
        if !t.max_notional.is_positive() {
            return Err(invalid(format!("tier {n}: max_notional must be positive")));
        }
        if t.max_leverage == 0 {
            return Err(invalid(format!("tier {n}: max_leverage must be at least 1")));
        }
        if !t.maintenance_rate.is_positive() {
            return Err(invalid(format!("tier {n}: maintenance_rate must be positive")));
        }
        // Maintenance must sit below initial margin at the tier's maximum leverage:
        // mmr < 1 / max_leverage  ⇔  mmr × max_leverage < 1.
        if i128::from(t.maintenance_rate.0) * i128::from(t.max_leverage) >= Rate::SCALE {
            return Err(invalid(format!(
                "tier {n}: maintenance_rate must be below the initial rate 1/{}",
                t.max_leverage
            )));
        }
        if i > 0 {
            let p = &tiers[i - 1];
            if t.max_notional <= p.max_notional {
                return Err(invalid(format!("tier {n}: max_notional must be above tier {i}'s")));
            }
            if t.max_leverage > p.max_leverage {
                return Err(invalid(format!("tier {n}: max_leverage must not exceed tier {i}'s")));
            }
            if t.maintenance_rate < p.maintenance_rate {
                return Err(invalid(format!("tier {n}: maintenance_rate must not be below tier {i}'s")));
            }
            let step = i128::from(t.maintenance_rate.0 - p.maintenance_rate.0);
            let edge = i128::from(p.max_notional.0) * step;
            if edge % Rate::SCALE != 0 {
                return Err(invalid(format!(
                    "tier {n}: max_notional of tier {i} × the rate step is not a whole micro-unit"
                )));
            }
            let expected = mul_div_floor(i128::from(p.max_notional.0), step, Rate::SCALE)
                .ok()
                .and_then(|d| i64::try_from(d + i128::from(p.maintenance_amount.0)).ok());
            if expected != Some(t.maintenance_amount.0) {
                return Err(invalid(format!(
                    "tier {n}: maintenance_amount must be {} micro-units so MM is continuous at the edge",
                    expected.map_or_else(|| "unrepresentable".to_owned(), |e| e.to_string())
                )));
            }
        }
    }
    Ok(())
}

fn validate_limits(l: &MarketLimits) -> Result<(), RejectReason> {
    let c = &LIMIT_CEILINGS;
    let in_range = |v: u32, max: u32| (1..=max).contains(&v);
    if !in_range(l.max_open_orders_per_account, c.max_open_orders_per_account)
        || !in_range(l.max_price_levels, c.max_price_levels)
        || l.max_stops_per_account > c.max_stops_per_account
        || l.max_order_qty.0 < 1
        || l.max_order_qty > c.max_order_qty
    {
        return Err(invalid(format!(
            "limits must be within 1..={} open orders, 1..={} levels, 0..={} stops, 1..={} lots",
            c.max_open_orders_per_account, c.max_price_levels, c.max_stops_per_account, c.max_order_qty
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Binance's 2021 BTCUSDT brackets (first three), in perpx units.
    pub(crate) fn btc_spec() -> MarketSpec {
        MarketSpec {
            symbol: "BTC-PERP".into(),
            tick_size: Decimal::new(1, 1),
            lot_size: Decimal::new(1, 3),
            min_qty: Qty(1),
            min_notional: Quote(5_000_000),
            max_leverage: 125,
            tiers: vec![
                MarginTier {
                    max_notional: Quote(50_000_000_000),
                    max_leverage: 125,
                    maintenance_rate: Rate(400_000),
                    maintenance_amount: Quote(0),
                },
                MarginTier {
                    max_notional: Quote(250_000_000_000),
                    max_leverage: 100,
                    maintenance_rate: Rate(500_000),
                    maintenance_amount: Quote(50_000_000),
                },
                MarginTier {
                    max_notional: Quote(1_000_000_000_000),
                    max_leverage: 50,
                    maintenance_rate: Rate(1_000_000),
                    maintenance_amount: Quote(1_300_000_000),
                },
            ],
            maker_fee: Rate(20_000),
            taker_fee: Rate(50_000),
            order_band: Rate(5_000_000),
            limits: MarketLimits::default(),
            oracle: OracleSpec::default(),
            funding: FundingSpec::default(),
            liquidation: LiquidationSpec::default(),
        }
    }

    #[test]
    fn a_realistic_market_validates_and_derives_its_scale() {
        let m = btc_spec().validate().unwrap();
        // 0.1 USD × 0.001 BTC = 0.0001 USD = 100 micro-units.
        assert_eq!(m.quote_per_tick_lot, 100);
    }

    #[test]
    fn tick_times_lot_must_be_whole_micro_units() {
        let mut s = btc_spec();
        s.tick_size = Decimal::new(1, 4); // 0.0001
        s.lot_size = Decimal::new(1, 3); // 0.001 → 1e-7: not whole
        assert!(matches!(s.validate(), Err(RejectReason::InvalidMarketSpec(m)) if m.contains("micro-units")));
        let mut s = btc_spec();
        s.tick_size = Decimal::new(25, 0); // 25 × 0.001 = 0.025 = 25,000 micro-units
        assert_eq!(s.validate().unwrap().quote_per_tick_lot, 25_000);
    }

    #[test]
    fn discontinuous_maintenance_amount_is_refused_with_the_right_figure() {
        let mut s = btc_spec();
        s.tiers[1].maintenance_amount = Quote(49_000_000);
        let err = s.validate().unwrap_err();
        assert!(err.to_string().contains("must be 50000000 micro-units"), "{err}");
    }

    #[test]
    fn each_rule_is_enforced() {
        type Mutation = Box<dyn Fn(&mut MarketSpec)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("symbol", Box::new(|s| s.symbol = "btc perp".into())),
            ("positive", Box::new(|s| s.tick_size = Decimal::new(0, 0))),
            ("min_qty", Box::new(|s| s.min_qty = Qty(0))),
            ("min_notional", Box::new(|s| s.min_notional = Quote(-1))),
            ("max_leverage", Box::new(|s| s.max_leverage = 0)),
            ("tier 1's max_leverage", Box::new(|s| s.max_leverage = 120)),
            ("initial rate", Box::new(|s| s.tiers[0].maintenance_rate = Rate(800_000))),
            ("above tier", Box::new(|s| s.tiers[1].max_notional = Quote(50_000_000_000))),
            ("must not exceed", Box::new(|s| s.tiers[1].max_leverage = 126)),
            ("taker fee", Box::new(|s| s.maker_fee = Rate(-60_000))),
            ("fees", Box::new(|s| s.taker_fee = Rate(-1))),
            ("order_band", Box::new(|s| s.order_band = Rate::ONE)),
            ("limits", Box::new(|s| s.limits.max_price_levels = 0)),
            ("margin tiers", Box::new(|s| s.tiers.clear())),
            ("interval_ms", Box::new(|s| s.funding.interval_ms = 2 * 3_600_000)),
            ("sample_period_ms", Box::new(|s| s.funding.sample_period_ms = 7_000)),
            ("cap_8h", Box::new(|s| s.funding.cap_8h = Some(Rate(0)))),
            ("max_stale_ms", Box::new(|s| s.oracle.max_stale_ms = s.oracle.stale_grace_ms - 1)),
            (
                "quorum",
                Box::new(|s| {
                    s.oracle.sources = vec![crate::market::OracleSource { name: "a".into(), weight: 1 }];
                    s.oracle.quorum = Some(2);
                }),
            ),
            (
                "named twice",
                Box::new(|s| {
                    s.oracle.sources = vec![crate::market::OracleSource { name: "a".into(), weight: 1 }; 2];
                }),
            ),
            ("mark_band", Box::new(|s| s.oracle.mark_band = Rate::ONE)),
        ];
        for (needle, mutate) in cases {
            let mut s = btc_spec();
            mutate(&mut s);
            let err = s.validate().unwrap_err();
            assert_eq!(err.code(), 2004);
            assert!(err.to_string().contains(needle), "expected '{needle}' in '{err}'");
        }
    }
}
