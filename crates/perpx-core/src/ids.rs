//! Identifiers. Engine-assigned ids are sequential, so iteration in id order is time order.

use std::fmt;

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub $inner);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_newtype!(
    /// An account: the owner of collateral, positions and orders.
    AccountId(u64)
);
id_newtype!(
    /// A market, numbered from 0 in creation order.
    MarketId(u32)
);
id_newtype!(
    /// An order, numbered from 1 in acceptance order across all markets.
    OrderId(u64)
);
id_newtype!(
    /// A trade (one fill between a maker and a taker), numbered from 1 across all markets.
    TradeId(u64)
);

impl MarketId {
    /// The market's index in the engine's market table.
    #[must_use]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// The longest client order id accepted (Binance's limit, so its clients work unchanged).
pub const CLIENT_ORDER_ID_MAX_LEN: usize = 36;

/// An account's own name for an order: 1–36 characters from `A–Z a–z 0–9 . : / _ -`.
/// Unique per account over the engine's retention window.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientOrderId(Box<str>);

impl ClientOrderId {
    /// Checks the length and alphabet.
    ///
    /// # Errors
    /// Returns the text back if it is empty, longer than 36 characters, or uses other characters.
    pub fn new(text: &str) -> Result<Self, String> {
        let ok_len = !text.is_empty() && text.len() <= CLIENT_ORDER_ID_MAX_LEN;
        let ok_chars = text.bytes().all(|b| b.is_ascii_alphanumeric() || b".:/_-".contains(&b));
        if ok_len && ok_chars { Ok(Self(text.into())) } else { Err(text.to_owned()) }
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_order_ids_follow_binances_alphabet_and_length() {
        assert!(ClientOrderId::new("my-order_1.a:b/c").is_ok());
        assert!(ClientOrderId::new(&"x".repeat(36)).is_ok());
        assert!(ClientOrderId::new(&"x".repeat(37)).is_err());
        assert!(ClientOrderId::new("").is_err());
        assert!(ClientOrderId::new("space here").is_err());
        assert!(ClientOrderId::new("é").is_err());
    }
}
