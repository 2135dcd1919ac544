//! Wall-clock time for records, leases and grace periods, in milliseconds
//! since the Unix epoch. Every service reads it here, so a test can run the
//! time-driven logic (leases, reconnect grace, sweepers, roster expiry) on
//! tokio's paused clock instead of waiting in real time.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

thread_local! {
    /// On a thread that follows tokio's clock: the wall time and tokio instant it started from.
    static FOLLOWED: Cell<Option<(u64, tokio::time::Instant)>> = const { Cell::new(None) };
}

/// Now, in milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    if let Some((base_ms, base)) = FOLLOWED.get() {
        let elapsed = tokio::time::Instant::now().saturating_duration_since(base);
        return base_ms.saturating_add(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
    }
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Test support: from now on, [`now_ms`] on this thread moves with tokio's
/// clock (for a `#[tokio::test(start_paused = true)]` on the current-thread
/// runtime, whose tasks all run on the test's thread).
pub fn follow_tokio_clock() {
    let base_ms = now_ms();
    FOLLOWED.set(Some((base_ms, tokio::time::Instant::now())));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn a_thread_that_follows_tokio_moves_with_paused_time() {
        follow_tokio_clock();
        let start = now_ms();
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(now_ms() - start, 3_600_000);
        let other = std::thread::spawn(now_ms).join().unwrap();
        assert!(other.abs_diff(start) < 60_000, "other threads keep the wall clock");
    }
}
