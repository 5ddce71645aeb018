//! The connection loop: accept, admit (see [`admission`](super::admission)),
//! TLS handshake under a deadline, then hyper's HTTP/1.1 server with a
//! timer (for the header read timeout that `axum::serve` lacks), a
//! watchdog that closes connections which stop completing requests, and
//! graceful shutdown.
//!
//! Everything runs as tasks on the one runtime thread; nothing here starts
//! a thread.

use std::net::{IpAddr, SocketAddr};
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::time::{Instant, sleep, sleep_until, timeout, timeout_at};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use super::admission::{Admission, Allowance, ConnId, Refused};
use super::client::PeerAddr;
use super::{AppState, app};
use crate::config::{Config, Limits};
use tinsel_daemon::log;

/// hyper's HTTP/1 read buffer, which bounds the request head. Its minimum
/// is 8 KiB; webhooks need far less than 16.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Pause after a failed `accept()` (out of file descriptors, say), so the
/// loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Evicted connections whose sockets may still be open, per connection
/// slot: with this, webd never holds more than twice `max_connections`
/// sockets (see [`fd_budget`]).
const CLOSING_PER_SLOT: usize = 1;

/// File descriptors webd needs besides its connections: stdio, listeners,
/// the ledd socket, the runtime's epoll and eventfd, and files read on
/// SIGHUP.
const FD_RESERVE: u64 = 64;

/// File descriptors webd may need with `max_connections` connection slots.
pub fn fd_budget(max_connections: usize) -> u64 {
    (max_connections * (1 + CLOSING_PER_SLOT)) as u64 + FD_RESERVE
}

/// The admission table and what waits on it, shared by the accept loops
/// and every connection.
struct Gate {
    table: Mutex<Admission<oneshot::Sender<()>>>,
    /// Sockets held, for the accept loops' ceiling and the shutdown drain.
    held: watch::Sender<usize>,
    /// Refusals are logged, but never faster than this allows.
    log: Mutex<log::Gate>,
}

impl Gate {
    fn new(max_connections: usize) -> Arc<Gate> {
        Arc::new(Gate {
            table: Mutex::new(Admission::new(
                max_connections,
                max_connections * CLOSING_PER_SLOT,
            )),
            held: watch::Sender::new(0),
            log: Mutex::new(log::Gate::peer()),
        })
    }

    /// The table. Never held across an `.await`.
    fn table(&self) -> MutexGuard<'_, Admission<oneshot::Sender<()>>> {
        // A poisoned lock only means a panic elsewhere mid-update; the
        // counts inside are still the best there is.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, f: impl FnOnce(&mut Admission<oneshot::Sender<()>>)) {
        let mut t = self.table();
        f(&mut t);
        self.held.send_replace(t.held());
    }

    /// Admits a connection from `peer`, telling a displaced one to close.
    fn admit(
        self: &Arc<Gate>,
        peer: IpAddr,
        config: &Config,
    ) -> Result<(Slot, oneshot::Receiver<()>), Refused> {
        let (tx, rx) = oneshot::channel();
        let mut t = self.table();
        let admitted = t.admit(peer, allowance(peer, config), std::time::Instant::now(), tx)?;
        self.held.send_replace(t.held());
        drop(t);
        // Dropping the sender is the signal: the victim's task wakes,
        // closes its socket and releases its entry.
        drop(admitted.evicted);
        Ok((
            Slot {
                gate: self.clone(),
                id: admitted.id,
            },
            rx,
        ))
    }

    fn log_refusal(&self, peer: IpAddr, why: Refused, limits: &Limits) {
        let Some(suppressed) = self
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .allow(std::time::Instant::now())
        else {
            return;
        };
        let reason = match why {
            Refused::Connections { limit } => format!(
                "it already holds {limit} connections (limits.max_connections_per_client, or limits.proxy_max_connections for a trusted proxy)"
            ),
            Refused::Handshakes { limit } => format!(
                "it already has {limit} TLS handshakes in progress (limits.max_handshakes_per_client)"
            ),
            Refused::Full => format!(
                "all {} connection slots are busy with requests (limits.max_connections)",
                limits.max_connections
            ),
        };
        tracing::warn!(
            "refused a connection from {peer}: {reason}; raise the limit if this client is legitimate suppressed={suppressed}"
        );
    }
}

