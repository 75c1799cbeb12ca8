//! Parameter distributions of agent populations.
//!
//! In a scenario file a parameter is a number (every agent gets it) or a table naming a
//! distribution:
//!
//! ```toml
//! capital = { dist = "lognormal", median = 2000, sigma = 1.2, min = 100, max = 250000 }
//! leverage = { dist = "choice", values = [4, 20], weights = [3, 1] }
//! hold_minutes = { dist = "exponential", mean = 45 }
//! stop_pct = { dist = "uniform", min = 0.02, max = 0.08 }
//! ```
//!
//! `min` and `max` clamp any distribution. Each agent draws from its own seeded stream.

// Sampling is float math on inputs (populations), never on money.
#![allow(clippy::float_arithmetic)]

use serde::{Deserialize, Deserializer};

use crate::rng::{SimRng, exponential, normal, uniform};

/// A distribution of one parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Dist {
    kind: Kind,
    min: f64,
    max: f64,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Fixed(f64),
    Uniform { min: f64, max: f64 },
    LogNormal { median: f64, sigma: f64 },
    Exponential { mean: f64 },
    Choice { values: Vec<f64>, cumulative: Vec<f64> },
}

impl Dist {
    /// Every draw is `v`.
    #[must_use]
    pub fn fixed(v: f64) -> Self {
        Self { kind: Kind::Fixed(v), min: f64::NEG_INFINITY, max: f64::INFINITY }
    }

    /// One draw.
    pub fn sample(&self, rng: &mut SimRng) -> f64 {
        let v = match &self.kind {
            Kind::Fixed(v) => *v,
            Kind::Uniform { min, max } => min + (max - min) * uniform(rng),
            Kind::LogNormal { median, sigma } => median * (sigma * normal(rng)).exp(),
            Kind::Exponential { mean } => exponential(rng, *mean),
            Kind::Choice { values, cumulative } => {
                let total = cumulative.last().copied().unwrap_or(1.0);
                let u = uniform(rng) * total;
                let i = cumulative.iter().position(|c| u < *c).unwrap_or(values.len() - 1);
                values[i]
            }
        };
        v.clamp(self.min, self.max)
    }

    /// The smallest value a draw can take.
    #[must_use]
    pub fn lowest(&self) -> f64 {
        let own = match &self.kind {
            Kind::Fixed(v) => *v,
            Kind::Uniform { min, .. } => *min,
            Kind::LogNormal { .. } | Kind::Exponential { .. } => 0.0,
            Kind::Choice { values, .. } => values.iter().copied().fold(f64::INFINITY, f64::min),
        };
        own.max(self.min)
    }

    /// The largest value a draw can take.
    #[must_use]
    pub fn highest(&self) -> f64 {
        let own = match &self.kind {
            Kind::Fixed(v) => *v,
            Kind::Uniform { max, .. } => *max,
            Kind::LogNormal { .. } | Kind::Exponential { .. } => f64::INFINITY,
            Kind::Choice { values, .. } => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        };
        own.min(self.max)
    }

    /// Checks that every draw is in `[lo, hi]` — for an unbounded distribution (a lognormal or
    /// an exponential without `max`), that its lowest draw is: its draws are clamped to `hi`
    /// where they are used.
    ///
    /// # Errors
    /// A message with the range.
    pub fn check_range(&self, lo: f64, hi: f64) -> Result<(), String> {
        let high = self.highest();
        if self.lowest() < lo || (high.is_finite() && high > hi) {
            return Err(format!(
                "draws must lie in [{lo}, {hi}] (this one spans [{}, {}])",
                self.lowest(),
                self.highest()
            ));
        }
        Ok(())
    }

