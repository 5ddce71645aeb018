//! The daemons' log set-up: `tracing` events as plain lines on stderr,
//! which systemd hands to the journal (it adds its own unit name and
//! time stamp; colours only when stderr is a terminal, so the journal
//! never stores escape codes); and the one [`Gate`] in front of every
//! line that a peer can trigger.

use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use crate::rate::TokenBucket;

/// A rate limit on log lines that someone else can cause (a bad frame, a
/// refused peer, a flood of commands): a flood of bad input must not
/// become a flood of journal lines (the journal's own rate limit would
/// then drop the lines that matter). A burst passes, then a steady
/// trickle; what is held back is counted and said with the next line that
/// passes ([`held_note`]).
#[derive(Debug, Clone)]
pub struct Gate {
    bucket: TokenBucket,
    held: u64,
}

impl Gate {
    /// Lines a peer can trigger, in ledd's and webd's servers: a burst of
    /// 20, then 2 a second.
    pub const PEER_BURST: u32 = 20;
    /// After [`Gate::PEER_BURST`]: one line per this.
    pub const PEER_EVERY: Duration = Duration::from_millis(500);

    /// A burst of `burst` lines, then one per `every`.
    pub fn new(burst: u32, every: Duration) -> Gate {
        Gate {
            bucket: TokenBucket::new(burst, every),
            held: 0,
        }
    }

    /// The gate for lines a peer of a server can trigger.
    pub fn peer() -> Gate {
        Gate::new(Gate::PEER_BURST, Gate::PEER_EVERY)
    }

    /// `Some(n)` when a line may be written at `now`, `n` lines having
    /// been held back since the last one; `None` to hold this one back.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        if self.bucket.try_take(now) {
            Some(std::mem::take(&mut self.held))
        } else {
            self.held += 1;
            None
        }
    }
}

impl Default for Gate {
    /// [`Gate::peer`].
    fn default() -> Gate {
        Gate::peer()
    }
}

/// What a line that passed a [`Gate`] adds about those held back before
/// it: nothing, or ` (N similar lines held back)`.
pub fn held_note(held: u64) -> String {
    if held == 0 {
        String::new()
    } else {
        format!(" ({held} similar lines held back)")
    }
}

/// Whether each line names the module that logged it (`webd::http::server:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Targets {
    /// Lines name their module: webd, whose modules tell the reader where
    /// a line comes from (HTTP, sandbox, ledd link).
    Shown,
    /// Lines carry only the message: ledd, whose messages name their
    /// subject themselves.
    Hidden,
}

/// Sends log events to stderr: INFO and above, DEBUG too when `verbose`.
/// Call it once, first thing after parsing the command line; a subscriber
/// already set (a test calling a daemon's `main` twice) is kept.
pub fn init(verbose: bool, targets: Targets) {
    let level = if verbose {
        tracing::Level::DEBUG
    } else {
        tracing::Level::INFO
    };
    let _already_set = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_max_level(level)
        .with_target(targets == Targets::Shown)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_gate_passes_a_burst_then_counts_what_it_held_back() {
        let mut gate = Gate::peer();
        let now = Instant::now();
        let passed = (0..100).filter(|_| gate.allow(now).is_some()).count();
        assert_eq!(passed, Gate::PEER_BURST as usize);
        let next = gate.allow(now + Gate::PEER_EVERY);
        assert_eq!(next, Some(80));
        assert_eq!(held_note(80), " (80 similar lines held back)");
        assert_eq!(held_note(0), "");
    }
}