/// The allowance of a client at `peer`: a trusted proxy's is larger, since
/// all its users arrive from its one address.
fn allowance(peer: IpAddr, config: &Config) -> Allowance {
    let l = &config.limits;
    if config.trusted_proxies.iter().any(|n| n.contains(peer)) {
        Allowance {
            connections: l.proxy_max_connections,
            handshakes: l.proxy_max_connections,
        }
    } else {
        Allowance {
            connections: l.max_connections_per_client,
            handshakes: l.max_handshakes_per_client,
        }
    }
}

/// A connection's entry in the table, released when dropped (when the
/// connection's task ends and its socket is closed).
struct Slot {
    gate: Arc<Gate>,
    id: ConnId,
}

impl Slot {
    fn heard(&self) {
        self.gate.update(|t| t.heard(self.id));
    }

    fn handshake_done(&self) {
        self.gate
            .update(|t| t.handshake_done(self.id, std::time::Instant::now()));
    }

    /// Completes when the connection has gone too long without completing
    /// a request: bytes of a request head that never ends do not count.
    async fn unproductive(&self, limits: &Limits) {
        loop {
            let now = std::time::Instant::now();
            let Some(deadline) = self.gate.table().deadline(
                self.id,
                now,
                limits.first_request_timeout,
                limits.idle_timeout,
            ) else {
                return;
            };
            if deadline <= now {
                return;
            }
            sleep_until(Instant::from_std(deadline)).await;
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.gate.update(|t| t.release(self.id));
    }
}

/// Marks a request in flight on a connection for as long as it lives.
struct InFlight {
    gate: Arc<Gate>,
    id: ConnId,
}

impl InFlight {
    fn start(gate: &Arc<Gate>, id: ConnId) -> InFlight {
        gate.table().request_started(id);
        InFlight {
            gate: gate.clone(),
            id,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.gate
            .table()
            .request_finished(self.id, std::time::Instant::now());
    }
}

/// Serves `listeners` until `stop` turns true, then lets open connections
/// finish for the configured grace time.
pub async fn serve(listeners: Vec<TcpListener>, state: AppState, mut stop: watch::Receiver<bool>) {
    let max = state.live().config.limits.max_connections;
    let gate = Gate::new(max);
    let router = app(state.clone());
    let mut accepts = tokio::task::JoinSet::new();
    for listener in listeners {
        accepts.spawn(accept_loop(
            listener,
            state.clone(),
            router.clone(),
            gate.clone(),
            stop.clone(),
        ));
    }
    let _ = stop.wait_for(|s| *s).await;
    // Dropping the listeners stops new connections at once.
    accepts.abort_all();
    while accepts.join_next().await.is_some() {}
    let grace = state.live().config.limits.shutdown_grace;
    let mut held = gate.held.subscribe();
    let open = *held.borrow();
    if open > 0 {
        tracing::info!(
            "draining {open} connection(s) for up to {}s",
            grace.as_secs()
        );
    }
    if timeout(grace, held.wait_for(|n| *n == 0)).await.is_err() {
        tracing::warn!(
            "{} connection(s) still open after the {}s grace; closing them",
            *held.borrow(),
            grace.as_secs()
        );
    }
}

async fn accept_loop(
    listener: TcpListener,
    state: AppState,
    router: Router,
    gate: Arc<Gate>,
    stop: watch::Receiver<bool>,
) {
    let ceiling = gate.table().ceiling();
    let mut held = gate.held.subscribe();
    loop {
        // The hard ceiling on sockets: at it (evicted connections not yet
        // closed on top of full slots), newcomers wait in the kernel's
        // backlog for a moment.
        if held.wait_for(|n| *n < ceiling).await.is_err() {
            return;
        }
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(
                    "accept failed: {e}; if it says too many open files, raise LimitNOFILE= or lower limits.max_connections"
                );
                sleep(ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };
        let live = state.live();
        let ip = crate::domain::net::canonical(peer.ip());
        let (slot, evicted) = match gate.admit(ip, &live.config) {
            Ok(admitted) => admitted,
            Err(why) => {
                gate.log_refusal(ip, why, &live.config.limits);
                // Closed at once: the client is over its own allowance.
                drop(tcp);
                continue;
            }
        };
        drop(live);
        if bytes_waiting(&tcp) {
            // Accepted late (a backlog under load): its ClientHello is
            // here already, so it is not silent, whenever its task runs.
            slot.heard();
        }
        let _ = tcp.set_nodelay(true);
        tokio::spawn(connection(
            tcp,
            peer,
            slot,
            evicted,
            state.clone(),
            router.clone(),
            stop.clone(),
        ));
        // Let the newcomer's task see its first bytes before the next
        // accept can rank it among the silent.
        tokio::task::yield_now().await;
    }
}

/// Whether the peer has sent anything yet, without waiting or consuming it
/// (the socket is non-blocking: no data is `EAGAIN`).
fn bytes_waiting(tcp: &TcpStream) -> bool {
    use rustix::net::{RecvFlags, recv};
    let mut byte = [0u8; 1];
    matches!(
        recv(tcp, &mut byte, RecvFlags::PEEK | RecvFlags::DONTWAIT),
        Ok((1.., _))
    )
}

async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    slot: Slot,
    mut evicted: oneshot::Receiver<()>,
    state: AppState,
    router: Router,
    mut stop: watch::Receiver<bool>,
) {
    let live = state.live();
    let limits = live.config.limits;
    let acceptor = TlsAcceptor::from(live.tls.clone());
    drop(live);
    let handshake = timeout_at(Instant::now() + limits.handshake_timeout, async {
        // Until its first byte, the connection is first in line to give
        // its slot to a newcomer. Readiness alone is not a byte (it may be
        // a false positive, or the peer's FIN): peek for one.
        if tcp.peek(&mut [0u8; 1]).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        slot.heard();
        acceptor.accept(tcp).await
    });
    let tls = tokio::select! {
        r = handshake => r,
        _ = &mut evicted => {
            tracing::debug!("closing {peer} while handshaking: its slot went to a newcomer");
            return;
        }
        _ = stop.wait_for(|s| *s) => return,
    };
    let tls = match tls {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!("TLS handshake with {peer} failed: {e}");
            return;
        }
        Err(_) => {
            tracing::debug!("TLS handshake with {peer} timed out");
            return;
        }
    };
    slot.handshake_done();
    // A verified client certificate: its name goes with every request on
    // this connection, as an extension and into the request's log lines.
    let client_cert = crate::tls::client_identity(tls.get_ref().1);
    let span = match &client_cert {
        Some(c) => tracing::info_span!("tls", client_cn = %c.0),
        None => tracing::Span::none(),
    };

