//! The record of who changed what: every accepted play, off and brightness
//! is logged once at info, naming the change and the peer ("play rainbow
//! speed=120 by uid 998 (hooks)"), so the journal answers "why is the tree
//! pink at 3 am". A peer can trigger these lines at will, so, like the
//! lines of `log_limit.rs`, they are rate-limited, here per uid: at most
//! [`CHANGE_BURST`] lines per uid per [`CHANGE_WINDOW`], then one summary
//! line per window with the number of changes left out and the last one.
//! One busy client then never hides another's changes, and a flood costs
//! the journal at most `CHANGE_BURST + 1` lines per window.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tinsel_proto::{Animation, Brightness, Param, PlayParams, Role};
use tracing::info;

/// Change lines logged per uid per [`CHANGE_WINDOW`] before the rest are
/// only counted.
pub const CHANGE_BURST: u32 = 10;
/// The window of [`CHANGE_BURST`]; also how long a suppressed count may
/// wait before its summary line.
pub const CHANGE_WINDOW: Duration = Duration::from_secs(10);
/// The most uids tallied one by one; changes by further uids share one
/// tally, so the table's size never depends on the peers.
const MAX_TALLIES: usize = 64;

/// A change to what the tree shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// An animation was started.
    Play {
        /// Which.
        animation: Animation,
        /// With these parameters.
        params: PlayParams,
    },
    /// The tree was switched off.
    Off,
    /// The brightness was set.
    Brightness {
        /// The brightness set.
        set: Brightness,
        /// What the peer asked for, when the hooks ceiling lowered it.
        asked: Option<Brightness>,
    },
}

impl fmt::Display for Change {
    /// "play comet color=#ff0000 speed=120 duration=30s", "off",
    /// "brightness 40 (asked 80, the hooks ceiling)".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Play { animation, params } => {
                write!(f, "play {animation}")?;
                for p in params.given().iter() {
                    match p {
                        Param::Color => write!(f, " color={}", params.color.unwrap_or_default())?,
                        Param::Speed => write!(f, " speed={}", params.speed)?,
                        Param::Duration => {
                            if let Some(d) = params.duration {
                                write!(f, " duration={d}s")?;
                            }
                        }
                    }
                }
                Ok(())
            }
            Change::Off => f.write_str("off"),
            Change::Brightness { set, asked: None } => write!(f, "brightness {set}"),
            Change::Brightness {
                set,
                asked: Some(asked),
            } => write!(
                f,
                "brightness {set} (asked {asked}, lowered to [access] hooks_max_brightness)"
            ),
        }
    }
}

/// Logs a change made by ledd's own `[startup]` section.
pub fn log_startup(change: Change) {
    info!("{change} by startup");
}

/// One uid's lines in the current window (`uid` is `None` for the tally
/// shared by uids beyond [`MAX_TALLIES`]).
#[derive(Debug)]
struct Tally {
    uid: Option<u32>,
    role: Role,
    start: Instant,
    logged: u32,
    suppressed: u64,
    last: Change,
}

impl Tally {
    /// The summary of the window, if anything was left out.
    fn summary(&self) -> Option<String> {
        (self.suppressed > 0).then(|| {
            let who = match self.uid {
                Some(uid) => format!("uid {uid} ({})", self.role.name()),
                None => format!("peers beyond the first {} uids", MAX_TALLIES - 1),
            };
            format!(
                "suppressed {} more changes by {who} (the log keeps {CHANGE_BURST} per uid per {} s); the last: {}",
                self.suppressed,
                CHANGE_WINDOW.as_secs(),
                self.last
            )
        })
    }
}

/// The rate-limited record of changes: [`ChangeLog::record`] for each
/// change a peer made, [`ChangeLog::flush`] about once a second for the
/// summaries of windows that ended.
#[derive(Debug, Default)]
pub struct ChangeLog {
    tallies: Mutex<Vec<Tally>>,
}

/// The lines one call logs: a summary of the window that ended, then the
/// change itself.
type Lines = [Option<String>; 2];

impl ChangeLog {
    /// Logs (or counts) `change`, made by `uid` with `role`.
    pub fn record(&self, uid: u32, role: Role, change: Change) {
        for line in self
            .record_at(uid, role, change, Instant::now())
            .into_iter()
            .flatten()
        {
            info!("{line}");
        }
    }

    /// Logs the summaries of the windows that ended.
    pub fn flush(&self) {
        for line in self.flush_at(Instant::now(), false) {
            info!("{line}");
        }
    }

    /// Logs every count not yet told, ended window or not: at shutdown,
    /// so that stopping ledd never loses one.
    pub fn flush_all(&self) {
        for line in self.flush_at(Instant::now(), true) {
            info!("{line}");
        }
    }

    fn record_at(&self, uid: u32, role: Role, change: Change, now: Instant) -> Lines {
        let mut tallies = self.tallies.lock().unwrap_or_else(|e| e.into_inner());
        let key = if tallies.iter().any(|t| t.uid == Some(uid)) || tallies.len() < MAX_TALLIES - 1 {
            Some(uid)
        } else {
            None
        };
        let i = match tallies.iter().position(|t| t.uid == key) {
            Some(i) => i,
            None => {
                tallies.push(Tally {
                    uid: key,
                    role,
                    start: now,
                    logged: 0,
                    suppressed: 0,
                    last: change,
                });
                tallies.len() - 1
            }
        };
        let tally = &mut tallies[i];
        let mut summary = None;
        if now.saturating_duration_since(tally.start) >= CHANGE_WINDOW {
            summary = tally.summary();
            tally.start = now;
            tally.logged = 0;
            tally.suppressed = 0;
        }
        tally.role = role;
        tally.last = change;
        if tally.logged < CHANGE_BURST {
            tally.logged += 1;
            [
                summary,
                Some(format!("{change} by uid {uid} ({})", role.name())),
            ]
        } else {
            tally.suppressed += 1;
            [summary, None]
        }
    }

