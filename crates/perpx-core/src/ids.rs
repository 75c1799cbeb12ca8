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
///
/// Held behind one thin pointer (8 bytes, and `Option<ClientOrderId>` too) rather than a
/// `Box<str>` (16): every resting order carries an `Option` of it, so this is 8 bytes of each
/// order's memory (docs/PERFORMANCE.md, "Memory per resting order"). Compared, ordered and
/// hashed as its text.
#[derive(Clone)]
pub struct ClientOrderId(Box<ClientOrderIdText>);

#[derive(Clone)]
struct ClientOrderIdText {
    len: u8,
    bytes: [u8; CLIENT_ORDER_ID_MAX_LEN],
}

impl ClientOrderId {
    /// Checks the length and alphabet.
    ///
    /// # Errors
    /// Returns the text back if it is empty, longer than 36 characters, or uses other characters.
    pub fn new(text: &str) -> Result<Self, String> {
        let ok_len = !text.is_empty() && text.len() <= CLIENT_ORDER_ID_MAX_LEN;
        let ok_chars = text.bytes().all(|b| b.is_ascii_alphanumeric() || b".:/_-".contains(&b));
        if !(ok_len && ok_chars) {
            return Err(text.to_owned());
        }
        let mut bytes = [0; CLIENT_ORDER_ID_MAX_LEN];
        bytes[..text.len()].copy_from_slice(text.as_bytes());
        let len = u8::try_from(text.len()).expect("at most 36 bytes");
        Ok(Self(Box::new(ClientOrderIdText { len, bytes })))
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).expect("checked ASCII on creation")
    }

    /// The id's bytes: its ASCII text, without [`ClientOrderId::as_str`]'s UTF-8 check (an
    /// encoder writing the text as bytes needs none).
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0.bytes[..usize::from(self.0.len)]
    }
}

impl PartialEq for ClientOrderId {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for ClientOrderId {}

impl PartialOrd for ClientOrderId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ClientOrderId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

/// Hashed as its bytes: `as_str` would check the UTF-8 again at every probe of the client-id
/// registry (1.5 % of the engine's instructions on the recovery workload, docs/PERFORMANCE.md,
/// "Session 12"); the bytes are the text's, and equality compares them too.
impl std::hash::Hash for ClientOrderId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl fmt::Debug for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ClientOrderId").field(&self.as_str()).finish()
    }
}

impl fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_order_id_is_one_thin_pointer_and_compares_as_its_text() {
        assert_eq!(std::mem::size_of::<Option<ClientOrderId>>(), 8);
        let id = |s: &str| ClientOrderId::new(s).unwrap();
        assert_eq!(id("abc").as_str(), "abc");
        assert!(id("ab") < id("abc") && id("abc") < id("b") && id("Z") < id("a"));
        assert_eq!(id("x-1"), id("x-1"));
        assert_eq!(format!("{:?}", id("x-1")), r#"ClientOrderId("x-1")"#);
        let long = "a".repeat(CLIENT_ORDER_ID_MAX_LEN);
        assert_eq!(id(&long).as_str(), long);
    }

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
