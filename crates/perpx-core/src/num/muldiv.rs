//! `a × b / d` with an `i128` intermediate (an `i64` one when the product fits) and an explicit
//! rounding direction.

use super::ArithmeticError;

/// `⌊a × b / d⌋`, rounding towards −∞.
///
/// Whom it favours depends on the sign convention of the caller: used for an amount the
/// venue *pays*, flooring pays less; used for a price bound a buyer may not exceed, flooring
/// keeps the bound inside the band.
///
/// # Errors
/// [`ArithmeticError::Overflow`] if `a × b` does not fit `i128`;
/// [`ArithmeticError::DivisionByZero`] if `d == 0`.
pub fn mul_div_floor(a: i128, b: i128, d: i128) -> Result<i128, ArithmeticError> {
    if d == 0 {
        return Err(ArithmeticError::DivisionByZero);
    }
    // Rust's `/` truncates towards zero; step down when the true quotient is negative and inexact.
    let floor = |(q, r): (i128, i128)| if r != 0 && ((r < 0) != (d < 0)) { q - 1 } else { q };
    // The two paths round apart (see `narrow_product`).
    if let Some(p) = narrow_product(a, b) {
        return Ok(floor(div_rem(i128::from(p), d)));
    }
    Ok(floor(div_rem(a.checked_mul(b).ok_or(ArithmeticError::Overflow)?, d)))
}

/// `⌈a × b / d⌉`, rounding towards +∞.
///
/// Used where the venue *charges*: rounding up charges the account the last unit, never the
/// venue; or for a price bound a seller may not go below, which keeps the bound inside the band.
///
/// # Errors
/// [`ArithmeticError::Overflow`] if `a × b` does not fit `i128`;
/// [`ArithmeticError::DivisionByZero`] if `d == 0`.
pub fn mul_div_ceil(a: i128, b: i128, d: i128) -> Result<i128, ArithmeticError> {
    if d == 0 {
        return Err(ArithmeticError::DivisionByZero);
    }
    let ceil = |(q, r): (i128, i128)| if r != 0 && ((r < 0) == (d < 0)) { q + 1 } else { q };
    if let Some(p) = narrow_product(a, b) {
        return Ok(ceil(div_rem(i128::from(p), d)));
    }
    Ok(ceil(div_rem(a.checked_mul(b).ok_or(ArithmeticError::Overflow)?, d)))
}

/// `a × b` as an `i64` when both factors and the product fit one, else `None` (the caller
/// takes the `i128` path).
///
/// Why: callers widen `i64` figures to `i128` to multiply them safely, but almost every product
/// (a notional times a rate, a size times a price) fits an `i64`. Checked there, the product is
/// one multiplication and an overflow flag, and the division by a constant scale that follows
/// (in [`div_rem`]) compiles to a multiplication. The callers round each path's quotient apart:
/// with one rounding after the two paths joined, the narrow one's width was checked again (the
/// 30 % gap +0.5 % instructions). Measured on the gap, where every position's maintenance margin
/// goes through [`mul_div_ceil`]: docs/PERFORMANCE.md, "Session 19".
#[inline]
fn narrow_product(a: i128, b: i128) -> Option<i64> {
    i64::try_from(a).ok()?.checked_mul(i64::try_from(b).ok()?)
}

/// `(p / d, p % d)` truncating, as `i128`'s operators give them, computed in `i64` when both fit
/// (`d ≠ 0`). The same quotient and remainder — `i64` and `i128` division truncate alike — but
/// an `i64` division by a constant scale compiles to a multiplication where an `i128` one calls
/// `__divti3`.
///
/// Measured: `__divti3` was 13 % of the instructions of a funding settlement (callgrind on the
/// funding benchmark's tick over 100,000 positions), where every payer's maintenance margin
/// and payment divide by `Rate::SCALE`, and with `u128_div_rem` 4 % of the book benchmark's
/// profile (docs/PERFORMANCE.md).
#[inline]
pub(crate) fn div_rem(p: i128, d: i128) -> (i128, i128) {
    match (i64::try_from(p), i64::try_from(d)) {
        // `i64::MIN / −1` overflows an `i64` (not an `i128`): left to the wide path.
        (Ok(p), Ok(d)) if d != -1 => (i128::from(p / d), i128::from(p % d)),
        _ => (p / d, p % d),
    }
}

/// `p.div_euclid(d)`, computed in `i64` when both fit (`d ≠ 0`): the same quotient, by a
/// hardware division instead of `__divti3`.
///
/// Measured: the bankruptcy price's two roundings and the backstop's two quotients a
/// liquidated unit called `__divti3` 340,000 times on the 30 % gap, about 60 instructions
/// each (docs/PERFORMANCE.md, "Session 19").
#[inline]
pub(crate) fn div_euclid(p: i128, d: i128) -> i128 {
    match (i64::try_from(p), i64::try_from(d)) {
        // `i64::MIN.div_euclid(−1)` overflows an `i64` (not an `i128`): left to the wide path.
        (Ok(p), Ok(d)) if d != -1 => i128::from(p.div_euclid(d)),
        _ => p.div_euclid(d),
    }
}