    let gate = slot.gate.clone();
    let id = slot.id;
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(PeerAddr(peer));
        if let Some(c) = &client_cert {
            req.extensions_mut().insert(c.clone());
        }
        let busy = InFlight::start(&gate, id);
        let answer = tracing::Instrument::instrument(
            router.clone().oneshot(req.map(Body::new)),
            span.clone(),
        );
        async move {
            let r = answer.await;
            drop(busy);
            r
        }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .serve_connection(TokioIo::new(tls), service);
    let mut conn = pin!(conn);
    let mut draining = false;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!("connection from {peer} ended: {e}");
                }
                return;
            }
            _ = stop.wait_for(|s| *s), if !draining => {
                conn.as_mut().graceful_shutdown();
                draining = true;
            }
            _ = &mut evicted => {
                tracing::debug!("closing idle connection from {peer}: its slot went to a newcomer");
                return;
            }
            () = slot.unproductive(&limits) => {
                tracing::debug!("closing connection from {peer}: no request completed in time");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn bytes_waiting_peeks_without_consuming() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        assert!(!bytes_waiting(&server), "nothing sent yet");
        client.write_all(b"\x16hello").await.unwrap();
        server.readable().await.unwrap();
        assert!(bytes_waiting(&server));
        assert!(bytes_waiting(&server), "peeking twice sees it still");
        let mut got = [0u8; 6];
        server.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"\x16hello");
        assert!(!bytes_waiting(&server), "all read");
    }
}
