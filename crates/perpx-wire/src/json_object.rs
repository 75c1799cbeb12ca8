//! A JSON object written straight into text, one field at a time: how the events' JSON is
//! written ([`crate::event::write_event`]), for every event the server publishes.
//!
//! Why by hand and not through serde: an event went through a struct of heap strings (one per
//! figure and per market name), then serde_json's flattened map, which scans every key and every
//! value for characters to escape. Here a key is a constant known to need no escaping
//! (lower-case letters, digits and `_`), a figure's digits go straight into the text, and only
//! free text (names, messages, client ids) is escaped. On the server's gateway this cut the
//! instructions an order by a quarter (docs/PERFORMANCE.md "Session 16").
//!
//! The output is serde_json's compact form byte for byte: the same escapes for free text
//! ([`write_escaped`], checked against serde_json by a property test) and the same integers.

use perpx_core::Decimal;

use crate::units::write_units;

/// An object being written into `out`: `{` when begun, `,` before every field but the first,
/// `}` when ended.
#[derive(Debug)]
pub struct JsonObject<'a> {
    out: &'a mut String,
    empty: bool,
}

impl<'a> JsonObject<'a> {
    /// Writes `{`.
    pub fn begin(out: &'a mut String) -> Self {
        out.push('{');
        Self { out, empty: true }
    }

    /// Writes `}`.
    pub fn end(self) {
        self.out.push('}');
    }

    /// `"key":`, after a `,` unless it is the first field.
    fn key(&mut self, key: &'static str) {
        debug_assert!(key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'), "{key}");
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        self.out.push('"');
        self.out.push_str(key);
        self.out.push_str("\":");
    }

    /// An unsigned integer.
    pub fn u64(&mut self, key: &'static str, v: u64) {
        self.key(key);
        self.out.push_str(itoa::Buffer::new().format(v));
    }

    /// A signed integer.
    pub fn i64(&mut self, key: &'static str, v: i64) {
        self.key(key);
        self.out.push_str(itoa::Buffer::new().format(v));
    }

    /// `true` or `false`.
    pub fn bool(&mut self, key: &'static str, v: bool) {
        self.key(key);
        self.out.push_str(if v { "true" } else { "false" });
    }

    /// A string: escaped as JSON requires.
    pub fn str(&mut self, key: &'static str, v: &str) {
        self.key(key);
        write_escaped(v, self.out);
    }

    /// `null`.
    pub fn null(&mut self, key: &'static str) {
        self.key(key);
        self.out.push_str("null");
    }

    /// An array of values that are already JSON text (`items`), written as they are: the
    /// caller answers for them being valid JSON.
    pub fn json_array<'b>(&mut self, key: &'static str, items: impl IntoIterator<Item = &'b str>) {
        self.key(key);
        self.out.push('[');
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.out.push_str(item);
        }
        self.out.push(']');
    }

    /// A stable name (`"buy"`, `"limit"`, …): a constant of the same alphabet as the keys, so
    /// written as it is.
    pub fn name(&mut self, key: &'static str, v: &'static str) {
        debug_assert!(v.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'), "{v}");
        self.key(key);
        self.out.push('"');
        self.out.push_str(v);
        self.out.push('"');
    }

    /// `units × unit` as a decimal string (`"85000.5"`), as [`crate::units::format_units`]
    /// writes it: digits, a sign and a point, none of which need escaping.
    pub fn units(&mut self, key: &'static str, units: i64, unit: Decimal) {
        self.key(key);
        self.out.push('"');
        write_units(units, unit, self.out);
        self.out.push('"');
    }
}

/// `s` as a JSON string, escaped exactly as serde_json escapes it: `"` and `\` with a backslash,
/// the control characters U+0000–U+001F as `\b` `\t` `\n` `\f` `\r` or `\u00xx` (lower-case
/// hex), everything else as it is.
pub fn write_escaped(s: &str, out: &mut String) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            b'\t' => "\\t",
            b'\n' => "\\n",
            0x0c => "\\f",
            b'\r' => "\\r",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_object_reads_back_as_its_fields_in_order() {
        let mut out = String::from("prefix ");
        let mut o = JsonObject::begin(&mut out);
        o.u64("seq", u64::MAX);
        o.i64("ts", i64::MIN);
        o.name("type", "fill");
        o.str("market", "BTC-PERP");
        o.units("price", -850_005, Decimal::new(1, 1));
        o.bool("reduce_only", false);
        o.null("client_id");
        o.json_array("events", [r#"{"a":1}"#, "[]"]);
        o.json_array("none", []);
        o.end();
        assert_eq!(
            out,
            r#"prefix {"seq":18446744073709551615,"ts":-9223372036854775808,"type":"fill","market":"BTC-PERP","price":"-85000.5","reduce_only":false,"client_id":null,"events":[{"a":1},[]],"none":[]}"#
        );
        let mut empty = String::new();
        JsonObject::begin(&mut empty).end();
        assert_eq!(empty, "{}");
    }

    proptest! {
        /// Any text, control characters, quotes, backslashes and multi-byte characters included,
        /// is escaped exactly as serde_json escapes it.
        #[test]
        fn free_text_is_escaped_as_serde_json_escapes_it(s in "(\\PC|[\\x00-\\x1f\"\\\\\\x7f])*") {
            let mut out = String::new();
            write_escaped(&s, &mut out);
            prop_assert_eq!(out, serde_json::to_string(&s).unwrap());
        }
    }
}
