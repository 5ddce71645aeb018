//! The start of webd, schedd and mqttd, written once: each daemon's
//! `main` is `tinsel_daemon::start::main::<TheDaemon>()`, and what differs
//! between them is the [`Daemon`] they implement.
//!
//! The order is fixed, and the same for all:
//!
//! 1. the command line ([`crate::usage`]): `--help` and `--version` print,
//!    a bad one exits 64;
//! 2. logging ([`crate::log`]), first thing after it;
//! 3. a one-shot subcommand, `--example-config` or `--check-config`, each
//!    of which prints and exits;
//! 4. the daemon: [`Daemon::prepare`] reads every file and takes its
//!    listeners while the process has one thread; [`Daemon::plan`] and
//!    [`Daemon::apply`] confine it, before any thread starts (a thread created
//!    earlier would keep its capabilities and escape Landlock and
//!    seccomp); [`Daemon::run`] builds the runtime and serves.

use std::ffi::OsString;
use std::fmt::Display;
use std::path::Path;
use std::process::ExitCode;

use tinsel_sandbox::confine::{Plan, Report, SandboxError};
use tinsel_sandbox::mode::SeccompMode;

use crate::config::ConfigError;

use crate::exit::Exit;
use crate::log::{self, Targets};
use crate::usage::{Parsed, Usage};

/// A failure of [`Daemon::prepare`]: said in one line, ending the process
/// with its exit code.
pub trait StartFailure: Display {
    /// The exit code this failure maps to.
    fn exit(&self) -> Exit;
}

/// What makes one daemon differ from another at start.
pub trait Daemon {
    /// Its one-shot subcommands (`check`, `probe-ledd`, ...).
    type Command;
    /// What [`Daemon::prepare`] read and opened, for the sandbox and the run.
    type Prepared;
    /// Why it could not prepare.
    type Error: StartFailure;

    /// The program name, for messages: `webd`.
    const NAME: &'static str;
    /// Whether log lines name their module.
    const LOG_TARGETS: Targets;
    /// The commented example config `--example-config` prints.
    const EXAMPLE_CONFIG: &'static str;

    /// Parses the command line (with [`crate::usage::parse_daemon`]).
    fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Parsed<Self::Command>, Usage>;

    /// Runs a one-shot subcommand.
    fn command(command: Self::Command) -> Exit;

    /// `--check-config FILE`: refuses what the start would refuse, with
    /// the same exit code.
    fn check_config(path: &Path) -> Exit;

    /// Reads the config and every file, and takes the listeners: one
    /// thread, nothing confined yet.
    fn prepare(config: &Path) -> Result<Self::Prepared, Self::Error>;

    /// The daemon's sandbox plan: what it keeps (descriptors, readable
    /// files, TCP ports, ledd's socket) and who it becomes. A plan the
    /// config makes impossible ends the start with 78.
    fn plan(prepared: &Self::Prepared, seccomp: SeccompMode) -> Result<Plan, ConfigError>;

    /// Applies `plan` with the daemon's seccomp rules
    /// (`tinsel_sandbox::confine::apply`); a failed step ends the start
    /// with 71.
    fn apply(plan: &Plan) -> Result<Report, SandboxError>;

    /// What the daemon says before its sandbox closes (webd: the files its
    /// user could not re-read on reload). Nothing by default.
    fn before_confine(_prepared: &Self::Prepared, _plan: &Plan) {}

    /// Starts the runtime and serves until told to stop.
    fn run(prepared: Self::Prepared) -> Exit;
}

/// A daemon's whole `main`.
pub fn main<D: Daemon>() -> ExitCode {
    start::<D>(std::env::args_os()).into()
}

/// [`main`] for the given command line.
pub fn start<D: Daemon>(args: impl IntoIterator<Item = OsString>) -> Exit {
    let cli = match D::parse(args) {
        Ok(Parsed::Run(cli)) => cli,
        Ok(Parsed::Print(text)) => {
            print!("{text}");
            return Exit::Ok;
        }
        Err(e) => {
            eprintln!("{e}");
            return Exit::Usage;
        }
    };
    log::init(cli.flags.verbose, D::LOG_TARGETS);
    if let Some(command) = cli.command {
        return D::command(command);
    }
    if cli.flags.example_config {
        print!("{}", D::EXAMPLE_CONFIG);
        return Exit::Ok;
    }
    if let Some(path) = cli.flags.check_config {
        return D::check_config(&path);
    }
    let Some(path) = cli.flags.config else {
        eprintln!(
            "{}: nothing to do: give --config FILE (or see --help)",
            D::NAME
        );
        return Exit::Usage;
    };
    let prepared = match D::prepare(&path) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("{e}");
            return e.exit();
        }
    };
    if let Err(exit) = confine::<D>(&prepared, SeccompMode::from_log_flag(cli.flags.seccomp_log)) {
        return exit;
    }
    D::run(prepared)
}

/// Step 5: the daemon's plan, applied; each failure logged in one line.
fn confine<D: Daemon>(prepared: &D::Prepared, seccomp: SeccompMode) -> Result<(), Exit> {
    let plan = D::plan(prepared, seccomp).map_err(|e| {
        tracing::error!("{e}");
        Exit::Config
    })?;
    D::before_confine(prepared, &plan);
    D::apply(&plan).map(drop).map_err(|e| {
        tracing::error!("sandbox: {e}");
        Exit::Sandbox
    })
}
