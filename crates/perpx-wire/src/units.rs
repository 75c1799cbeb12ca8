//! Decimal text ↔ integer units.

use perpx_core::market::MarketSpec;
use perpx_core::num::{Decimal, DecimalError};
use perpx_core::{Price, Qty, Quote, Rate, RejectReason};

/// One micro-unit of the settlement stablecoin.
pub const QUOTE_UNIT: Decimal = Decimal::new(1, 6);
/// One unit of `Rate` (1e-8).
pub const RATE_UNIT: Decimal = Decimal::new(1, 8);

fn invalid(field: &str, e: &DecimalError) -> RejectReason {
    RejectReason::InvalidNumber { field: field.into(), detail: e.to_string().into() }
}

/// Parses a decimal string counted in `unit`, naming `field` in the refusal.
///
/// # Errors
/// [`RejectReason::InvalidNumber`] for text that is not a decimal, too many digits, or a value
/// that is not a whole number of `unit`.
pub fn parse_units(field: &str, text: &str, unit: Decimal) -> Result<i64, RejectReason> {
    let d = Decimal::parse(text).map_err(|e| invalid(field, &e))?;
    d.to_units(unit).map_err(|e| invalid(field, &e))
}

/// Parses an amount of the settlement stablecoin (6 decimals at most).
///
/// # Errors
/// As [`parse_units`].
pub fn parse_quote(field: &str, text: &str) -> Result<Quote, RejectReason> {
    parse_units(field, text, QUOTE_UNIT).map(Quote)
}

/// Parses a rate written as a fraction (`"0.0005"` is 5 bp; 8 decimals at most).
///
/// # Errors
/// As [`parse_units`].
pub fn parse_rate(field: &str, text: &str) -> Result<Rate, RejectReason> {
    parse_units(field, text, RATE_UNIT).map(Rate)
}

/// Parses a price on `market`'s tick.
///
/// # Errors
/// [`RejectReason::PriceOffTick`] if it is not a whole number of ticks;
/// [`RejectReason::InvalidNumber`] if it is not a decimal or too large.
pub fn parse_price(market: &impl AsRef<MarketSpec>, text: &str) -> Result<Price, RejectReason> {
    let tick = market.as_ref().tick_size;
    let d = Decimal::parse(text).map_err(|e| invalid("price", &e))?;
    match d.to_units(tick) {
        Ok(v) => Ok(Price(v)),
        Err(DecimalError::NotMultiple { .. }) => {
            Err(RejectReason::PriceOffTick { price: text.into(), tick: tick.normalized().to_string().into() })
        }
        Err(e) => Err(invalid("price", &e)),
    }
}

/// Parses a size on `lot`.
///
/// # Errors
/// [`RejectReason::QtyOffLot`] if it is not a whole number of lots;
/// [`RejectReason::InvalidNumber`] if it is not a decimal or too large.
pub fn parse_qty_in(lot: Decimal, field: &str, text: &str) -> Result<Qty, RejectReason> {
    let d = Decimal::parse(text).map_err(|e| invalid(field, &e))?;
    match d.to_units(lot) {
        Ok(v) => Ok(Qty(v)),
        Err(DecimalError::NotMultiple { .. }) => {
            Err(RejectReason::QtyOffLot { qty: text.into(), lot: lot.normalized().to_string().into() })
        }
        Err(e) => Err(invalid(field, &e)),
    }
}

/// Parses a size on `market`'s lot.
///
/// # Errors
/// As [`parse_qty_in`].
pub fn parse_qty(market: &impl AsRef<MarketSpec>, text: &str) -> Result<Qty, RejectReason> {
    parse_qty_in(market.as_ref().lot_size, "qty", text)
}

/// Formats `units × unit` with `unit`'s decimals (prices print with the tick's decimals), as
/// `Decimal`'s `Display` would: the exact product in `i128` (an `i64` times an `i64` never
/// overflows it), every decimal kept.
///
/// This runs for every figure of every event the server publishes. `Decimal`'s `Display` (three
/// allocations and the formatting machinery) was a tenth of the engine thread's time under
/// load; then a digit-by-digit `u128` loop was a sixth of its instructions (a `u128` division
/// is a library call). Every real price, size and amount fits in 64 bits, so the whole and
/// fractional parts are printed by `itoa` (two digits at a time) into one string sized once
/// (docs/PERFORMANCE.md "Session 8"); a product beyond 64 bits takes the slow path.
#[must_use]
pub fn format_units(units: i64, unit: Decimal) -> String {
    let mut out = String::new();
    write_units(units, unit, &mut out);
    out
}

