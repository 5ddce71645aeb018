//! The Unix socket server: creates (or inherits from systemd) the socket,
//! maps each peer's credentials to a role, and turns requests into engine
//! commands.
//!
//! Every byte from a peer is hostile. The peer credentials decide the role
//! at accept, before a single byte is read; connections are capped by
//! [`Slots`]; each connection has an error budget, an idle timeout and a
//! partial-frame timeout. This file owns the accept loop ([`run`]: role,
//! slot, one task per connection, shutdown) and the [`State`] the
//! connections share. One job per file:
//!
//! - `listen.rs`: binding the socket path safely, socket activation, removing
//!   the socket; [`ServerError`].
//! - `peer.rs`: the trust boundary peer → role (`SO_PEERCRED`,
//!   `SO_PEERGROUPS`, the `[access]` decision).
//! - `slots.rs`: the connection slots (shared pool, admin reserve, cap per
//!   hooks uid).
//! - `connection.rs`: one connection (framing, error budget, timeouts, Hello,
//!   requests → engine commands, watch streaming).
//! - `log_limit.rs`: the rate limit on log lines a peer can trigger.
//! - `change_log.rs`: the record of who changed what (play, off,
//!   brightness), rate-limited per uid.
//! - `testing.rs` (tests only): a real server on a temporary socket.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tinsel_proto::{ErrorCode, ErrorReply, MAX_WIRE_LEN, Response, Status, encode_into};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, watch};

use crate::config::Access;
use crate::engine::{self, EngineHandle, Published};

mod change_log;
mod connection;
// The socket systemd passes (fd 3) and the bind with a chosen umask.
#[allow(unsafe_code)]
mod listen;
mod log_limit;
// SO_PEERGROUPS, which neither nix nor std reads.
#[allow(unsafe_code)]
mod peer;
mod slots;
#[cfg(test)]
mod testing;

pub use change_log::{CHANGE_BURST, CHANGE_WINDOW, Change, ChangeLog, log_startup};
pub use connection::{
    ERROR_BUDGET, HELLO_TIMEOUT, IDLE_TIMEOUT, PARTIAL_TIMEOUT, PUSH_TIMEOUT, SUBSCRIBER_SNDBUF,
    WRITE_TIMEOUT,
};
pub use listen::{Listener, ServerError, bind, from_systemd, remove_socket};
pub use log_limit::LogLimiter;
pub use peer::{peer_groups, role_of};
pub use slots::{
    ADMIN_RESERVED_CONNECTIONS, Full, HOOKS_CONNECTIONS_PER_UID, MAX_CONNECTIONS,
    SHARED_CONNECTIONS, Slot, Slots,
};

use log_limit::peer_warn;

/// What the connection tasks share.
#[derive(Debug)]
pub struct State {
    engine: engine::Sender,
    published: Arc<Mutex<Published>>,
    /// The frame loop's changes, for subscribers.
    states: broadcast::Sender<Status>,
    access: Mutex<Arc<Access>>,
    led_count: u16,
    white: bool,
    fps: AtomicU16,
    log: LogLimiter,
    changes: ChangeLog,
}

impl State {
    /// Shared state over the running engine's queue, published pixels and
    /// changes; `None` once the engine is stopped.
    pub fn new(engine: &EngineHandle, access: Access) -> Option<State> {
        Some(State {
            engine: engine.sender()?,
            published: engine.published(),
            states: engine.states(),
            access: Mutex::new(Arc::new(access)),
            led_count: engine.led_count,
            white: engine.white,
            fps: AtomicU16::new(engine.fps),
            log: LogLimiter::default(),
            changes: ChangeLog::default(),
        })
    }

    /// Replaces the access lists and frame rate (SIGHUP).
    pub fn reconfigure(&self, access: Access, fps: u16) {
        if let Ok(mut a) = self.access.lock() {
            *a = Arc::new(access);
        }
        self.fps.store(fps, Ordering::Relaxed);
    }

    fn access(&self) -> Option<Arc<Access>> {
        self.access.lock().ok().map(|a| Arc::clone(&a))
    }
}

/// Serves `listener` until `shutdown` turns true.
pub async fn run(listener: UnixListener, state: Arc<State>, mut shutdown: watch::Receiver<bool>) {
    let slots = Slots::default();
    // Summaries of suppressed change lines are written when their window
    // ends, even if the peer has gone quiet since.
    let mut flush = tokio::time::interval(Duration::from_secs(1));
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => {
                state.changes.flush_all();
                break;
            }
            _ = flush.tick() => {
                state.changes.flush();
                continue;
            }
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                peer_warn!(state, "accept failed: {e}");
                // Out of fds: give connections time to close.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // The role decides which slots the peer may take, so it is known
        // before any slot is: a peer with no role takes none.
        let (uid, role) = match peer::peer_role(&stream, &state) {
            Ok(peer) => peer,
            Err(refusal) => {
                if let Some(msg) = refusal {
                    refuse_now(&stream, ErrorCode::NotAllowed, &msg);
                }
                continue;
            }
        };
        let slot = match slots.acquire(role, uid) {
            Ok(slot) => slot,
            Err(full) => {
                let (why, reply) = match full {
                    Full::Pool => (
                        format!("every slot the {} role may use is taken", role.name()),
                        "too many connections to ledd: try again later".to_owned(),
                    ),
                    Full::Uid => (
                        format!("uid {uid} holds {HOOKS_CONNECTIONS_PER_UID} connections already"),
                        format!(
                            "uid {uid} already holds {HOOKS_CONNECTIONS_PER_UID} connections to ledd: close one and try again"
                        ),
                    ),
                };
                peer_warn!(state, uid, role = role.name(), "connection refused: {why}");
                refuse_now(&stream, ErrorCode::Busy, &reply);
                continue;
            }
        };
        let state = Arc::clone(&state);
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            connection::serve(stream, uid, role, &state, shutdown).await;
            drop(slot);
        });
    }
}

/// Best-effort error frame on a connection not worth a task: one
/// non-blocking write, then the stream is dropped.
fn refuse_now(stream: &UnixStream, code: ErrorCode, message: &str) {
    let mut buf = [0u8; MAX_WIRE_LEN];
    if let Ok(n) = encode_into(&Response::Error(ErrorReply::new(code, message)), &mut buf) {
        let _ = stream.try_write(&buf[..n]);
    }
}
