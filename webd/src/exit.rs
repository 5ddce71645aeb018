//! The process exit codes, named after BSD's `sysexits.h` so that systemd
//! and scripts can tell a bad config from a missing ledd.

use std::process::ExitCode;

/// Why webd stopped. The numbers are `sysexits.h`'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Stopped cleanly (SIGTERM, or a one-shot command done).
    Ok = 0,
    /// The command line was wrong (`EX_USAGE`).
    Usage = 64,
    /// Something webd needs is not there, e.g. the listen address is taken
    /// (`EX_UNAVAILABLE`).
    Unavailable = 69,
    /// A bug or an unexpected failure inside webd (`EX_SOFTWARE`).
    Internal = 70,
    /// The sandbox could not be applied (`EX_OSERR`).
    Sandbox = 71,
    /// Not allowed: a file or port needs permissions webd lacks
    /// (`EX_NOPERM`).
    Permission = 77,
    /// The config file is wrong; the message names the key and the file
    /// (`EX_CONFIG`).
    Config = 78,
}

impl Exit {
    /// The numeric code.
    pub const fn code(self) -> u8 {
        self as u8
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}
