//! ledd's command line and lifecycle: parse the flags, load the config,
//! start the frame loop (which opens the strip), harden, serve the socket,
//! and on SIGTERM/SIGINT stop and blank; on SIGHUP reload.
//!
//! The order matters, and each step says why it sits where it does:
//!
//! 1. config (names from /etc/passwd and /etc/group, before any filter);
//! 2. the sd_notify socket (`socket()` is killed once hardened; one socket
//!    serves every notification, the watchdog's included);
//! 3. the frame loop thread: opens the strip (the hardware backends need
//!    root and /dev/mem), asks for SCHED_FIFO and mlockall, then drops its
//!    own capabilities (they are per thread: nothing else can);
//! 4. the listening socket (`socket`/`bind` are killed once hardened);
//! 5. [`crate::harden::harden`]: capabilities, every thread checked,
//!    no_new_privs, seccomp on every thread (TSYNC);
//! 6. the tokio runtime and the server: every thread they create inherits
//!    the filter and has no capabilities.
//!
//! Nothing is served before step 5. After it ledd cannot `unlink`, so the
//! socket it created stays at exit (dead: connecting is refused) and the
//! next start replaces it.

use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tinsel_daemon::log::{self, Targets};
use tinsel_daemon::signals::{Signal, Signals};
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::config::{self, Config, Startup};
use crate::engine::{Command, EngineError, EngineHandle, LiveSettings};
use crate::harden::{self, HardenOptions, SeccompMode};
use crate::notify::{self, Notifier, Watchdog};
use crate::server::{self, Change, Listener, State};
use crate::strip::StripError;
use tinsel_daemon::exit::Exit;

mod args;

pub use args::Args;
use args::Parsed;

/// Parses `args` and runs ledd.
pub fn main(args: impl IntoIterator<Item = OsString>) -> Exit {
    let args = match args::parse(args) {
        Ok(Parsed::Run(a)) => a,
        Ok(Parsed::Print(text)) => {
            print!("{text}");
            return Exit::Ok;
        }
        Err(e) => {
            eprintln!("{e}");
            return Exit::Usage;
        }
    };
    log::init(args.verbose, Targets::Hidden);
    run(&args)
}

/// Runs ledd with parsed arguments.
pub fn run(args: &Args) -> Exit {
    if args.example_config {
        print!("{}", config::EXAMPLE);
        return Exit::Ok;
    }
    let overrides = args.overrides();
    if let Some(path) = &args.check_config {
        return match Config::load(Some(path), &overrides) {
            Ok(c) => {
                println!(
                    "{}: ok ({} LEDs, {} backend, {} fps, socket {})",
                    path.display(),
                    c.strip.count,
                    c.strip.backend.name(),
                    c.strip.fps,
                    c.socket.display()
                );
                Exit::Ok
            }
            Err(e) => {
                eprintln!("ledd: {e}");
                Exit::Config
            }
        };
    }
    let config = match Config::load(args.config.as_deref(), &overrides) {
        Ok(c) => c,
        Err(e) => {
            error!("{e}");
            return Exit::Config;
        }
    };
    info!(
        leds = config.strip.count,
        backend = config.strip.backend.name(),
        fps = config.strip.fps,
        "starting"
    );

    // 1. The sd_notify socket, once: socket() is killed after hardening,
    //    so every notification (and the watchdog) reuses this one.
    let notifier = match Notifier::from_env() {
        Ok(n) => n.map(Arc::new),
        Err(e) => {
            warn!("{e}; systemd will not hear from ledd");
            None
        }
    };
    let opts = hardening_for(&config, args.seccomp_log);

    // 2. The frame loop, which opens the strip on its own thread, asks for
    //    real-time, then drops that thread's capabilities.
    let engine = match EngineHandle::start_dropping_caps(
        &config,
        Watchdog::from_env(notifier.as_ref()),
        opts.keep_caps,
    ) {
        Ok(e) => e,
        Err(EngineError::Strip(
            e @ (StripError::NotBuilt { .. } | StripError::Unavailable { .. }),
        )) => {
            error!("{e}");
            return Exit::Unavailable;
        }
        Err(e @ EngineError::Capabilities(_)) => {
            error!("{e}");
            return Exit::Sandbox;
        }
        Err(e) => {
            error!("{e}");
            return Exit::Internal;
        }
    };

    // 3. The socket: from systemd, or created safely. Before hardening:
    //    socket() and bind() are killed afterwards.
    let listener = match listen(&config) {
        Ok(Some(l)) => l,
        Ok(None) => {
            engine.stop();
            return Exit::Unavailable;
        }
        Err(e) => {
            error!("{e}");
            return if e.is_permission() {
                Exit::Permission
            } else if matches!(e, server::ServerError::NotASocket { .. }) {
                Exit::Config
            } else {
                Exit::Unavailable
            };
        }
    };
    let created = listener.created.clone();

    // 4. Harden: the strip is open, the sockets exist, nothing is served
    //    yet, and the only other thread (the frame loop) has dropped its
    //    capabilities. (SIGHUP reloads can still resolve names: they come
    //    from /etc/passwd and /etc/group, never through NSS.)
    match harden::harden(&opts) {
        Ok(report) => info!(
            "hardened; live layers: {}, no_new_privs, seccomp ({}); not live: Landlock (ledd has none: root without capabilities can still read root-readable files)",
            if report.unprivileged {
                "no capabilities held (not root)"
            } else {
                "capabilities dropped"
            },
            if report.seccomp == SeccompMode::Kill {
                "kill on violation"
            } else {
                "LOG ONLY, not a sandbox"
            }
        ),
        Err(e) => {
            error!("hardening failed: {e}");
            engine.stop();
            if let Some(path) = created {
                // Not hardened by seccomp yet: unlink still works.
                server::remove_socket(&path);
            }
            return Exit::Sandbox;
        }
    }

    // 5. Serve until a signal says stop. The runtime and its threads start
    //    now, inside the filter and without capabilities.
    let exit = serve(listener, &engine, notifier.as_deref(), config, args);

    // 6. Stop the loop (it writes a dark frame). The socket stays: hardened
    //    ledd may not unlink (a root process without capabilities could
    //    still delete root-owned files), and nobody answers on it now; the
    //    next start replaces it, systemd's RemoveOnStop=/RuntimeDirectory=
    //    remove it.
    engine.stop();
    if let Some(path) = created {
        info!(
            "leaving {} in place (hardened ledd cannot unlink; the next start replaces it)",
            path.display()
        );
    }
    notify::notify(notifier.as_deref(), "STOPPING=1");
    info!("stopped");
    exit
}

