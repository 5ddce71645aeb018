//! Rate limits: the token bucket that keeps a command flood from the broker
//! from reaching ledd faster than `limits.commands_per_second`, and the
//! limiter that keeps the log lines such a flood triggers to one every few
//! seconds (with a count of those left out).

use std::time::{Duration, Instant};

/// A token bucket: `capacity` tokens, refilled at `rate` per second.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    capacity: f64,
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket of `per_second` tokens, refilled at `per_second`.
    pub fn new(per_second: u32, now: Instant) -> TokenBucket {
        let rate = f64::from(per_second.max(1));
        TokenBucket {
            capacity: rate,
            rate,
            tokens: rate,
            last: now,
        }
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// At most one log line per `every`; counts the lines it held back.
#[derive(Debug, Clone)]
pub struct LogLimit {
    every: Duration,
    next: Option<Instant>,
    held: u64,
}

impl LogLimit {
    /// One line per `every`.
    pub fn new(every: Duration) -> LogLimit {
        LogLimit {
            every,
            next: None,
            held: 0,
        }
    }

    /// `Some(n)` when a line may be logged now, `n` being the number held
    /// back since the last one; `None` when this one is held back.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        if self.next.is_some_and(|next| now < next) {
            self.held += 1;
            return None;
        }
        self.next = Some(now + self.every);
        Some(std::mem::take(&mut self.held))
    }
}

/// The causes of an outage already logged: each distinct cause once until
/// the next success, even when attempts alternate between causes (a broker
/// name with an IPv6 address nothing listens on and an IPv4 one that
/// refuses the password).
#[derive(Debug, Clone, Default)]
pub struct Causes(Vec<String>);

impl Causes {
    /// At most this many distinct causes are remembered per outage.
    const MAX: usize = 16;

    /// Whether `key` is new in this outage (and remembers it).
    pub fn first(&mut self, key: &str) -> bool {
        if self.0.iter().any(|k| k == key) {
            return false;
        }
        if self.0.len() < Self::MAX {
            self.0.push(key.to_owned());
        }
        true
    }

    /// A success: the next failure is news again.
    pub fn clear(&mut self) {
        self.0.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_takes_the_bucket_then_it_refills_at_the_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10, t0);
        let taken = (0..1000).filter(|_| b.try_take(t0)).count();
        assert_eq!(taken, 10);
        assert!(!b.try_take(t0 + Duration::from_millis(50)));
        assert!(b.try_take(t0 + Duration::from_millis(160)));
        // A long pause never stores more than the capacity.
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..100).filter(|_| b.try_take(later)).count(), 10);
    }

    #[test]
    fn alternating_causes_are_each_logged_once_per_outage() {
        let mut c = Causes::default();
        assert!(c.first("refused"));
        assert!(c.first("login"));
        for _ in 0..5 {
            assert!(!c.first("refused"));
            assert!(!c.first("login"));
        }
        c.clear();
        assert!(c.first("login"));
    }

    #[test]
    fn log_lines_are_held_back_and_counted() {
        let t0 = Instant::now();
        let mut l = LogLimit::new(Duration::from_secs(5));
        assert_eq!(l.allow(t0), Some(0));
        for _ in 0..7 {
            assert_eq!(l.allow(t0 + Duration::from_secs(1)), None);
        }
        assert_eq!(l.allow(t0 + Duration::from_secs(5)), Some(7));
    }
}
