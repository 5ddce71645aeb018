//! mqttd's start, as the daemon kit runs it ([`tinsel_daemon::start`]):
//! its subcommands, `--check-config`, and its sandbox step.

use std::ffi::OsString;
use std::path::Path;

use tinsel_daemon::log::Targets;
use tinsel_daemon::start::{Daemon, StartFailure};
use tinsel_daemon::usage::{Parsed, Usage};

use crate::args::{self, Command};
use crate::config::ConfigError;
use crate::daemon::{Prepared, StartError};
use crate::sandbox::{Plan, Report, SandboxError, SeccompMode};
use tinsel_daemon::exit::Exit;

/// mqttd, for `tinsel_daemon::start::main`.
#[derive(Debug)]
pub struct Mqttd;

impl Daemon for Mqttd {
    type Command = Command;
    type Prepared = Prepared;
    type Error = StartError;

    const NAME: &'static str = "mqttd";
    const LOG_TARGETS: Targets = Targets::Hidden;
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
            Command::ProbeLedd(p) => tinsel_daemon::probe::run_child(
                crate::daemon::LEDD_PEER,
                &p.socket,
                p.user.as_deref(),
                p.group.as_deref(),
            ),
        }
    }

    fn check_config(path: &Path) -> Exit {
        crate::check::run(path)
    }

    fn prepare(config: &Path) -> Result<Prepared, StartError> {
        crate::daemon::prepare(config)
    }

    /// mqttd listens on nothing: its plan keeps no inherited descriptor.
    fn plan(prepared: &Prepared, seccomp: SeccompMode) -> Result<Plan, ConfigError> {
        crate::sandbox::daemon_plan(&prepared.config, &[], seccomp)
    }

    fn apply(plan: &Plan) -> Result<Report, SandboxError> {
        crate::sandbox::apply(plan)
    }

    fn run(prepared: Prepared) -> Exit {
        crate::daemon::run(prepared)
    }
}

impl StartFailure for StartError {
    fn exit(&self) -> Exit {
        match self {
            StartError::Config(e) => e.exit(),
            StartError::Resolve(_) => Exit::Unavailable,
            _ => Exit::Config,
        }
    }
}