    fn from_value(v: &toml::Value) -> Result<Self, String> {
        let num = |v: &toml::Value| -> Option<f64> {
            match v {
                toml::Value::Integer(i) => Some(*i as f64),
                toml::Value::Float(f) if f.is_finite() => Some(*f),
                _ => None,
            }
        };
        if let Some(x) = num(v) {
            return Ok(Self::fixed(x));
        }
        let toml::Value::Table(t) = v else {
            return Err(
                "expected a number or a distribution table such as { dist = \"uniform\", min = 1, max = 5 }".into()
            );
        };
        let get = |key: &str| -> Result<Option<f64>, String> {
            t.get(key).map(|x| num(x).ok_or_else(|| format!("'{key}' must be a number"))).transpose()
        };
        let need = |key: &str| -> Result<f64, String> { get(key)?.ok_or_else(|| format!("'{key}' is required")) };
        let name = t
            .get("dist")
            .and_then(toml::Value::as_str)
            .ok_or("'dist' is required (fixed, uniform, lognormal, exponential, choice)")?;
        let allowed: &[&str] = match name {
            "fixed" => &["dist", "value"],
            "uniform" => &["dist", "min", "max"],
            "lognormal" => &["dist", "median", "sigma", "min", "max"],
            "exponential" => &["dist", "mean", "min", "max"],
            "choice" => &["dist", "values", "weights", "min", "max"],
            other => return Err(format!("unknown dist '{other}' (fixed, uniform, lognormal, exponential, choice)")),
        };
        if let Some(k) = t.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(format!("unknown key '{k}' for dist '{name}' (expected {})", allowed.join(", ")));
        }
        let (mut min, mut max) = (f64::NEG_INFINITY, f64::INFINITY);
        let kind = match name {
            "fixed" => Kind::Fixed(need("value")?),
            "uniform" => {
                let (lo, hi) = (need("min")?, need("max")?);
                if lo > hi {
                    return Err("uniform: min must not exceed max".into());
                }
                Kind::Uniform { min: lo, max: hi }
            }
            "lognormal" => {
                let (median, sigma) = (need("median")?, need("sigma")?);
                if median <= 0.0 || sigma < 0.0 {
                    return Err("lognormal: median must be positive and sigma not negative".into());
                }
                Kind::LogNormal { median, sigma }
            }
            "exponential" => {
                let mean = need("mean")?;
                if mean <= 0.0 {
                    return Err("exponential: mean must be positive".into());
                }
                Kind::Exponential { mean }
            }
            _ => {
                let list = |key: &str| -> Result<Option<Vec<f64>>, String> {
                    t.get(key)
                        .map(|x| {
                            x.as_array()
                                .ok_or_else(|| format!("'{key}' must be an array of numbers"))?
                                .iter()
                                .map(|e| num(e).ok_or_else(|| format!("'{key}' must be an array of numbers")))
                                .collect()
                        })
                        .transpose()
                };
                let values = list("values")?.ok_or("choice: 'values' is required")?;
                let weights = list("weights")?.unwrap_or_else(|| vec![1.0; values.len()]);
                if values.is_empty() || weights.len() != values.len() {
                    return Err("choice: 'values' must be non-empty and 'weights' as long as 'values'".into());
                }
                if weights.iter().any(|w| *w < 0.0) || weights.iter().sum::<f64>() <= 0.0 {
                    return Err("choice: weights must not be negative and must not all be zero".into());
                }
                let mut acc = 0.0;
                let cumulative = weights.iter().map(|w| {
                    acc += w;
                    acc
                });
                Kind::Choice { cumulative: cumulative.collect(), values }
            }
        };
        if name != "fixed" && name != "uniform" {
            min = get("min")?.unwrap_or(min);
            max = get("max")?.unwrap_or(max);
            if min > max {
                return Err("min must not exceed max".into());
            }
        }
        Ok(Self { kind, min, max })
    }
}

impl<'de> Deserialize<'de> for Dist {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = toml::Value::deserialize(d)?;
        Self::from_value(&v).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Domain, stream};

    fn parse(text: &str) -> Result<Dist, String> {
        #[derive(Deserialize)]
        struct T {
            d: Dist,
        }
        toml::from_str::<T>(text).map(|t| t.d).map_err(|e| e.to_string())
    }

    #[test]
    fn numbers_and_tables_parse_and_clamp() {
        assert_eq!(parse("d = 5").unwrap(), Dist::fixed(5.0));
        let d = parse("d = { dist = \"lognormal\", median = 10, sigma = 2, min = 1, max = 100 }").unwrap();
        let mut r = stream(1, Domain::Population, 0);
        for _ in 0..1_000 {
            let x = d.sample(&mut r);
            assert!((1.0..=100.0).contains(&x));
        }
        assert_eq!((d.lowest(), d.highest()), (1.0, 100.0));
        let c = parse("d = { dist = \"choice\", values = [4, 20], weights = [1, 0] }").unwrap();
        assert!((0..100).all(|_| c.sample(&mut r) == 4.0));
    }

    #[test]
    fn mistakes_are_named_with_their_line() {
        let e = parse("\nd = { dist = \"gamma\", k = 2 }").unwrap_err();
        assert!(e.contains("line 2") && e.contains("unknown dist 'gamma'"), "{e}");
        let e = parse("d = { dist = \"uniform\", min = 1, max = 2, mean = 3 }").unwrap_err();
        assert!(e.contains("unknown key 'mean'"), "{e}");
        let e = parse("d = \"ten\"").unwrap_err();
        assert!(e.contains("expected a number"), "{e}");
    }
}
