//! The log gate for lines a peer can trigger (a refused peer, a bad frame,
//! a failed accept): a flood of bad connections must not become a flood of
//! log lines, so at most [`LOG_BURST`] pass per [`LOG_WINDOW`], then a count
//! of what was dropped.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tracing::warn;

/// Peer-triggered log lines allowed per [`LOG_WINDOW`].
const LOG_BURST: u64 = 20;
const LOG_WINDOW: Duration = Duration::from_secs(10);

/// A log gate for lines a peer can trigger: at most `LOG_BURST` per
/// `LOG_WINDOW`, then a count of what was dropped.
#[derive(Debug)]
pub struct LogLimiter {
    window: Mutex<(Instant, u64)>,
    dropped: AtomicU64,
}

impl Default for LogLimiter {
    fn default() -> Self {
        LogLimiter {
            window: Mutex::new((Instant::now(), 0)),
            dropped: AtomicU64::new(0),
        }
    }
}

impl LogLimiter {
    /// Whether a line may be logged now.
    pub fn allow(&self) -> bool {
        let Ok(mut w) = self.window.lock() else {
            return false;
        };
        if w.0.elapsed() >= LOG_WINDOW {
            let dropped = self.dropped.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                warn!("{dropped} similar log lines were suppressed");
            }
            *w = (Instant::now(), 0);
        }
        if w.1 < LOG_BURST {
            w.1 += 1;
            true
        } else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            false
        }
    }
}

/// Logs at warn level, rate-limited, for lines a peer can trigger;
/// `$state` is anything with a `log: LogLimiter` field.
macro_rules! peer_warn {
    ($state:expr, $($arg:tt)*) => {
        if $state.log.allow() {
            ::tracing::warn!($($arg)*);
        }
    };
}
pub(super) use peer_warn;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_limiter_caps_a_burst() {
        let l = LogLimiter::default();
        let allowed = (0..100).filter(|_| l.allow()).count();
        assert_eq!(allowed as u64, LOG_BURST);
        assert_eq!(l.dropped.load(Ordering::Relaxed), 100 - LOG_BURST);
    }
}
