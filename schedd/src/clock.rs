//! The clock gate. A Raspberry Pi Zero has no real-time clock: it boots
//! with the time it last saved (or 1970) until systemd-timesyncd reaches
//! an NTP server, then creates [`SYNCED_FLAG`]. Acting on the unsynced
//! clock would play the wrong thing (a December schedule in "June"), so
//! schedd does nothing until the flag exists, says so once, and looks again
//! every [`RECHECK`]. Once seen, the flag stays believed: timesyncd never
//! removes it before a reboot.
//!
//! Only the flag's existence is asked (`statx`), which Landlock does not
//! mediate, so the flag needs no rule; under systemd its directory is
//! bound into the unit's empty `/run` (`schedd.service`).

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file systemd-timesyncd creates once it has synchronised the clock
/// (`systemd-timesyncd.service(8)`).
pub const SYNCED_FLAG: &str = "/run/systemd/timesync/synchronized";

/// How often to look for the flag while waiting.
pub const RECHECK: Duration = Duration::from_secs(10);

/// Whether the clock may be trusted yet.
#[derive(Debug)]
pub struct ClockGate {
    /// The flag to wait for; `None`: trust the clock (`require_synced_clock
    /// = false`).
    flag: Option<PathBuf>,
    synced: bool,
    said_waiting: bool,
}

impl ClockGate {
    /// The gate for `require_synced_clock`, waiting for [`SYNCED_FLAG`].
    pub fn new(require_synced_clock: bool) -> ClockGate {
        ClockGate::with_flag(require_synced_clock.then(|| PathBuf::from(SYNCED_FLAG)))
    }

    /// A gate waiting for `flag` (tests use a file of their own).
    pub fn with_flag(flag: Option<PathBuf>) -> ClockGate {
        ClockGate {
            synced: flag.is_none(),
            flag,
            said_waiting: false,
        }
    }

    /// Whether the clock is synchronised now. Logs once when it is not,
    /// and once when it becomes so.
    pub fn check(&mut self) -> bool {
        if self.synced {
            return true;
        }
        let Some(flag) = &self.flag else {
            return true;
        };
        if exists(flag) {
            self.synced = true;
            if self.said_waiting {
                tracing::info!(
                    "the clock is synchronised ({} exists): following the schedule",
                    flag.display()
                );
            }
            return true;
        }
        if !self.said_waiting {
            self.said_waiting = true;
            tracing::warn!(
                "waiting for a synchronised clock: {} does not exist yet, so schedd does nothing (checking every {}s); check `timedatectl` and the network, or set require_synced_clock = false on a machine with a real-time clock",
                flag.display(),
                RECHECK.as_secs()
            );
        }
        false
    }
}

fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_for_the_flag_then_stays_open() {
        let dir = tempfile::tempdir().unwrap();
        let flag = dir.path().join("synchronized");
        let mut gate = ClockGate::with_flag(Some(flag.clone()));
        assert!(!gate.check());
        assert!(!gate.check());
        std::fs::write(&flag, "").unwrap();
        assert!(gate.check());
        std::fs::remove_file(&flag).unwrap();
        assert!(gate.check(), "once synchronised, always");
    }

    #[test]
    fn without_the_requirement_the_clock_is_trusted() {
        assert!(ClockGate::new(false).check());
        assert_eq!(
            ClockGate::new(true).flag.as_deref(),
            Some(Path::new(SYNCED_FLAG))
        );
    }
}
