//! Exact decimal sums over the API's decimal strings (cumulative quote, average prices, 24-hour
//! volumes): an integer of units and a scale, never a float.

use std::cmp::Ordering;

/// `units × 10^-scale`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Amount {
    /// The integer of units.
    pub units: i128,
    /// Decimal places.
    pub scale: u32,
}

impl Amount {
    /// Parses `-?digits(.digits)?`; anything else is `None`.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let (neg, body) = text.strip_prefix('-').map_or((false, text), |b| (true, b));
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        if int.is_empty()
            || (frac.is_empty() && body.contains('.'))
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
            || frac.len() > 18
        {
            return None;
        }
        let units: i128 = format!("{int}{frac}").parse().ok()?;
        Some(Self { units: if neg { -units } else { units }, scale: u32::try_from(frac.len()).ok()? })
    }

    /// The same value with `scale` decimals (more decimals: exact; fewer: truncated towards 0).
    #[must_use]
    pub fn rescale(self, scale: u32) -> Self {
        let units = match scale.cmp(&self.scale) {
            Ordering::Equal => self.units,
            Ordering::Greater => self.units.saturating_mul(10i128.saturating_pow(scale - self.scale)),
            Ordering::Less => self.units / 10i128.pow(self.scale - scale),
        };
        Self { units, scale }
    }

    /// `self + other`, exact.
    #[must_use]
    pub fn add(self, other: Self) -> Self {
        let scale = self.scale.max(other.scale);
        Self { units: self.rescale(scale).units.saturating_add(other.rescale(scale).units), scale }
    }

    /// `self − other`, exact.
    #[must_use]
    pub fn sub(self, other: Self) -> Self {
        self.add(Self { units: -other.units, scale: other.scale })
    }

    /// `self × other`, exact.
    #[must_use]
    pub fn mul(self, other: Self) -> Self {
        Self { units: self.units.saturating_mul(other.units), scale: self.scale + other.scale }
    }

    /// `self ÷ other` with `scale` decimals, truncated towards 0; `None` for a zero divisor.
    #[must_use]
    pub fn div(self, other: Self, scale: u32) -> Option<Self> {
        if other.units == 0 {
            return None;
        }
        // (a·10^-sa) / (b·10^-sb) = (a · 10^(scale + sb − sa) / b) · 10^-scale
        let shift = i64::from(scale) + i64::from(other.scale) - i64::from(self.scale);
        let num = if shift >= 0 {
            self.units.saturating_mul(10i128.saturating_pow(u32::try_from(shift).ok()?))
        } else {
            self.units / 10i128.pow(u32::try_from(-shift).ok()?)
        };
        Some(Self { units: num / other.units, scale })
    }

    /// Whether it is zero.
    #[must_use]
    pub fn is_zero(self) -> bool {
        self.units == 0
    }
}

impl std::fmt::Display for Amount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.units < 0 { "-" } else { "" };
        let abs = self.units.unsigned_abs();
        if self.scale == 0 {
            return write!(f, "{sign}{abs}");
        }
        let p = 10u128.pow(self.scale);
        write!(f, "{sign}{}.{:0w$}", abs / p, abs % p, w = self.scale as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Amount {
        Amount::parse(s).unwrap()
    }

    #[test]
    fn sums_products_and_quotients_are_exact() {
        assert_eq!(a("86000.1").mul(a("0.010")).to_string(), "860.0010");
        assert_eq!(a("1.5").add(a("0.25")).to_string(), "1.75");
        assert_eq!(a("1").sub(a("1.25")).to_string(), "-0.25");
        assert_eq!(a("860.0010").div(a("0.010"), 2).unwrap().to_string(), "86000.10");
        assert_eq!(a("10").div(a("3"), 4).unwrap().to_string(), "3.3333");
        assert_eq!(a("-0.5").to_string(), "-0.5");
        assert_eq!(a("2.999").rescale(1).to_string(), "2.9", "truncated");
        assert!(a("1").div(a("0.00"), 2).is_none());
        for bad in ["", "-", "1.", ".5", "1e5", "1.2.3", "+1"] {
            assert!(Amount::parse(bad).is_none(), "{bad}");
        }
    }
}
