//! The daemon's life, in two halves with the sandbox between them.
//!
//! [`prepare`] runs while the process has one thread: it reads the config,
//! the certificate and the key, refuses root without `user`/`group`, and
//! obtains the listening sockets (from systemd socket activation, or by
//! binding `listen`). [`run`] then builds a current-thread tokio runtime, so
//! webd stays one thread for its whole life, connects to ledd lazily, and
//! serves until SIGTERM or SIGINT. SIGHUP re-reads the config file and the
//! PEM files named in it (certificate, key, client CA).
//!
//! The certificate's expiry is checked at start, on every reload and once a
//! day: within [`tls::EXPIRY_WARNING_DAYS`] of it, webd logs a warning that
//! names the file, the date and the fix. An expired certificate is logged
//! as an error but still served: refusing to start would turn a late
//! renewal into an outage, and `certbot renew` plus SIGHUP fixes it live.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tinsel_client::{Handle, Link, Peer, Timing};
use tinsel_daemon::signals::{Signal, Signals};
use tokio::sync::watch;

use crate::config::{Config, ConfigError};
use crate::http::{AppState, Live, server};
use crate::tls::{self, Expiry, Resumption, TlsError};
use tinsel_daemon::exit::Exit;

/// webd, as ledd's refusals name it: run as `tinsel-web` by the package.
pub const LEDD_PEER: Peer = Peer::daemon("webd", "tinsel-web");

/// The one connection to ledd that every HTTP connection's task shares,
/// each request answered within `request_timeout` (`limits.ledd_timeout_ms`).
/// It subscribes to ledd's states, so `GET /state` answers from the newest
/// one instead of asking ledd per request.
pub fn ledd_link(socket: PathBuf, request_timeout: Duration) -> Handle {
    let timing = Timing {
        request: request_timeout,
        ..Timing::default()
    };
    Handle::spawn_subscribing(Link::with_timing(socket, LEDD_PEER, timing))
}

/// How often a running webd looks at its certificate's expiry again.
pub const EXPIRY_CHECK_PERIOD: Duration = Duration::from_secs(24 * 60 * 60);

/// Why webd could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The config file is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The certificate or key is wrong.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The listen address could not be bound.
    #[error(
        "cannot listen on {addr}: {source}; pick a free port in `listen`, or use systemd socket activation for ports below 1024"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Socket activation passed something unusable.
    #[error(
        "socket activation: file descriptor {index} is not a listening TCP socket: {source}; check webd.socket's ListenStream="
    )]
    ListenFd {
        /// Its index among LISTEN_FDS.
        index: usize,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The config path cannot be made absolute.
    #[error("{}: {source}", path.display())]
    ConfigPath {
        /// The path given.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The page's devices directory cannot be made or given to webd's user.
    #[error(
        "[page] devices_dir {}: {source}; create it owned by webd's user, mode 0700 (systemd's StateDirectory=tinsel/webd does)",
        path.display()
    )]
    DevicesDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// Everything webd needs to serve, obtained before any thread exists: the
/// state the sandbox is applied to.
#[derive(Debug)]
pub struct Prepared {
    /// The validated config; `config.path` is absolute, for SIGHUP.
    pub config: Config,
    /// The TLS configuration built from the PEM files.
    pub tls: Arc<rustls::ServerConfig>,
    /// The session ticket key and cache, reused by reloads.
    pub resumption: Resumption,
    /// When the certificate expires (`None` if its date cannot be read).
    pub expiry: Option<Expiry>,
    /// The listening sockets, already non-blocking.
    pub listeners: Vec<TcpListener>,
    /// Whether the listeners came from systemd.
    pub socket_activated: bool,
}

/// Reads every file and obtains the listeners. Must run before any thread
/// starts: the sandbox, applied next, only covers threads created after it.
pub fn prepare(config_path: &Path) -> Result<Prepared, StartError> {
    let path = std::path::absolute(config_path).map_err(|source| StartError::ConfigPath {
        path: config_path.to_owned(),
        source,
    })?;
    let config = Config::load(&path)?;
    fd_limit(&config)?;
    // The identity rule (`tinsel_daemon::config::start_identity`), as
    // `--check-config` applies it: the sandbox drops to this user later.
    config.common.start_identity()?;
    let resumption = Resumption::new()?;
    let tls = tls::load(&config.tls, &config.client_auth, &resumption)?;
    let expiry = tls::expiry(&config.tls.cert).ok();
    let (listeners, socket_activated) = listeners(&config)?;
    devices_dir(&config)?;
    Ok(Prepared {
        config,
        tls,
        resumption,
        expiry,
        listeners,
        socket_activated,
    })
}

