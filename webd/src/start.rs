//! webd's start, as the daemon kit runs it ([`tinsel_daemon::start`]):
//! its subcommands, `--check-config`, and its sandbox step.

use std::ffi::OsString;
use std::io;
use std::os::fd::AsRawFd as _;
use std::path::Path;

use tinsel_daemon::log::Targets;
use tinsel_daemon::start::{Daemon, StartFailure};
use tinsel_daemon::usage::{Parsed, Usage};

use crate::cli::args::{self, Command};
use crate::config::ConfigError;
use crate::daemon::{Prepared, StartError};
use crate::sandbox::{Plan, Report, SandboxError, SeccompMode};
use crate::tls::TlsError;
use tinsel_daemon::exit::Exit;

/// webd, for `tinsel_daemon::start::main`.
#[derive(Debug)]
pub struct Webd;

impl Daemon for Webd {
    type Command = Command;
    type Prepared = Prepared;
    type Error = StartError;

    const NAME: &'static str = "webd";
    const LOG_TARGETS: Targets = Targets::Shown;
    const EXAMPLE_CONFIG: &'static str = crate::config::EXAMPLE;

    fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Parsed<Command>, Usage> {
        args::parse(args)
    }

    fn command(command: Command) -> Exit {
        match command {
            Command::Check => {
                print!("{}", crate::sandbox::check());
                Exit::Ok
            }
            Command::TokenNew {
                name,
                hooks,
                signed,
            } => crate::cli::token::run(&name, &hooks, signed),
            Command::CertSelfSigned {
                out,
                names,
                group,
                force,
            } => crate::cli::cert::run(&out, &names, group.as_deref(), force),
            Command::CertClient {
                name,
                dir,
                days,
                force,
            } => crate::cli::cert::run_client(&dir, &name, days, force),
            Command::Pair { config, name, url } => {
                crate::cli::pair::run_pair(&config, &name, url.as_deref())
            }
            Command::Devices { config } => crate::cli::pair::run_devices(&config),
            Command::Revoke { config, name } => crate::cli::pair::run_revoke(&config, &name),
            Command::ProbeLedd(p) => tinsel_daemon::probe::run_child(
                crate::daemon::LEDD_PEER,
                &p.socket,
                p.user.as_deref(),
                p.group.as_deref(),
            ),
        }
    }

    fn check_config(path: &Path) -> Exit {
        crate::cli::check::run(path)
    }

    fn prepare(config: &Path) -> Result<Prepared, StartError> {
        crate::daemon::prepare(config)
    }

    fn plan(prepared: &Prepared, seccomp: SeccompMode) -> Result<Plan, ConfigError> {
        let listeners: Vec<_> = prepared.listeners.iter().map(|l| l.as_raw_fd()).collect();
        crate::sandbox::daemon_plan(&prepared.config, &listeners, seccomp)
    }

    fn apply(plan: &Plan) -> Result<Report, SandboxError> {
        crate::sandbox::apply(plan)
    }

    /// As root: a warning for each file webd's user could not re-read on
    /// reload.
    fn before_confine(prepared: &Prepared, plan: &Plan) {
        if let Some(who) = &plan.user
            && rustix::process::geteuid().is_root()
        {
            for warning in crate::cli::check::reload_warnings(&prepared.config, who) {
                tracing::warn!("{warning}");
            }
        }
    }

    fn run(prepared: Prepared) -> Exit {
        crate::daemon::run(prepared)
    }
}

impl StartFailure for StartError {
    fn exit(&self) -> Exit {
        let io_exit = |e: &io::Error| match e.kind() {
            io::ErrorKind::PermissionDenied => Exit::Permission,
            _ => Exit::Config,
        };
        match self {
            StartError::Config(e) => e.exit(),
            StartError::Tls(
                TlsError::Read { source, .. } | TlsError::ClientCaRead { source, .. },
            ) => io_exit(source),
            StartError::Tls(TlsError::Ticketer(_)) => Exit::Internal,
            StartError::Tls(_) => Exit::Config,
            StartError::Bind { source, .. } => match source.kind() {
                io::ErrorKind::PermissionDenied => Exit::Permission,
                _ => Exit::Unavailable,
            },
            StartError::ListenFd { .. } => Exit::Unavailable,
            StartError::ConfigPath { .. } => Exit::Config,
            StartError::DevicesDir { source, .. } => io_exit(source),
        }
    }
}
