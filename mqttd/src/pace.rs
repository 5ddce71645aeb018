//! A pace for work that a flood from the broker may ask for again and
//! again (the discovery config at each `online` from Home Assistant): done
//! at once, then at most once per interval, and never dropped: a request
//! within the interval is owed and done when it ends, once however many
//! came.

use std::time::Duration;

use tokio::time::Instant;

/// When the paced work was last done and whether it is owed.
#[derive(Debug, Clone)]
pub struct Pace {
    every: Duration,
    last: Option<Instant>,
    owed: bool,
}

impl Pace {
    /// At most once per `every`.
    pub fn new(every: Duration) -> Pace {
        Pace {
            every,
            last: None,
            owed: false,
        }
    }

    /// A request at `now`: whether to do the work now (and remember it as
    /// done); else it is owed until [`Pace::due`].
    pub fn ask(&mut self, now: Instant) -> bool {
        match self.last {
            Some(last) if now < last + self.every => {
                self.owed = true;
                false
            }
            _ => {
                self.done(now);
                true
            }
        }
    }

    /// When owed work is to be done.
    pub fn due(&self) -> Option<Instant> {
        match self.last {
            Some(last) if self.owed => Some(last + self.every),
            _ => None,
        }
    }

    /// The work was done at `now` (an owed one, or for another reason).
    pub fn done(&mut self, now: Instant) {
        self.last = Some(now);
        self.owed = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_done_once_at_once_and_once_at_the_end() {
        let every = Duration::from_secs(1);
        let mut p = Pace::new(every);
        let t0 = Instant::now();
        assert!(p.ask(t0));
        assert_eq!(p.due(), None);
        let done_now = (1..500)
            .filter(|i| p.ask(t0 + Duration::from_millis(*i)))
            .count();
        assert_eq!(done_now, 0);
        // The last of the burst is not lost: one more, a second after the first.
        assert_eq!(p.due(), Some(t0 + every));
        p.done(t0 + every);
        assert_eq!(p.due(), None);
        // After a quiet interval, at once again.
        assert!(p.ask(t0 + every * 3));
        assert_eq!(p.due(), None);
    }
}
