//! A progress line on standard error, only when it is a terminal (never in CI logs or when
//! redirected): `cascade-2025-10-10 [##########..........] 50% 3,600/7,200 · 4.1 s`.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A progress indicator.
#[derive(Debug)]
pub struct Progress {
    label: String,
    enabled: bool,
    started: Instant,
    last: Mutex<Option<Instant>>,
}

impl Progress {
    /// A progress line labelled `label`, shown if standard error is a terminal and `CI` is unset.
    #[must_use]
    pub fn new(label: &str) -> Self {
        let enabled = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
        Self { label: label.to_owned(), enabled, started: Instant::now(), last: Mutex::new(None) }
    }

    /// Shows `done` of `total` (at most ten times a second, and always the last one).
    pub fn update(&self, done: usize, total: usize) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        let mut last = self.last.lock().expect("not poisoned");
        if done < total && last.is_some_and(|t| now.duration_since(t) < Duration::from_millis(100)) {
            return;
        }
        *last = Some(now);
        let width = 24;
        let filled = (done * width).checked_div(total).unwrap_or(width).min(width);
        let pct = (done * 100).checked_div(total).unwrap_or(100);
        let bar: String = "#".repeat(filled) + &".".repeat(width - filled);
        let secs = self.started.elapsed().as_millis();
        let mut err = std::io::stderr().lock();
        let (label, whole, tenth) = (&self.label, secs / 1000, secs % 1000 / 100);
        let _ = write!(err, "\r{label} [{bar}] {pct:>3}% {done}/{total} · {whole}.{tenth} s ");
        if done >= total {
            let _ = writeln!(err);
        }
        let _ = err.flush();
    }
}