/// With the page on, makes sure its devices directory exists (mode 0700),
/// owned by the user webd drops to when started as root: Landlock can
/// only name a path that exists, and the sandbox makes it webd's one
/// writable place. systemd's `StateDirectory=` has made it already.
fn devices_dir(config: &Config) -> Result<(), StartError> {
    use std::os::unix::fs::DirBuilderExt as _;
    if !config.page.enabled {
        return Ok(());
    }
    let dir = &config.page.devices_dir;
    let err = |source| StartError::DevicesDir {
        path: dir.clone(),
        source,
    };
    if !dir.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(err)?;
        if let Some(who) = config.common.identity()?
            && rustix::process::geteuid().is_root()
        {
            std::os::unix::fs::chown(dir, Some(who.uid), Some(who.gid)).map_err(err)?;
        }
    }
    Ok(())
}

/// Makes room for the sockets `limits.max_connections` implies: raises the
/// soft `RLIMIT_NOFILE` up to what is needed (the sandbox forbids it
/// later), or refuses to start when the hard limit is too low, so webd
/// never meets EMFILE with its slots not yet full.
fn fd_limit(config: &Config) -> Result<(), StartError> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let need = server::fd_budget(config.limits.max_connections);
    let now = getrlimit(Resource::Nofile);
    if now.current.is_none_or(|soft| soft >= need) {
        return Ok(());
    }
    let refuse = |why: String| {
        StartError::Config(ConfigError::Invalid {
            path: config.path.clone(),
            key: "limits.max_connections".to_owned(),
            message: format!(
                "{} connections need up to {need} file descriptors, but {why}; lower it, or raise LimitNOFILE= in webd.service",
                config.limits.max_connections
            ),
        })
    };
    if let Some(hard) = now.maximum.filter(|hard| *hard < need) {
        return Err(refuse(format!("the hard limit (RLIMIT_NOFILE) is {hard}")));
    }
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(need),
            maximum: now.maximum,
        },
    )
    .map_err(|e| refuse(format!("raising the soft RLIMIT_NOFILE failed: {e}")))
}

/// The sockets systemd passed (`LISTEN_FDS`), or one bound to `listen`.
/// systemd's sockets arrive blocking; tokio needs them non-blocking.
fn listeners(config: &Config) -> Result<(Vec<TcpListener>, bool), StartError> {
    let mut fds = listenfd::ListenFd::from_env();
    if fds.len() > 0 {
        let mut out = Vec::with_capacity(fds.len());
        for index in 0..fds.len() {
            let listener = fds
                .take_tcp_listener(index)
                .and_then(|l| l.ok_or_else(|| io::Error::other("already taken")))
                .and_then(|l| l.set_nonblocking(true).map(|()| l))
                .map_err(|source| StartError::ListenFd { index, source })?;
            out.push(listener);
        }
        return Ok((out, true));
    }
    let bind_err = |source| StartError::Bind {
        addr: config.listen,
        source,
    };
    let listener = TcpListener::bind(config.listen).map_err(bind_err)?;
    listener.set_nonblocking(true).map_err(bind_err)?;
    Ok((vec![listener], false))
}

/// Builds the runtime and serves until SIGTERM/SIGINT. The runtime is
/// current-thread: webd never has a second thread.
pub fn run(prepared: Prepared) -> Exit {
    tinsel_daemon::exit::run_current_thread(serve(prepared))
}

