//! Trading fees: `fee = notional × rate`, charged rounded **up** (the venue never gives up the
//! last unit); a maker rebate (negative rate) is paid rounded **down**. Because the taker rate is
//! at least the size of any rebate, the fee account never goes negative on a trade.

use crate::num::{ArithmeticError, Quote, Rate};

/// The fee for `notional` at `rate`: positive is charged to the account, negative is a rebate
/// paid to it.
///
/// # Errors
/// [`ArithmeticError::Overflow`] if it does not fit.
pub fn trading_fee(notional: Quote, rate: Rate) -> Result<Quote, ArithmeticError> {
    if rate.is_negative() {
        notional.mul_rate_floor(rate.checked_neg()?)?.checked_neg()
    } else {
        notional.mul_rate_ceil(rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_round_up_and_rebates_round_down() {
        // 5 bp on 10.000001 USD = 0.00500000005 → 0.005001 charged.
        assert_eq!(trading_fee(Quote(10_000_001), Rate(50_000)), Ok(Quote(5_001)));
        // −1.1 bp on it = −0.0011000001 → 0.001100 paid.
        assert_eq!(trading_fee(Quote(10_000_001), Rate(-11_000)), Ok(Quote(-1_100)));
        assert_eq!(trading_fee(Quote(0), Rate(50_000)), Ok(Quote(0)));
    }
}
