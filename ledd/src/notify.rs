//! A minimal `sd_notify`: `READY=1`, `STOPPING=1`, `RELOADING=1` and the
//! watchdog ping, sent as one datagram to `$NOTIFY_SOCKET`. Without systemd
//! (no `NOTIFY_SOCKET`) there is no [`Notifier`] and nothing is sent.
//!
//! Hand-written because it is a dozen lines: a path or an abstract
//! (`@name`) Unix datagram address, and one `sendto`.
//!
//! One socket for the whole life of the process: ledd creates its
//! [`Notifier`] **before** hardening (afterwards `socket()` is killed by the
//! seccomp filter) and shares it, behind an `Arc`, between the server
//! (`READY=1`, `RELOADING=1`, `STOPPING=1`) and the frame loop's
//! [`Watchdog`] (`WATCHDOG=1`). `sendto` on a socket that exists stays
//! allowed.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::Arc;
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

/// A connection to systemd's notify socket: one unbound datagram socket
/// and the address to send to. `sendto` on a datagram socket is atomic per
/// message, so the server and the frame loop may share one through an
/// `Arc` without a lock.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    addr: SocketAddr,
}

impl Notifier {
    /// The notifier for `$NOTIFY_SOCKET`, or `None` when systemd did not set
    /// it. Creates the socket: call before hardening.
    pub fn from_env() -> Result<Option<Notifier>, NotifyError> {
        match std::env::var_os("NOTIFY_SOCKET") {
            Some(raw) => Notifier::to(&raw.to_string_lossy()).map(Some),
            None => Ok(None),
        }
    }

    /// A notifier for the address `text`: a path, or an abstract name
    /// written `@name`. Creates the socket.
    pub fn to(text: &str) -> Result<Notifier, NotifyError> {
        let err = |source| NotifyError::Socket {
            addr: text.to_owned(),
            source,
        };
        let addr = match text.strip_prefix('@') {
            Some(name) => SocketAddr::from_abstract_name(name.as_bytes()).map_err(err)?,
            None => SocketAddr::from_pathname(text).map_err(err)?,
        };
        let socket = UnixDatagram::unbound().map_err(err)?;
        Ok(Notifier { socket, addr })
    }

    /// Sends `state` (e.g. `"READY=1"`).
    pub fn notify(&self, state: &str) -> std::io::Result<()> {
        self.socket
            .send_to_addr(state.as_bytes(), &self.addr)
            .map(drop)
    }
}

/// Sends `state` on `notifier` if systemd is listening; failures are
/// logged, not fatal. Opens nothing: safe after hardening.
pub fn notify(notifier: Option<&Notifier>, state: &str) {
    if let Some(n) = notifier
        && let Err(e) = n.notify(state)
    {
        tracing::warn!("sd_notify {state}: {e}");
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
    notifier: Arc<Notifier>,
    /// Nanoseconds between pings.
    pub every_ns: u64,
    next_ns: u64,
}

impl Watchdog {
    /// A watchdog pinging on `notifier` (the process's one notify socket)
    /// when systemd asked for one (`WATCHDOG_USEC`), else `None`.
    pub fn from_env(notifier: Option<&Arc<Notifier>>) -> Option<Watchdog> {
        let interval = watchdog_interval()?;
        let notifier = Arc::clone(notifier?);
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
        let n = Arc::new(Notifier {
            socket: UnixDatagram::unbound().unwrap(),
            addr: SocketAddr::from_pathname(&path).unwrap(),
        });
        notify(Some(&n), "READY=1");
        let mut buf = [0u8; 64];
        let len = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1");

        let mut wd = Watchdog {
            notifier: Arc::clone(&n),
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
        // The same socket serves both: one descriptor, shared.
        notify(Some(&n), "STOPPING=1");
        let len = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"STOPPING=1");
        notify(None, "READY=1"); // no systemd: nothing to do, no socket opened
    }

    #[test]
    fn an_abstract_address_is_reached_too() {
        let name = format!("tinsel-notify-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let server = UnixDatagram::bind_addr(&addr).unwrap();
        let n = Notifier::to(&format!("@{name}")).unwrap();
        n.notify("READY=1").unwrap();
        let mut buf = [0u8; 16];
        let len = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1");
    }
}
