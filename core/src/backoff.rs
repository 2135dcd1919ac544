//! Riding out outages: capped exponential back-off within a time window.
//! A store or NATS error is transient (the service is restarting, a network
//! path flaps); retrying it in place, rather than failing the task and
//! spending one of the attempts meant for bad input, lets a job wait out an
//! outage of minutes and then finish with the same bytes.

use std::time::Duration;

use tokio::time::Instant;

/// How long work retries transient errors in place by default: longer than a
/// store or NATS node restart, short enough that a real outage fails jobs
/// within the quarter hour.
pub const DEFAULT_OUTAGE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// The first wait.
const FIRST: Duration = Duration::from_millis(500);
/// The longest wait between tries.
const CAP: Duration = Duration::from_secs(15);

/// Waits between tries of one piece of work: 0.5 s, 1 s, 2 s ... up to 15 s,
/// until `window` has passed since the first failure.
#[derive(Debug, Clone)]
pub struct Backoff {
    window: Duration,
    deadline: Option<Instant>,
    next: Duration,
}

impl Backoff {
    /// Back-off that gives up once `window` has passed since the first failure.
    pub fn new(window: Duration) -> Self {
        Self { window, deadline: None, next: FIRST }
    }

    /// The wait before the next try after a failure, or `None` once the window is spent.
    pub fn next_delay(&mut self) -> Option<Duration> {
        let now = Instant::now();
        let deadline = *self.deadline.get_or_insert(now + self.window);
        if now >= deadline {
            return None;
        }
        let delay = self.next.min(deadline - now);
        self.next = (self.next * 2).min(CAP);
        Some(delay)
    }

    /// Sleeps before the next try; false (without sleeping) once the window is spent.
    pub async fn wait(&mut self) -> bool {
        match self.next_delay() {
            Some(delay) => {
                tokio::time::sleep(delay).await;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn waits_double_up_to_the_cap_and_stop_at_the_window() {
        let mut backoff = Backoff::new(Duration::from_secs(60));
        let mut waits = Vec::new();
        let started = Instant::now();
        while backoff.wait().await {
            waits.push(backoff.next.as_millis());
        }
        assert_eq!(started.elapsed(), Duration::from_secs(60), "gives up exactly at the window");
        assert_eq!(waits[..6], [1000, 2000, 4000, 8000, 15000, 15000]);
        assert!(!backoff.wait().await, "stays spent");
    }
}
