//! The daemons' log set-up: `tracing` events as plain lines on stderr,
//! which systemd hands to the journal (it adds its own unit name and
//! time stamp; colours only when stderr is a terminal, so the journal
//! never stores escape codes).

use std::io::IsTerminal as _;

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
