//! ledd's exit codes: one named value per way a run can end, from
//! `sysexits.h`, so that systemd units and scripts can tell a bad config
//! from missing hardware.

use std::process::ExitCode;

/// How ledd ended, as a process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Ran and stopped cleanly (SIGTERM, SIGINT, `--check-config` passed).
    Ok = 0,
    /// The command line was wrong (`EX_USAGE`).
    Usage = 64,
    /// The LED hardware or backend is not available (`EX_UNAVAILABLE`).
    Unavailable = 69,
    /// A bug or an unexpected failure inside ledd (`EX_SOFTWARE`).
    Internal = 70,
    /// The sandbox could not be set up (`EX_OSERR`).
    Sandbox = 71,
    /// Not allowed: not root where root is needed, a socket path we may not
    /// use (`EX_NOPERM`).
    Permission = 77,
    /// The configuration file is missing, unreadable or invalid
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_sysexits() {
        assert_eq!(Exit::Usage.code(), 64);
        assert_eq!(Exit::Unavailable.code(), 69);
        assert_eq!(Exit::Internal.code(), 70);
        assert_eq!(Exit::Sandbox.code(), 71);
        assert_eq!(Exit::Permission.code(), 77);
        assert_eq!(Exit::Config.code(), 78);
    }
}