/// The hardening for this config's strip backend and the `--seccomp-log`
/// flag.
fn hardening_for(config: &Config, seccomp_log: bool) -> HardenOptions {
    harden::options_for(
        config.strip.backend,
        SeccompMode::from_log_flag(seccomp_log),
    )
}

/// Makes sure the directory for ledd's own socket exists. For an ordinary
/// user's default socket ([`config::default_socket`]) ledd creates the
/// `tinsel` directory, owner-only, and checks it is theirs
/// ([`config::check_user_socket_dir`]). Any other missing directory is an
/// error that says how to make it: root's default `/run/tinsel` comes with
/// the `.deb` (systemd's `ledd.socket`), and is otherwise never created
/// here, so that its owner and mode stay the administrator's choice.
fn socket_dir(socket: &Path) -> Result<(), String> {
    let Some(dir) = socket.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    let euid = nix::unistd::geteuid().as_raw();
    if euid != 0 && socket == config::default_socket() {
        use std::os::unix::fs::DirBuilderExt;
        match std::fs::DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => info!("created {} (mode 700) for ledd's socket", dir.display()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(format!(
                    "cannot create {} for ledd's socket: {e}; check XDG_RUNTIME_DIR, or choose a socket with --socket PATH",
                    dir.display()
                ));
            }
        }
        return config::check_user_socket_dir(dir, euid)
            .map_err(|e| format!("refusing the socket directory: {e}"));
    }
    if dir.is_dir() {
        return Ok(());
    }
    Err(missing_socket_dir(socket, dir))
}

/// What to say when `dir`, the directory for `socket`, does not exist.
fn missing_socket_dir(socket: &Path, dir: &Path) -> String {
    let how = if socket == Path::new(config::DEFAULT_SOCKET) {
        format!(
            "install the .deb (its ledd.socket provides it), or create it (mkdir -p {})",
            dir.display()
        )
    } else {
        format!("create it (mkdir -p {})", dir.display())
    };
    format!(
        "the directory for ledd's socket {} is missing: {how}, or choose another socket with --socket PATH",
        socket.display()
    )
}

/// The socket from systemd, or bound at `config.socket`; `Ok(None)` when
/// the socket's directory is missing or not safe (logged with the fix).
fn listen(config: &Config) -> Result<Option<Listener>, server::ServerError> {
    if let Some(l) = server::from_systemd()? {
        info!("serving the socket passed by systemd");
        return Ok(Some(l));
    }
    if let Err(e) = socket_dir(&config.socket) {
        error!("{e}");
        return Ok(None);
    }
    let l = server::bind(
        &config.socket,
        config.socket_mode,
        config.socket_group.as_ref().map(|(_, gid)| *gid),
    )?;
    info!(
        "listening on {} (mode {:o})",
        config.socket.display(),
        config.socket_mode
    );
    Ok(Some(l))
}

