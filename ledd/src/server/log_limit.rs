//! The log gate for lines a peer can trigger (a refused peer, a bad frame,
//! a failed accept): a flood of bad connections must not become a flood of
//! log lines. The gate is the daemon kit's ([`Gate::peer`]: a burst of 20,
//! then 2 a second), shared by the server's tasks; a line that passes after
//! some were held back is preceded by their count.

use std::sync::Mutex;
use std::time::Instant;

use tinsel_daemon::log::Gate;

/// The server's one gate for peer-triggered lines.
#[derive(Debug)]
pub struct LogLimiter(Mutex<Gate>);

impl Default for LogLimiter {
    fn default() -> Self {
        LogLimiter(Mutex::new(Gate::peer()))
    }
}

impl LogLimiter {
    /// `Some(n)` when a line may be logged now, `n` lines having been held
    /// back since the last one; `None` to hold this one back.
    pub fn allow(&self) -> Option<u64> {
        self.0.lock().ok()?.allow(Instant::now())
    }
}

/// Logs at warn level, rate-limited, for lines a peer can trigger;
/// `$state` is anything with a `log: LogLimiter` field.
macro_rules! peer_warn {
    ($state:expr, $($arg:tt)*) => {
        if let Some(held) = $state.log.allow() {
            if held > 0 {
                ::tracing::warn!("{held} similar log lines were held back");
            }
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
        let allowed = (0..100).filter(|_| l.allow().is_some()).count();
        assert_eq!(allowed as u64, u64::from(Gate::PEER_BURST));
    }
}
