//! schedd's start, as the daemon kit runs it ([`tinsel_daemon::start`]):
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

/// schedd, for `tinsel_daemon::start::main`.
#[derive(Debug)]
pub struct Schedd;

impl Daemon for Schedd {
    type Command = Command;
    type Prepared = Prepared;
    type Error = StartError;

    const NAME: &'static str = "schedd";
    const LOG_TARGETS: Targets = Targets::Hidden;
    const EXAMPLE_CONFIG: &'static str = crate::config::EXAMPLE;

    fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Parsed<Command>, Usage> {
        args::parse(args)
    }

    fn command(command: Command) -> Exit {
        match command {
            Command::Next {
                config,
                count,
                from,
            } => crate::cli::next(&config, count, from.as_deref()),
            Command::Check => {
                print!("{}", crate::sandbox::check());
                Exit::Ok
            }
        }
    }

    fn check_config(path: &Path) -> Exit {
        crate::cli::check_config(path)
    }

    fn prepare(config: &Path) -> Result<Prepared, StartError> {
        crate::daemon::prepare(config)
    }

    fn plan(prepared: &Prepared, seccomp: SeccompMode) -> Result<Plan, ConfigError> {
        crate::sandbox::daemon_plan(&prepared.config, seccomp)
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
            StartError::ConfigPath { .. } => Exit::Config,
        }
    }
}
