//! Decimal strings at the edge of the engine.
//!
//! The engine counts in integer units (ticks, lots, micro-units, 1e-8). People and APIs write
//! decimal strings ("86000.5", "0.001"). [`Decimal`] is the exact bridge: a mantissa and a
//! power-of-ten scale, parsed without floats, converted to a whole number of some unit only
//! when that conversion is exact. "86000.05" on a 0.1 tick is an error, not 86000.0.

use std::fmt;

/// The largest scale accepted: 18 fractional digits is more than any price, size or rate needs.
const MAX_SCALE: u8 = 18;

/// An exact decimal number `mantissa × 10^−scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decimal {
    /// The digits, as an integer.
    pub mantissa: i64,
    /// How many of those digits are after the decimal point.
    pub scale: u8,
}

/// Why a decimal string or conversion was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// The text is not a plain decimal number.
    #[error("'{0}' is not a decimal number (expected digits with an optional '-' and '.')")]
    Malformed(String),
    /// Too many digits for an exact 64-bit value, or more than 18 decimal places.
    #[error("'{0}' has too many digits")]
    TooLarge(String),
    /// The value is not a whole number of the unit it must be counted in.
    #[error("{value} is not a multiple of {unit}")]
    NotMultiple {
        /// The value, as written.
        value: String,
        /// The unit, e.g. the tick size.
        unit: String,
    },
    /// The unit itself is zero or negative.
    #[error("unit {0} must be positive")]
    NonPositiveUnit(String),
}

impl Decimal {
    /// `mantissa × 10^−scale`.
    #[must_use]
    pub const fn new(mantissa: i64, scale: u8) -> Self {
        Self { mantissa, scale }
    }

    /// Parses `-?[0-9]+(\.[0-9]+)?` exactly: no exponent, no spaces, no '+', at most 18
    /// decimal places, and the digits must fit an `i64`.
    ///
    /// # Errors
    /// [`DecimalError::Malformed`] or [`DecimalError::TooLarge`].
    pub fn parse(text: &str) -> Result<Self, DecimalError> {
        let malformed = || DecimalError::Malformed(text.to_owned());
        let (negative, body) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (int_part, frac_part) = match body.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (body, None),
        };
        if int_part.is_empty() || !int_part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        let frac = frac_part.unwrap_or("");
        if frac_part.is_some() && (frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit())) {
            return Err(malformed());
        }
        let scale = u8::try_from(frac.len()).map_err(|_| DecimalError::TooLarge(text.to_owned()))?;
        if scale > MAX_SCALE {
            return Err(DecimalError::TooLarge(text.to_owned()));
        }
        let mut mantissa: i64 = 0;
        for b in int_part.bytes().chain(frac.bytes()) {
            mantissa = mantissa
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(b - b'0')))
                .ok_or_else(|| DecimalError::TooLarge(text.to_owned()))?;
        }
        if negative {
            mantissa = -mantissa;
        }
        Ok(Self { mantissa, scale })
    }

    /// How many whole `unit`s make `self`, exactly: `self / unit`.
    ///
    /// # Errors
    /// [`DecimalError::NotMultiple`] if the division leaves a remainder (a price off the tick,
    /// a size off the lot); [`DecimalError::TooLarge`] if the count does not fit an `i64`;
    /// [`DecimalError::NonPositiveUnit`] for a unit ≤ 0.
    pub fn to_units(self, unit: Self) -> Result<i64, DecimalError> {
        if unit.mantissa <= 0 {
            return Err(DecimalError::NonPositiveUnit(unit.to_string()));
        }
        // self / unit = (m_s × 10^s_u) / (m_u × 10^s_s); both exponents are ≤ 18 so the
        // powers fit i128, and m × 10^18 fits i128 for any i64 m.
        let num = i128::from(self.mantissa) * 10i128.pow(u32::from(unit.scale));
        let den = i128::from(unit.mantissa) * 10i128.pow(u32::from(self.scale));
        if num % den != 0 {
            return Err(DecimalError::NotMultiple { value: self.to_string(), unit: unit.to_string() });
        }
        i64::try_from(num / den).map_err(|_| DecimalError::TooLarge(self.to_string()))
    }

    /// `units × unit` as a decimal with `unit`'s scale (so a price in ticks prints with the
    /// tick's decimals). `None` if the mantissa overflows.
    #[must_use]
    pub fn from_units(units: i64, unit: Self) -> Option<Self> {
        units.checked_mul(unit.mantissa).map(|mantissa| Self { mantissa, scale: unit.scale })
    }

    /// The same value with trailing fractional zeros removed ("0.0100" → "0.01").
    #[must_use]
    pub fn normalized(self) -> Self {
        let mut d = self;
        while d.scale > 0 && d.mantissa % 10 == 0 {
            d.mantissa /= 10;
            d.scale -= 1;
        }
        d
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.mantissa < 0 { "-" } else { "" };
        let digits = self.mantissa.unsigned_abs().to_string();
        let scale = usize::from(self.scale);
        if scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int_part, frac_part) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{int_part}.{frac_part}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    #[test]
    fn parses_and_prints_exactly() {
        assert_eq!(d("86000.5"), Decimal::new(860_005, 1));
        assert_eq!(d("-0.001"), Decimal::new(-1, 3));
        assert_eq!(d("0.001").to_string(), "0.001");
        assert_eq!(Decimal::new(5, 3).to_string(), "0.005");
        assert_eq!(Decimal::new(-12_345, 2).to_string(), "-123.45");
        assert_eq!(Decimal::new(7, 0).to_string(), "7");
        assert_eq!(d("1.2300").normalized().to_string(), "1.23");
    }

    #[test]
    fn refuses_anything_but_plain_decimals() {
        for bad in ["", "-", ".5", "5.", "1e3", "+1", " 1", "1,5", "0x10", "1.2.3", "NaN", "--1"] {
            assert!(matches!(Decimal::parse(bad), Err(DecimalError::Malformed(_))), "{bad:?}");
        }
        assert!(matches!(Decimal::parse("99999999999999999999"), Err(DecimalError::TooLarge(_))));
        assert!(matches!(Decimal::parse("0.0000000000000000001"), Err(DecimalError::TooLarge(_))));
    }

    #[test]
    fn counts_units_only_when_exact() {
        let tick = d("0.1");
        assert_eq!(d("86000.5").to_units(tick), Ok(860_005));
        assert_eq!(d("86000").to_units(tick), Ok(860_000));
        assert_eq!(d("86000.50").to_units(tick), Ok(860_005));
        assert!(matches!(d("86000.05").to_units(tick), Err(DecimalError::NotMultiple { .. })));
        assert_eq!(d("-2.5").to_units(d("0.5")), Ok(-5));
        assert_eq!(d("125").to_units(d("25")), Ok(5));
        assert!(matches!(d("1").to_units(d("0")), Err(DecimalError::NonPositiveUnit(_))));
        assert!(matches!(d("9223372036854775807").to_units(d("0.5")), Err(DecimalError::TooLarge(_))));
    }

    #[test]
    fn units_round_trip_through_text() {
        let tick = d("0.25");
        for ticks in [-7_i64, 0, 1, 3, 344_001] {
            let text = Decimal::from_units(ticks, tick).unwrap().to_string();
            assert_eq!(d(&text).to_units(tick), Ok(ticks), "{text}");
        }
    }
}
