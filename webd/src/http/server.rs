//! The connection loop: accept under a connection cap, TLS handshake under
//! a timeout, then hyper-util's HTTP/1 + HTTP/2 server with a timer (for
//! the header read timeout that `axum::serve` lacks), an idle watchdog,
//! and graceful shutdown.
//!
//! Everything runs as tasks on the one runtime thread; nothing here starts
//! a thread.

use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::{Instant, sleep, sleep_until, timeout};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use super::limits::PeerAddr;
use super::{AppState, app};

/// hyper's HTTP/1 read buffer, which bounds the request head. Its minimum
/// is 8 KiB; webhooks need far less than 16.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// HTTP/2 header list bound, as for HTTP/1.
const MAX_H2_HEADER_LIST: u32 = 16 * 1024;
/// HTTP/2 streams per connection: a webhook sender needs one or two.
const MAX_H2_STREAMS: u32 = 8;
/// Pause after a failed `accept()` (out of file descriptors, say), so the
/// loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Serves `listeners` until `stop` turns true, then lets open connections
/// finish for the configured grace time.
pub async fn serve(listeners: Vec<TcpListener>, state: AppState, mut stop: watch::Receiver<bool>) {
    let max = state.live().config.limits.max_connections;
    let permits = Arc::new(Semaphore::new(max));
    let router = app(state.clone());
    let mut accepts = tokio::task::JoinSet::new();
    for listener in listeners {
        accepts.spawn(accept_loop(
            listener,
            state.clone(),
            router.clone(),
            permits.clone(),
            stop.clone(),
        ));
    }
    let _ = stop.wait_for(|s| *s).await;
    // Dropping the listeners stops new connections at once.
    accepts.abort_all();
    while accepts.join_next().await.is_some() {}
    let grace = state.live().config.limits.shutdown_grace;
    let open = max - permits.available_permits();
    if open > 0 {
        tracing::info!(
            "draining {open} connection(s) for up to {}s",
            grace.as_secs()
        );
    }
    // Every connection holds a permit: having them all back means all done.
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    if timeout(grace, permits.acquire_many(all)).await.is_err() {
        tracing::warn!(
            "{} connection(s) still open after the {}s grace; closing them",
            max - permits.available_permits(),
            grace.as_secs()
        );
    }
}

async fn accept_loop(
    listener: TcpListener,
    state: AppState,
    router: Router,
    permits: Arc<Semaphore>,
    stop: watch::Receiver<bool>,
) {
    loop {
        // Take a slot before accepting: at the cap, clients wait in the
        // kernel's backlog instead of holding memory here.
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                sleep(ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let state = state.clone();
        let router = router.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            connection(tcp, peer, state, router, stop).await;
            drop(permit);
        });
    }
}

async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    state: AppState,
    router: Router,
    mut stop: watch::Receiver<bool>,
) {
    let live = state.live();
    let limits = live.config.limits;
    let acceptor = TlsAcceptor::from(live.tls.clone());
    drop(live);
    let activity = Arc::new(Activity::new());
    let tracked = Tracked {
        inner: tcp,
        activity: activity.clone(),
    };
    let handshake = timeout(limits.handshake_timeout, acceptor.accept(tracked));
    let tls = tokio::select! {
        r = handshake => r,
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

    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(PeerAddr(peer));
        router.clone().oneshot(req.map(Body::new))
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEAD_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_H2_STREAMS)
        .max_header_list_size(MAX_H2_HEADER_LIST);
    let conn = builder.serve_connection(TokioIo::new(tls), service);
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
            () = activity.idle(limits.idle_timeout) => {
                tracing::debug!("closing idle connection from {peer}");
                return;
            }
        }
    }
}

/// When a connection last moved a byte, in milliseconds since it opened.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Completes once nothing has moved for `limit`.
    async fn idle(&self, limit: Duration) {
        loop {
            let last = self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let deadline = last + limit;
            if Instant::now() >= deadline {
                return;
            }
            sleep_until(deadline).await;
        }
    }
}

/// A stream that records activity on every successful read or write.
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