    fn flush_at(&self, now: Instant, all: bool) -> Vec<String> {
        let mut tallies = self.tallies.lock().unwrap_or_else(|e| e.into_inner());
        let mut lines = Vec::new();
        tallies.retain(|t| {
            let ended = all || now.saturating_duration_since(t.start) >= CHANGE_WINDOW;
            if ended {
                lines.extend(t.summary());
            }
            !ended
        });
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinsel_proto::{Rgb, Speed};

    fn play(speed: u16) -> Change {
        Change::Play {
            animation: Animation::Comet,
            params: PlayParams {
                speed: Speed::new(speed).unwrap(),
                ..PlayParams::default()
            },
        }
    }

    fn lines(l: Lines) -> Vec<String> {
        l.into_iter().flatten().collect()
    }

    #[test]
    fn changes_read_as_what_was_asked() {
        let red = PlayParams {
            color: Some(Rgb::new(255, 0, 0)),
            duration: Some(tinsel_proto::PlaySeconds::new(30).unwrap()),
            ..PlayParams::default()
        };
        let c = Change::Play {
            animation: Animation::Comet,
            params: red,
        };
        assert_eq!(c.to_string(), "play comet color=#ff0000 duration=30s");
        assert_eq!(play(120).to_string(), "play comet speed=120");
        assert_eq!(play(100).to_string(), "play comet");
        assert_eq!(Change::Off.to_string(), "off");
        let b = |n| Brightness::new(n).unwrap();
        let lowered = Change::Brightness {
            set: b(40),
            asked: Some(b(90)),
        };
        assert!(lowered.to_string().starts_with("brightness 40 (asked 90"));
    }

    #[test]
    fn a_flood_from_one_uid_is_bounded_and_summarised() {
        let log = ChangeLog::default();
        let t0 = Instant::now();
        let mut out = Vec::new();
        for i in 0..1000u16 {
            out.extend(lines(log.record_at(
                998,
                Role::Hooks,
                play(10 + i % 900),
                t0,
            )));
        }
        assert_eq!(out.len(), CHANGE_BURST as usize, "{out:?}");
        assert_eq!(out[0], "play comet speed=10 by uid 998 (hooks)");
        // Another uid is not hidden by the flood.
        let other = lines(log.record_at(0, Role::Admin, Change::Off, t0));
        assert_eq!(other, ["off by uid 0 (admin)"]);
        // Before the window ends: nothing to say.
        assert!(log.flush_at(t0 + CHANGE_WINDOW / 2, false).is_empty());
        let summary = log.flush_at(t0 + CHANGE_WINDOW, false);
        assert_eq!(summary.len(), 1, "{summary:?}");
        assert!(
            summary[0].starts_with(&format!(
                "suppressed {} more changes by uid 998 (hooks)",
                1000 - CHANGE_BURST
            )),
            "{summary:?}"
        );
        assert!(
            summary[0].ends_with("the last: play comet speed=109"),
            "{summary:?}"
        );
        // The next window logs again.
        let again = lines(log.record_at(998, Role::Hooks, Change::Off, t0 + CHANGE_WINDOW));
        assert_eq!(again, ["off by uid 998 (hooks)"]);
    }

    #[test]
    fn a_window_that_ends_on_a_change_summarises_first() {
        let log = ChangeLog::default();
        let t0 = Instant::now();
        for _ in 0..CHANGE_BURST + 3 {
            log.record_at(5, Role::Hooks, Change::Off, t0);
        }
        let out = lines(log.record_at(5, Role::Hooks, Change::Off, t0 + CHANGE_WINDOW));
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(
            out[0].starts_with("suppressed 3 more changes by uid 5"),
            "{out:?}"
        );
        assert_eq!(out[1], "off by uid 5 (hooks)");
    }

    #[test]
    fn shutdown_tells_a_count_before_its_window_ends() {
        let log = ChangeLog::default();
        let t0 = Instant::now();
        for _ in 0..CHANGE_BURST + 2 {
            log.record_at(7, Role::Hooks, Change::Off, t0);
        }
        assert!(log.flush_at(t0, false).is_empty());
        let out = log.flush_at(t0, true);
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(
            out[0].starts_with("suppressed 2 more changes by uid 7"),
            "{out:?}"
        );
    }

    #[test]
    fn many_uids_share_one_tally_beyond_the_table() {
        let log = ChangeLog::default();
        let t0 = Instant::now();
        let mut out = 0;
        for uid in 0..1000 {
            for _ in 0..3 {
                out += lines(log.record_at(uid, Role::Hooks, Change::Off, t0)).len();
            }
        }
        assert!(log.tallies.lock().unwrap().len() <= MAX_TALLIES);
        let per_uid = (MAX_TALLIES - 1) * 3;
        assert_eq!(out, per_uid + CHANGE_BURST as usize);
        let summary = log.flush_at(t0 + CHANGE_WINDOW, false);
        assert_eq!(summary.len(), 1, "{summary:?}");
        assert!(summary[0].contains("peers beyond the first"), "{summary:?}");
        assert!(
            log.tallies.lock().unwrap().is_empty(),
            "ended windows are dropped"
        );
    }
}