fn serve(
    listener: Listener,
    engine: &EngineHandle,
    notifier: Option<&Notifier>,
    config: Config,
    args: &Args,
) -> Exit {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(4)
        .thread_name("ledd-server")
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            error!("cannot start the socket server runtime: {e}");
            return Exit::Internal;
        }
    };
    let Some(sender) = engine.sender() else {
        return Exit::Internal;
    };
    let exit = runtime.block_on(async move {
        let socket = match tokio::net::UnixListener::from_std(listener.socket) {
            Ok(s) => s,
            Err(e) => {
                error!("cannot serve the socket: {e}");
                return Exit::Internal;
            }
        };
        let mut signals = match Signals::install() {
            Ok(s) => s,
            Err(e) => {
                error!("cannot install signal handlers: {e}");
                return Exit::Internal;
            }
        };
        let Some(state) = State::new(engine, config.access.clone()) else {
            return Exit::Internal;
        };
        let state = Arc::new(state);
        // Before the first client: whatever a client asks for comes after.
        show_startup(&config.startup, &sender);
        let (stop_tx, stop_rx) = watch::channel(false);
        let server = tokio::spawn(server::run(socket, Arc::clone(&state), stop_rx));
        notify::notify(notifier, "READY=1");
        info!("ready");
        let mut current = config;
        loop {
            match signals.recv().await {
                stop @ (Signal::Terminate | Signal::Interrupt) => {
                    info!("{}: stopping", stop.name());
                    break;
                }
                Signal::Hangup => {
                    notify::notify(notifier, "RELOADING=1");
                    current = reload(current, args, &state, &sender);
                    notify::notify(notifier, "READY=1");
                }
            }
        }
        let _ = stop_tx.send(true);
        let _ = tokio::time::timeout(Duration::from_millis(200), server).await;
        Exit::Ok
    });
    // Connection tasks still running are dropped here, within the bound.
    runtime.shutdown_timeout(Duration::from_millis(200));
    exit
}

/// Shows `[startup]`: its brightness, then its animation, sent to the frame
/// loop exactly as a client's SetBrightness and Play are (the same queue and
/// latest-wins slot), and logged like them, "by startup". Without an
/// animation ledd stays dark.
fn show_startup(startup: &Startup, engine: &crate::engine::Sender) {
    if let Some(set) = startup.brightness {
        match engine.send(Command::SetBrightness(set)) {
            Ok(()) => server::log_startup(Change::Brightness { set, asked: None }),
            Err(e) => warn!("[startup] brightness {set} not applied: {e}"),
        }
    }
    let Some((animation, params)) = startup.play else {
        info!("starting dark (no [startup] animation)");
        return;
    };
    let play = Command::Play {
        animation,
        params,
        received_ns: crate::engine::now_ns(),
    };
    match engine.send(play) {
        Ok(()) => server::log_startup(Change::Play { animation, params }),
        Err(e) => warn!("[startup] animation {animation} not played: {e}"),
    }
}

/// Re-reads the config; applies it only if it is valid, else keeps `old`.
fn reload(old: Config, args: &Args, state: &State, engine: &crate::engine::Sender) -> Config {
    let new = match Config::load(args.config.as_deref(), &args.overrides()) {
        Ok(c) => c,
        Err(e) => {
            warn!("SIGHUP: keeping the running config: {e}");
            return old;
        }
    };
    if new.socket != old.socket
        || new.socket_group != old.socket_group
        || new.socket_mode != old.socket_mode
        || new.strip.backend != old.strip.backend
        || new.strip.count != old.strip.count
        || new.strip.kind != old.strip.kind
        || new.strip.ws281x != old.strip.ws281x
        || new.strip.spi != old.strip.spi
    {
        warn!(
            "SIGHUP: changes to the socket, the strip's backend, count or type, [ws281x] and [spi] apply only after a restart"
        );
    }
    if new.startup != old.startup {
        info!("SIGHUP: [startup] changed; it applies at the next start");
    }
    let live = LiveSettings::of(&new);
    if engine.send(Command::Reconfigure(Box::new(live))).is_err() {
        warn!("SIGHUP: the frame loop is busy; keeping the running config");
        return old;
    }
    state.reconfigure(new.access.clone(), new.strip.fps);
    info!("SIGHUP: config reloaded");
    new
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_run_tinsel_says_how_to_make_it() {
        let msg = missing_socket_dir(Path::new(config::DEFAULT_SOCKET), Path::new("/run/tinsel"));
        for fix in ["install the .deb", "mkdir -p /run/tinsel", "--socket PATH"] {
            assert!(msg.contains(fix), "{fix}: {msg}");
        }
        let other = missing_socket_dir(Path::new("/srv/x/ledd.sock"), Path::new("/srv/x"));
        assert!(
            other.contains("mkdir -p /srv/x") && !other.contains(".deb"),
            "{other}"
        );
    }
}