/// [`format_units`] appended to `out`: the events' JSON writes its figures this way, with no
/// string of their own (docs/PERFORMANCE.md "Session 16").
pub fn write_units(units: i64, unit: Decimal, out: &mut String) {
    let m = i128::from(units) * i128::from(unit.mantissa);
    let scale = usize::from(unit.scale);
    let (Ok(v), Some(pow)) = (u64::try_from(m.unsigned_abs()), 10u64.checked_pow(u32::from(unit.scale))) else {
        out.push_str(&format_units_slow(units, unit));
        return;
    };
    let (mut whole, mut fraction) = (itoa::Buffer::new(), itoa::Buffer::new());
    let whole = whole.format(v / pow);
    out.reserve(whole.len() + scale + 2);
    if m < 0 {
        out.push('-');
    }
    out.push_str(whole);
    if scale > 0 {
        let fraction = fraction.format(v % pow);
        out.push('.');
        out.extend(std::iter::repeat_n('0', scale - fraction.len()));
        out.push_str(fraction);
    }
}

/// [`format_units`] for a product beyond 64 bits or a unit with more than 19 decimals (no
/// validated market has them).
fn format_units_slow(units: i64, unit: Decimal) -> String {
    let m = i128::from(units) * i128::from(unit.mantissa);
    let s = m.unsigned_abs().to_string();
    let scale = usize::from(unit.scale);
    let sign = if m < 0 { "-" } else { "" };
    if scale == 0 {
        return format!("{sign}{s}");
    }
    let padded = format!("{s:0>width$}", width = scale + 1);
    let (i, f) = padded.split_at(padded.len() - scale);
    format!("{sign}{i}.{f}")
}

/// A price of `market` as text.
#[must_use]
pub fn format_price(market: &impl AsRef<MarketSpec>, p: Price) -> String {
    format_units(p.0, market.as_ref().tick_size)
}

/// A size of `market` as text.
#[must_use]
pub fn format_qty(market: &impl AsRef<MarketSpec>, q: Qty) -> String {
    format_units(q.0, market.as_ref().lot_size)
}

/// An amount of the settlement stablecoin as text, always 6 decimals.
#[must_use]
pub fn format_quote(q: Quote) -> String {
    format_units(q.0, QUOTE_UNIT)
}

/// A rate as a fraction with trailing zeros trimmed (`Rate(50_000)` → `"0.0005"`).
#[must_use]
pub fn format_rate(r: Rate) -> String {
    Decimal::new(r.0, 8).normalized().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_rates_round_trip() {
        assert_eq!(format_quote(Quote(400_000_000)), "400.000000");
        assert_eq!(format_quote(Quote(-1)), "-0.000001");
        assert_eq!(parse_quote("x", "400"), Ok(Quote(400_000_000)));
        assert!(matches!(parse_quote("x", "0.0000001"), Err(RejectReason::InvalidNumber { .. })));
        assert_eq!(format_rate(Rate(50_000)), "0.0005");
        assert_eq!(parse_rate("fee", "-0.00011"), Ok(Rate(-11_000)));
        assert_eq!(format_units(i64::MAX, Decimal::new(5, 1)), "4611686018427387903.5");
    }

    #[test]
    fn format_units_prints_what_decimal_prints() {
        let units = [0, 1, -1, 9, 10, -10, 99, 100, 850_000, -850_005, 123_456_789, i64::MAX, i64::MIN + 1];
        let unit = [(1, 0), (1, 1), (5, 1), (1, 3), (25, 2), (1, 6), (1, 8), (7, 12), (1, 18)];
        for u in units {
            for (mantissa, scale) in unit {
                let d = Decimal::new(mantissa, scale);
                let expected = Decimal::from_units(u, d).map_or_else(|| format_units_slow(u, d), |x| x.to_string());
                assert_eq!(format_units(u, d), expected, "{u} × {d}");
                assert_eq!(format_units(u, d), format_units_slow(u, d), "{u} × {d}");
            }
        }
        assert_eq!(format_units(-1, Decimal::new(1, 3)), "-0.001");
        assert_eq!(format_units(850_000, Decimal::new(1, 1)), "85000.0");
        assert_eq!(format_units(0, Decimal::new(1, 2)), "0.00");
        assert_eq!(
            format_units(i64::MIN, Decimal::new(i64::MAX, 0)),
            (i128::from(i64::MIN) * i128::from(i64::MAX)).to_string()
        );
    }
}