/// Narrows an `i128` intermediate back to `i64`.
///
/// # Errors
/// [`ArithmeticError::Overflow`] if the value does not fit.
pub fn narrow(v: i128) -> Result<i64, ArithmeticError> {
    i64::try_from(v).map_err(|_| ArithmeticError::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_and_ceil_round_in_the_named_direction_for_every_sign() {
        // 7 / 2 = 3.5
        assert_eq!(mul_div_floor(7, 1, 2), Ok(3));
        assert_eq!(mul_div_ceil(7, 1, 2), Ok(4));
        // -7 / 2 = -3.5
        assert_eq!(mul_div_floor(-7, 1, 2), Ok(-4));
        assert_eq!(mul_div_ceil(-7, 1, 2), Ok(-3));
        // 7 / -2 = -3.5
        assert_eq!(mul_div_floor(7, 1, -2), Ok(-4));
        assert_eq!(mul_div_ceil(7, 1, -2), Ok(-3));
        // -7 / -2 = 3.5
        assert_eq!(mul_div_floor(-7, 1, -2), Ok(3));
        assert_eq!(mul_div_ceil(-7, 1, -2), Ok(4));
        // exact quotients are not moved
        assert_eq!(mul_div_floor(-8, 1, 2), Ok(-4));
        assert_eq!(mul_div_ceil(-8, 1, 2), Ok(-4));
    }

    #[test]
    fn the_narrow_division_gives_the_wide_one() {
        let edges = [0, 1, -1, 7, -7, 99_999_999, -100_000_001, i128::from(i64::MAX), i128::from(i64::MIN)];
        let wide = [i128::from(i64::MAX) + 1, i128::from(i64::MIN) - 1, i128::MAX, i128::MIN + 1];
        for p in edges.iter().chain(&wide) {
            for d in [1, -1, 2, -2, 3, 100_000_000, -100_000_000, i128::from(i64::MAX), i128::from(i64::MIN)] {
                assert_eq!(div_rem(*p, d), (p / d, p % d), "{p} / {d}");
                assert_eq!(div_euclid(*p, d), p.div_euclid(d), "{p} div_euclid {d}");
            }
        }
    }

    #[test]
    fn overflow_and_zero_divisor_are_errors() {
        assert_eq!(mul_div_floor(i128::MAX, 2, 1), Err(ArithmeticError::Overflow));
        assert_eq!(mul_div_ceil(1, 1, 0), Err(ArithmeticError::DivisionByZero));
        assert_eq!(narrow(i128::from(i64::MAX) + 1), Err(ArithmeticError::Overflow));
        assert_eq!(narrow(-5), Ok(-5));
    }

    proptest::proptest! {
        #[test]
        fn floor_le_exact_le_ceil(a in -1_000_000_000_000i128..1_000_000_000_000, b in -1_000_000i128..1_000_000, d in 1i128..1_000_000) {
            let f = mul_div_floor(a, b, d).unwrap();
            let c = mul_div_ceil(a, b, d).unwrap();
            // f ≤ a·b/d ≤ c, and they differ by at most one unit.
            proptest::prop_assert!(f * d <= a * b);
            proptest::prop_assert!(c * d >= a * b);
            proptest::prop_assert!(c - f <= 1);
        }

        #[test]
        fn the_narrow_product_path_rounds_as_exact_arithmetic(a in proptest::num::i64::ANY, b in proptest::num::i64::ANY, small in -1_000_000i64..1_000_000, d in proptest::num::i64::ANY) {
            // Reference: the exact quotient's floor and ceiling, from `div_euclid` on a positive
            // divisor (every `i64` product fits an `i128`).
            let floor = |p: i128, d: i128| if d > 0 { p.div_euclid(d) } else { (-p).div_euclid(-d) };
            for (a, b) in [(a, b), (a, small), (small, b), (small, small)] {
                for d in [d, 1, -1, 100_000_000, -3] {
                    if d == 0 {
                        continue;
                    }
                    let (p, d) = (i128::from(a) * i128::from(b), i128::from(d));
                    proptest::prop_assert_eq!(mul_div_floor(a.into(), b.into(), d), Ok(floor(p, d)));
                    proptest::prop_assert_eq!(mul_div_ceil(a.into(), b.into(), d), Ok(-floor(-p, d)));
                }
            }
        }

        #[test]
        fn the_i64_division_path_equals_i128_division(p in proptest::num::i128::ANY, d in proptest::num::i128::ANY, small in proptest::num::i64::ANY, sd in proptest::num::i64::ANY) {
            for (p, d) in [(p, d), (i128::from(small), i128::from(sd)), (i128::from(small), d), (p, i128::from(sd))] {
                if d != 0 && !(p == i128::MIN && d == -1) {
                    proptest::prop_assert_eq!(div_rem(p, d), (p / d, p % d));
                    proptest::prop_assert_eq!(div_euclid(p, d), p.div_euclid(d));
                }
            }
        }
    }
}