async fn serve(p: Prepared) -> Exit {
    let mut listeners = Vec::with_capacity(p.listeners.len());
    for l in p.listeners {
        match tokio::net::TcpListener::from_std(l) {
            Ok(l) => listeners.push(l),
            Err(e) => {
                tracing::error!("cannot register the listening socket: {e}");
                return Exit::Internal;
            }
        }
    }
    let mut signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot install signal handlers: {e}");
            return Exit::Internal;
        }
    };
    let addrs: Vec<String> = listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .map(|a| a.to_string())
        .collect();
    let ledd = ledd_link(
        p.config.common.ledd_socket.clone(),
        p.config.limits.ledd_timeout,
    );
    tracing::info!(
        "webd ready: https on {} ({}), ledd at {}, {} token(s), {} hook(s), client certificates {}",
        addrs.join(", "),
        if p.socket_activated {
            "socket-activated"
        } else {
            "bound"
        },
        p.config.common.ledd_socket.display(),
        p.config.tokens.len(),
        p.config.hooks.len(),
        p.config.client_auth.mode(),
    );
    let mut expiry = p.expiry;
    let mut cert = p.config.tls.cert.clone();
    check_expiry(&cert, expiry.as_ref());
    let state = AppState::new(
        Live {
            config: p.config,
            tls: p.tls,
        },
        ledd,
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let server = tokio::spawn(server::serve(listeners, state.clone(), stop_rx));
    // SIGHUP reloads; SIGTERM and SIGINT end the loop. Once a day, the
    // certificate's expiry is looked at again.
    let mut daily = tokio::time::interval_at(
        tokio::time::Instant::now() + EXPIRY_CHECK_PERIOD,
        EXPIRY_CHECK_PERIOD,
    );
    loop {
        tokio::select! {
            signal = signals.recv() => {
                if signal != Signal::Hangup {
                    break;
                }
                if let Some(new) = reload(&state, &p.resumption) {
                    (cert, expiry) = new;
                    check_expiry(&cert, expiry.as_ref());
                }
            }
            _ = daily.tick() => check_expiry(&cert, expiry.as_ref()),
        }
    }
    tracing::info!("stopping: no new connections, finishing open ones");
    let _ = stop_tx.send(true);
    let _ = server.await;
    tracing::info!("stopped");
    Exit::Ok
}

/// Logs the expiry warning for the certificate in `cert`, if it is due: an
/// error once expired, a warning within [`tls::EXPIRY_WARNING_DAYS`].
pub fn check_expiry(cert: &Path, expiry: Option<&Expiry>) {
    let now = SystemTime::now();
    let Some(e) = expiry else {
        tracing::warn!(
            "{}: cannot read the certificate's expiry date, so webd cannot warn before it runs out; check it with `openssl x509 -enddate -noout -in {}`",
            cert.display(),
            cert.display()
        );
        return;
    };
    match e.warning(cert, now) {
        Some(w) if e.expired(now) => tracing::error!("{w}"),
        Some(w) => tracing::warn!("{w}"),
        None => tracing::debug!("{}: {}", cert.display(), e.describe(now)),
    }
}

/// SIGHUP: re-reads the config and the PEM files it names. Anything wrong
/// keeps the running state and says why. Connections keep the TLS session
/// they have; new ones get the new certificate and client CA. Returns the
/// new certificate's path and expiry when the reload took.
pub fn reload(state: &AppState, resumption: &Resumption) -> Option<(PathBuf, Option<Expiry>)> {
    let old = state.live();
    let path = &old.config.path;
    let mut config = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("reload failed, keeping the running config and certificate: {e}");
            return None;
        }
    };
    let tls = match tls::load(&config.tls, &config.client_auth, resumption) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!("reload failed, keeping the running config and certificate: {e}");
            return None;
        }
    };
    let restart = old.config.restart_only_changes(&config);
    // The devices directory is in the sandbox's write set, fixed at start.
    config.page.enabled = old.config.page.enabled;
    config.page.devices_dir = old.config.page.devices_dir.clone();
    if !restart.is_empty() {
        tracing::warn!(
            "{}: changes to {} take effect only after a restart",
            path.display(),
            restart.join(", ")
        );
    }
    tracing::info!(
        "reloaded {} and {}: {} token(s), {} hook(s), client certificates {}",
        path.display(),
        config.tls.cert.display(),
        config.tokens.len(),
        config.hooks.len(),
        config.client_auth.mode()
    );
    let cert = config.tls.cert.clone();
    let expiry = tls::expiry(&cert).ok();
    state.replace(Live { config, tls });
    Some((cert, expiry))
}
