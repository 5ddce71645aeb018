//! The signals both daemons answer, on their tokio runtime: SIGTERM and
//! SIGINT stop, SIGHUP reloads the config. What "stop" and "reload" do is
//! each daemon's own; this module only turns the three into one stream.
//!
//! The handlers are tokio's, read by the daemon's own runtime: they need
//! no thread of their own. Both daemons install them once the runtime runs,
//! after their sandbox is in place, so the allowlists must keep what
//! tokio's signal driver uses (`rt_sigaction`, and the `socketpair` of
//! `tinsel_sandbox::syscalls::unix_socketpair`).

use std::io;

use tokio::signal::unix::{SignalKind, signal};

/// A signal a daemon acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM: stop (systemd's `stop`).
    Terminate,
    /// SIGINT: stop (Ctrl-C in a terminal).
    Interrupt,
    /// SIGHUP: re-read the config (systemd's `reload`).
    Hangup,
}

impl Signal {
    /// The signal's name, for logs: `SIGTERM`, `SIGINT`, `SIGHUP`.
    pub const fn name(self) -> &'static str {
        match self {
            Signal::Terminate => "SIGTERM",
            Signal::Interrupt => "SIGINT",
            Signal::Hangup => "SIGHUP",
        }
    }
}

/// The daemon's handlers for SIGTERM, SIGINT and SIGHUP.
#[derive(Debug)]
pub struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the three handlers. Must be called inside a tokio runtime
    /// with I/O enabled. From here on these signals no longer kill the
    /// process: each waits for [`Signals::recv`].
    pub fn install() -> io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// Waits for the next of the three signals. A handler whose runtime is
    /// shutting down counts as that signal having arrived.
    pub async fn recv(&mut self) -> Signal {
        tokio::select! {
            _ = self.term.recv() => Signal::Terminate,
            _ = self.int.recv() => Signal::Interrupt,
            _ = self.hup.recv() => Signal::Hangup,
        }
    }
}

// The test raises real signals at itself (libc::raise).
#[cfg(test)]
#[allow(unsafe_code)]
mod tests {
    use super::*;

    #[test]
    fn each_signal_is_delivered_as_itself() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut signals = Signals::install().unwrap();
            for (raw, want) in [
                (libc::SIGHUP, Signal::Hangup),
                (libc::SIGINT, Signal::Interrupt),
                (libc::SIGTERM, Signal::Terminate),
            ] {
                // SAFETY: raise() only sends a signal to this thread; the
                // handler tokio installed above catches it.
                assert_eq!(unsafe { libc::raise(raw) }, 0);
                assert_eq!(signals.recv().await, want, "{}", want.name());
            }
        });
    }
}
