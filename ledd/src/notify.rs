//! A minimal `sd_notify`: `READY=1`, `STOPPING=1`, `RELOADING=1` and the
//! watchdog ping, sent as one datagram to `$NOTIFY_SOCKET`. Without systemd
//! (no `NOTIFY_SOCKET`) every call is a no-op.
//!
//! Hand-written because it is a dozen lines: a path or an abstract
//! (`@name`) Unix datagram address, and one `sendto`.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// A notification that could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The socket could not be created or the address is bad.
    #[error("cannot reach the systemd notify socket {addr:?}: {source}")]
    Socket {
        /// `$NOTIFY_SOCKET`.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A connection to systemd's notify socket.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    addr: SocketAddr,
}

impl Notifier {
    /// The notifier for `$NOTIFY_SOCKET`, or `None` when systemd did not set
    /// it.
    pub fn from_env() -> Result<Option<Notifier>, NotifyError> {
        let Some(raw) = std::env::var_os("NOTIFY_SOCKET") else {
            return Ok(None);
        };
        let text = raw.to_string_lossy().into_owned();
        let err = |source| NotifyError::Socket {
            addr: text.clone(),
            source,
        };
        let addr = match text.strip_prefix('@') {
            Some(name) => SocketAddr::from_abstract_name(name.as_bytes()).map_err(err)?,
            None => SocketAddr::from_pathname(&text).map_err(err)?,
        };
        let socket = UnixDatagram::unbound().map_err(err)?;
        Ok(Some(Notifier { socket, addr }))
    }

    /// Sends `state` (e.g. `"READY=1"`).
    pub fn notify(&self, state: &str) -> std::io::Result<()> {
        self.socket
            .send_to_addr(state.as_bytes(), &self.addr)
            .map(drop)
    }
}

/// Sends `state` if systemd is listening; failures are logged, not fatal.
pub fn notify(state: &str) {
    match Notifier::from_env() {
        Ok(Some(n)) => {
            if let Err(e) = n.notify(state) {
                tracing::warn!("sd_notify {state}: {e}");
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!("{e}"),
    }
}

/// The watchdog interval systemd asked for (`WATCHDOG_USEC`, for this
/// process per `WATCHDOG_PID`), or `None`.
pub fn watchdog_interval() -> Option<Duration> {
    if let Some(pid) = std::env::var_os("WATCHDOG_PID")
        && pid.to_str()?.parse::<u32>().ok()? != std::process::id()
    {
        return None;
    }
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec))
}

/// The frame loop's watchdog: pings at half the interval systemd asked for.
#[derive(Debug)]
pub struct Watchdog {
    notifier: Notifier,
    /// Nanoseconds between pings.
    pub every_ns: u64,
    next_ns: u64,
}

impl Watchdog {
    /// A watchdog when both `NOTIFY_SOCKET` and `WATCHDOG_USEC` are set.
    pub fn from_env() -> Option<Watchdog> {
        let interval = watchdog_interval()?;
        let notifier = Notifier::from_env().ok()??;
        Some(Watchdog {
            notifier,
            every_ns: (interval.as_nanos() / 2).min(u128::from(u64::MAX)) as u64,
            next_ns: 0,
        })
    }

    /// Pings systemd if a ping is due at `now_ns`. One `sendto` every few
    /// seconds, not per frame.
    pub fn tick(&mut self, now_ns: u64) {
        if now_ns >= self.next_ns {
            // A lost ping is retried next interval; the loop must not stop for it.
            let _ = self.notifier.notify("WATCHDOG=1");
            self.next_ns = now_ns.saturating_add(self.every_ns);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_one_datagram_to_a_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let server = UnixDatagram::bind(&path).unwrap();
        let n = Notifier {
            socket: UnixDatagram::unbound().unwrap(),
            addr: SocketAddr::from_pathname(&path).unwrap(),
        };
        n.notify("READY=1").unwrap();
        let mut buf = [0u8; 64];
        let len = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1");

        let mut wd = Watchdog {
            notifier: n,
            every_ns: 1000,
            next_ns: 0,
        };
        wd.tick(5);
        wd.tick(6); // not due yet
        wd.tick(1005);
        server.set_nonblocking(true).unwrap();
        let mut pings = 0;
        while let Ok(len) = server.recv(&mut buf) {
            assert_eq!(&buf[..len], b"WATCHDOG=1");
            pings += 1;
        }
        assert_eq!(pings, 2);
    }
}
