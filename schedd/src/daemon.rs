//! The daemon's life, in two halves with the sandbox between them.
//!
//! [`prepare`] runs while the process has one thread: it reads the config
//! (and the system's time zone, which the sandbox will hide) and refuses
//! root without a user to drop to. [`run`] then builds a current-thread
//! tokio runtime and loops:
//!
//! 1. until the clock is synchronised ([`ClockGate`]), do nothing;
//! 2. (re)connect to ledd when due; a new connection means ledd may have
//!    restarted, so the scheduled state is sent again;
//! 3. if the scheduled state ([`Schedule::current`] at the wall clock's
//!    now) is not the one last applied, send its action;
//! 4. sleep until the next fire, at most [`MAX_SLEEP`] (the wall clock
//!    may be stepped while the monotonic timer runs), or until ledd hangs
//!    up, the keepalive is due, or a signal arrives.
//!
//! SIGHUP re-reads the config; SIGTERM and SIGINT stop.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tinsel_client::{LeddError, Link, Peer};
use tinsel_daemon::signals::{Signal, Signals};
use tokio::time::{Instant, sleep_until};

use crate::clock::{ClockGate, RECHECK};
use crate::config::{Config, ConfigError};
use crate::schedule::{Action, Schedule};
use tinsel_daemon::exit::Exit;

/// schedd, as ledd's refusals name it: run as `tinsel-sched` by the package.
pub const LEDD_PEER: Peer = Peer::daemon("schedd", "tinsel-sched");

/// The longest sleep between looks at the wall clock: a step of the clock
/// (NTP's first sync, `date -s`) is noticed within this.
pub const MAX_SLEEP: Duration = Duration::from_secs(60);

/// Why schedd could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The config file is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The config path cannot be made absolute.
    #[error("{}: {source}", path.display())]
    ConfigPath {
        /// The path given.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Everything schedd needs, read before any thread exists.
#[derive(Debug)]
pub struct Prepared {
    /// The validated config; `config.path` is absolute, for SIGHUP.
    pub config: Config,
}

/// Reads the config. Must run before the sandbox (it reads the system's
/// time zone) and before any thread starts.
pub fn prepare(config_path: &Path) -> Result<Prepared, StartError> {
    let path = std::path::absolute(config_path).map_err(|source| StartError::ConfigPath {
        path: config_path.to_owned(),
        source,
    })?;
    let config = Config::load(&path)?;
    // The identity rule (`tinsel_daemon::config::start_identity`), as
    // `--check-config` applies it: the sandbox drops to this user later.
    config.common.start_identity()?;
    Ok(Prepared { config })
}

/// Builds the current-thread runtime and runs until SIGTERM/SIGINT.
pub fn run(prepared: Prepared) -> Exit {
    let gate = ClockGate::new(prepared.config.require_synced_clock);
    tinsel_daemon::exit::run_current_thread(serve(prepared.config, gate))
}

/// What was last sent to ledd: the fire's instant and its action, so a
/// reload that leaves the current state alone sends nothing.
type Applied = Option<(DateTime<Utc>, Action)>;

/// The loop (module docs). `gate` decides when the clock is trusted.
pub async fn serve(mut config: Config, mut gate: ClockGate) -> Exit {
    let mut signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot install signal handlers: {e}");
            return Exit::Internal;
        }
    };
    announce(&config);
    let mut link = Link::new(config.common.ledd_socket.clone(), LEDD_PEER);
    let mut applied: Applied = None;
    loop {
        let mut wake = Instant::now() + RECHECK;
        if gate.check() {
            link.connect_if_due().await;
            if link.take_fresh() {
                // A new connection: ledd may have restarted dark.
                applied = None;
            }
            let now = Utc::now();
            apply(&config.schedule, now, &mut link, &mut applied).await;
            let until_next = config.schedule.next(now, 1).first().map_or(MAX_SLEEP, |f| {
                (f.at - Utc::now()).to_std().unwrap_or(Duration::ZERO)
            });
            wake = Instant::now() + until_next.min(MAX_SLEEP);
            if let Some(retry) = link.next_attempt() {
                wake = wake.min(retry);
            }
        }
        tokio::select! {
            () = sleep_until(wake) => {}
            // Keepalive and hang-up; connecting waits for the clock gate.
            due = link.due(), if link.is_connected() => {
                link.run(due).await;
            }
            signal = signals.recv() => match signal {
                Signal::Hangup => reload(&mut config),
                Signal::Terminate | Signal::Interrupt => {
                    tracing::info!("{}: stopping", signal.name());
                    return Exit::Ok;
                }
            },
        }
    }
}

/// Sends the scheduled state at `now` if it is not the one applied.
async fn apply(schedule: &Schedule, now: DateTime<Utc>, link: &mut Link, applied: &mut Applied) {
    let Some(fire) = schedule.current(now) else {
        return;
    };
    let entry = schedule.entry(&fire);
    let want = (fire.at, entry.action);
    if *applied == Some(want) || !link.is_connected() {
        return;
    }
    let when = schedule.local(fire.at).format("%Y-%m-%d %H:%M %Z");
    match link.request(&entry.action.request()).await {
        Ok(_) => {
            tracing::info!(
                "{}: {} (fired {when}, at {})",
                entry.name,
                entry.action,
                entry.trigger
            );
            *applied = Some(want);
        }
        Err(LeddError::Refused(e)) => {
            // Not retried until the next fire or reconnect: ledd would
            // refuse it again.
            tracing::error!(
                "{}: ledd refused {}: {e}; check the entry against `ledctl list`",
                entry.name,
                entry.action
            );
            *applied = Some(want);
        }
        // The link logged it and reconnects; the next pass applies.
        Err(_) => {}
    }
}

fn announce(config: &Config) {
    let s = &config.schedule;
    tracing::info!(
        "schedd ready: {} entr{}, time zone {} ({}), ledd at {}, {}",
        s.entries.len(),
        if s.entries.len() == 1 { "y" } else { "ies" },
        s.tz.name(),
        match config.zone_source {
            crate::config::ZoneSource::Config => "from the config",
            crate::config::ZoneSource::System => "the system's",
        },
        config.common.ledd_socket.display(),
        if config.require_synced_clock {
            "acting once the clock is synchronised"
        } else {
            "trusting the clock (require_synced_clock = false)"
        }
    );
    if s.entries.is_empty() {
        tracing::info!(
            "no entries are enabled: schedd will do nothing; see schedd --example-config"
        );
    }
}

/// SIGHUP: re-reads the config; anything wrong keeps the running one.
/// The socket path and the user apply only after a restart.
fn reload(config: &mut Config) {
    let new = match Config::reload(&config.path, config.schedule.tz) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(
                "reload failed, keeping the running schedule: {e} (an editor that replaces the file makes a new one the sandbox cannot read: systemctl restart schedd)"
            );
            return;
        }
    };
    let (old, now) = (&config.common, &new.common);
    if now.ledd_socket != old.ledd_socket || now.user != old.user || now.group != old.group {
        tracing::warn!(
            "{}: changes to ledd_socket, user or group take effect only after a restart",
            config.path.display()
        );
    }
    tracing::info!(
        "reloaded {}: {} entries",
        config.path.display(),
        new.schedule.entries.len()
    );
    // The running sandbox and link keep what they were started with.
    *config = Config {
        common: config.common.clone(),
        ..new
    };
}
