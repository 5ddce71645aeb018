//! The daemons' exit codes: one named value per way a run can end, from
//! BSD's `sysexits.h`, so that systemd units and scripts can tell a bad
//! config from missing hardware or a missing peer. ledd and webd both end
//! with these; `ledctl`, a client, has its own.

use std::process::ExitCode;

/// How a daemon ended, as a process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Ran and stopped cleanly (SIGTERM, SIGINT), or a one-shot command or
    /// `--check-config` passed.
    Ok = 0,
    /// The command line was wrong (`EX_USAGE`).
    Usage = 64,
    /// Something the daemon needs is not there: the LED hardware or
    /// backend, the listen address (taken), a usable socket from systemd
    /// (`EX_UNAVAILABLE`).
    Unavailable = 69,
    /// A bug or an unexpected failure inside the daemon (`EX_SOFTWARE`).
    Internal = 70,
    /// The sandbox could not be set up or applied (`EX_OSERR`).
    Sandbox = 71,
    /// Not allowed: not root where root is needed, a file, port or socket
    /// path the daemon may not use (`EX_NOPERM`).
    Permission = 77,
    /// The configuration file is missing, unreadable or invalid; the
    /// message names the file and the key (`EX_CONFIG`).
    Config = 78,
}

impl Exit {
    /// The numeric code.
    pub const fn code(self) -> u8 {
        self as u8
    }
}

/// Runs a daemon's main future on a current-thread tokio runtime with I/O
/// and timers (webd, schedd and mqttd never start a second thread after
/// their sandbox). A runtime that cannot be built is logged and
/// [`Exit::Internal`].
pub fn run_current_thread(main: impl Future<Output = Exit>) -> Exit {
    match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
    {
        Ok(runtime) => runtime.block_on(main),
        Err(e) => {
            tracing::error!("cannot start the async runtime: {e}");
            Exit::Internal
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_sysexits() {
        assert_eq!(Exit::Ok.code(), 0);
        assert_eq!(Exit::Usage.code(), 64);
        assert_eq!(Exit::Unavailable.code(), 69);
        assert_eq!(Exit::Internal.code(), 70);
        assert_eq!(Exit::Sandbox.code(), 71);
        assert_eq!(Exit::Permission.code(), 77);
        assert_eq!(Exit::Config.code(), 78);
    }
}
