//! A parallel map over run indices on scoped threads: workers take the next index from an
//! atomic counter, and results are put back in index order, so the output never depends on the
//! number of threads or on which thread ran what.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The number of threads to use by default: every core.
#[must_use]
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// `f(0), …, f(n − 1)` on `threads` threads, in index order; `done(k)` is called with the count
/// of finished items after each one.
pub fn map<T: Send>(n: usize, threads: usize, f: impl Fn(usize) -> T + Sync, done: impl Fn(usize) + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, T)>> = Mutex::new(Vec::with_capacity(n));
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, n.max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let r = f(i);
                    results.lock().expect("no worker panics while holding the lock").push((i, r));
                    done(finished.fetch_add(1, Ordering::Relaxed) + 1);
                }
            });
        }
    });
    let mut results = results.into_inner().expect("workers are done");
    results.sort_by_key(|(i, _)| *i);
    assert_eq!(results.len(), n, "every index ran once");
    results.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_order_is_the_index_order_whatever_the_threads() {
        for threads in [1, 2, 5, 64] {
            let out = super::map(37, threads, |i| i * i, |_| {});
            assert_eq!(out, (0..37).map(|i| i * i).collect::<Vec<_>>());
        }
        assert!(super::map(0, 4, |i| i, |_| {}).is_empty());
    }
}
