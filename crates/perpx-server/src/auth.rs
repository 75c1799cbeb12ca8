//! Signed requests, replay protection and rate limits.
//!
//! A private request carries three headers: `X-PERPX-APIKEY` (the key's public id),
//! `X-PERPX-TIMESTAMP` (ms since the Unix epoch) and `X-PERPX-SIGNATURE`, the hex
//! HMAC-SHA256, keyed with the key's secret, of the raw bytes
//!
//! ```text
//! timestamp \n METHOD \n path?query \n body
//! ```
//!
//! The server refuses a timestamp further than `recv_window_ms` from its clock, and a signature
//! it has already seen inside that window (a replay: an attacker who captured a request can't
//! send it again). Signatures are compared in constant time (`Mac::verify_slice`).

use std::collections::{HashMap, HashSet, VecDeque};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The key header.
pub const KEY_HEADER: &str = "x-perpx-apikey";
/// The timestamp header.
pub const TIMESTAMP_HEADER: &str = "x-perpx-timestamp";
/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-perpx-signature";

/// The bytes a request's signature covers.
#[must_use]
pub fn signed_bytes(timestamp: &str, method: &str, path_and_query: &str, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(timestamp.len() + method.len() + path_and_query.len() + body.len() + 3);
    for part in [timestamp.as_bytes(), method.as_bytes(), path_and_query.as_bytes()] {
        v.extend_from_slice(part);
        v.push(b'\n');
    }
    v.extend_from_slice(body);
    v
}

/// The hex HMAC-SHA256 of `bytes` under a hex `secret` (what a client computes).
///
/// # Panics
/// If `secret` is not hex (keys are created by the server, always hex).
#[must_use]
pub fn sign(secret_hex: &str, bytes: &[u8]) -> String {
    let secret = hex::decode(secret_hex).expect("secrets are hex");
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret).expect("HMAC takes any key length");
    mac.update(bytes);
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `signature_hex` is the HMAC of `bytes` under `secret_hex`, compared in constant time.
#[must_use]
pub fn verify(secret_hex: &str, bytes: &[u8], signature_hex: &str) -> bool {
    let (Ok(secret), Ok(signature)) = (hex::decode(secret_hex), hex::decode(signature_hex)) else { return false };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&secret) else { return false };
    mac.update(bytes);
    mac.verify_slice(&signature).is_ok()
}

/// Signatures seen inside the receive window.
#[derive(Debug, Default)]
pub struct ReplayCache {
    seen: HashSet<String>,
    by_expiry: VecDeque<(i64, String)>,
}

impl ReplayCache {
    /// Records `signature` until `expires`; `false` if it was already there (a replay).
    pub fn insert(&mut self, signature: &str, now: i64, expires: i64) -> bool {
        while self.by_expiry.front().is_some_and(|(t, _)| *t < now) {
            if let Some((_, s)) = self.by_expiry.pop_front() {
                self.seen.remove(&s);
            }
        }
        if !self.seen.insert(signature.to_owned()) {
            return false;
        }
        // Expiries are not monotonic (clients' clocks differ); the queue is pruned lazily and a
        // signature stays at most until the latest expiry before it, never less than its own.
        let at = self.by_expiry.back().map_or(expires, |(t, _)| expires.max(*t));
        self.by_expiry.push_back((at, signature.to_owned()));
        true
    }
}

/// Token buckets per key or IP: `rate` requests per second, bursts up to `2 × rate`.
#[derive(Debug, Default)]
pub struct RateLimiter {
    /// (milli-tokens, last refill ms).
    buckets: HashMap<String, (i64, i64)>,
}

impl RateLimiter {
    /// Takes one request for `who`; `Err(retry_after_ms)` when the bucket is empty.
    pub fn take(&mut self, who: &str, rate: u32, now: i64) -> Result<(), i64> {
        let rate = i64::from(rate.max(1));
        let cap = 2 * rate * 1_000;
        // A lookup first: the key is only copied for a bucket's first request.
        if !self.buckets.contains_key(who) {
            self.buckets.insert(who.to_owned(), (cap, now));
        }
        let (tokens, last) = self.buckets.get_mut(who).expect("inserted above");
        let refill = (now - *last).max(0) * rate; // rate tokens per 1,000 ms = rate milli-tokens per ms
        *tokens = (*tokens + refill).min(cap);
        *last = now;
        if *tokens >= 1_000 {
            *tokens -= 1_000;
            Ok(())
        } else {
            Err(((1_000 - *tokens) / rate).max(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_with_its_secret_and_bytes() {
        let secret = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let bytes = signed_bytes("1700000000000", "POST", "/api/v1/order", b"{\"qty\":\"1\"}");
        let sig = sign(secret, &bytes);
        assert!(verify(secret, &bytes, &sig));
        assert!(!verify(&secret.replace('0', "1"), &bytes, &sig), "another secret");
        let other = signed_bytes("1700000000000", "GET", "/api/v1/order", b"{\"qty\":\"1\"}");
        assert!(!verify(secret, &other, &sig), "another method");
        assert!(!verify(secret, &bytes, "zz"), "not hex");
    }

    #[test]
    fn a_signature_is_accepted_once_per_window() {
        let mut c = ReplayCache::default();
        assert!(c.insert("a", 0, 10));
        assert!(!c.insert("a", 5, 15));
        assert!(c.insert("b", 5, 15));
        assert!(c.insert("a", 11, 20), "forgotten after its window");
    }

    #[test]
    fn the_bucket_refills_at_its_rate() {
        let mut r = RateLimiter::default();
        for _ in 0..4 {
            assert!(r.take("k", 2, 0).is_ok());
        }
        assert_eq!(r.take("k", 2, 0), Err(500));
        assert!(r.take("k", 2, 500).is_ok());
    }
}
