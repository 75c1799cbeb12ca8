//! Small value types of scenario files that check themselves while the TOML is read, so a
//! mistake is reported by `toml` with the line and the key it sits on.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use perpx_core::Quote;

use crate::time::{datetime_ms, parse_duration};

/// A duration written as text: `"20m"`, `"2h30m"`, `"1s"` (milliseconds inside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub i64);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let ms = parse_duration(&text).map_err(D::Error::custom)?;
        if ms <= 0 {
            return Err(D::Error::custom(format!("duration '{text}' must be positive")));
        }
        Ok(Self(ms))
    }
}

/// A moment of the run: an offset from its start (`"2h50m"`) or a datetime
/// (`2025-10-10T20:50:00Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeRef {
    /// Milliseconds after the start.
    Offset(i64),
    /// Milliseconds since the epoch.
    At(i64),
}

impl TimeRef {
    /// Milliseconds since the epoch, for a run starting at `start_ms`.
    #[must_use]
    pub fn resolve(self, start_ms: i64) -> i64 {
        match self {
            Self::Offset(o) => start_ms + o,
            Self::At(t) => t,
        }
    }
}

impl<'de> Deserialize<'de> for TimeRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match toml::Value::deserialize(d)? {
            toml::Value::String(s) => parse_duration(&s).map(Self::Offset).map_err(D::Error::custom),
            toml::Value::Datetime(dt) => datetime_ms(&dt).map(Self::At).map_err(D::Error::custom),
            other => Err(D::Error::custom(format!(
                "expected an offset from the start (\"2h50m\") or a datetime (2025-10-10T20:50:00Z), found {}",
                other.type_str()
            ))),
        }
    }
}

/// An amount of the settlement stablecoin as a decimal string (`"250000"`, `"0.5"`), exactly as
/// in the JSON schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount(pub Quote);

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let q = perpx_wire::units::parse_quote("amount", &text).map_err(|e| D::Error::custom(e.to_string()))?;
        if q.is_negative() {
            return Err(D::Error::custom(format!("amount '{text}' must not be negative")));
        }
        Ok(Self(q))
    }
}

/// The datetime a run starts at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start(pub i64);

impl<'de> Deserialize<'de> for Start {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match toml::Value::deserialize(d)? {
            toml::Value::Datetime(dt) => datetime_ms(&dt).map(Self).map_err(D::Error::custom),
            other => Err(D::Error::custom(format!(
                "expected a datetime such as 2025-10-10T18:00:00Z, found {}",
                other.type_str()
            ))),
        }
    }
}
