//! A token bucket: a burst, then a steady rate. The daemons' rate limits
//! on what a peer can cause (mqttd's commands from the broker, and every
//! log gate, [`crate::log::Gate`]) are this one bucket.

use std::time::{Duration, Instant};

/// `capacity` tokens, refilled continuously at `per_second`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    at: Option<Instant>,
}

impl TokenBucket {
    /// A full bucket of `burst` tokens (at least 1), one more each `every`.
    pub fn new(burst: u32, every: Duration) -> TokenBucket {
        let capacity = f64::from(burst.max(1));
        TokenBucket {
            capacity,
            per_second: 1.0 / every.as_secs_f64().max(1e-9),
            tokens: capacity,
            at: None,
        }
    }

    /// A full bucket of `per_second` tokens, refilled at `per_second`.
    pub fn per_second(per_second: u32) -> TokenBucket {
        let rate = per_second.max(1);
        TokenBucket::new(rate, Duration::from_secs(1) / rate)
    }

    /// Takes one token if there is one at `now`.
    pub fn try_take(&mut self, now: Instant) -> bool {
        if let Some(at) = self.at {
            let refill = now.saturating_duration_since(at).as_secs_f64() * self.per_second;
            self.tokens = (self.tokens + refill).min(self.capacity);
        }
        self.at = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_takes_the_bucket_then_it_refills_at_the_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::per_second(10);
        let taken = (0..1000).filter(|_| b.try_take(t0)).count();
        assert_eq!(taken, 10);
        assert!(!b.try_take(t0 + Duration::from_millis(50)));
        assert!(b.try_take(t0 + Duration::from_millis(160)));
        // A long pause never stores more than the capacity.
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..100).filter(|_| b.try_take(later)).count(), 10);
    }

    #[test]
    fn one_per_period_after_a_burst_of_one() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(1, Duration::from_secs(5));
        assert!(b.try_take(t0));
        assert!(!b.try_take(t0 + Duration::from_secs(4)));
        assert!(b.try_take(t0 + Duration::from_secs(5)));
    }
}
