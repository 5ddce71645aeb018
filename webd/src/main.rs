//! webd's command line: a thin shell over the library. The daemon path is
//! three steps in a fixed order: prepare (files and listeners, one thread),
//! sandbox, run (runtime and serving).
#![deny(clippy::unwrap_used, clippy::expect_used)]
#![forbid(unsafe_code)]

use std::process::ExitCode;

use tinsel_daemon::log::{self, Targets};
use webd::cli::args::{self, Cli, Command, Parsed};
use webd::exit::Exit;

fn main() -> ExitCode {
    let cli = match args::parse(std::env::args_os()) {
        Ok(Parsed::Run(cli)) => cli,
        Ok(Parsed::Print(text)) => {
            print!("{text}");
            return Exit::Ok.into();
        }
        Err(e) => {
            eprintln!("{e}");
            return Exit::Usage.into();
        }
    };
    log::init(cli.flags.verbose, Targets::Shown);
    run(cli).into()
}

fn run(cli: Cli) -> Exit {
    if let Some(command) = cli.command {
        if cli.flags.config.is_some()
            || cli.flags.check_config.is_some()
            || cli.flags.example_config
        {
            eprintln!("webd: a subcommand takes no --config, --check-config or --example-config");
            return Exit::Usage;
        }
        return match command {
            Command::Check => {
                print!("{}", webd::sandbox::check());
                Exit::Ok
            }
            Command::TokenNew {
                name,
                hooks,
                signed,
            } => webd::cli::token::run(&name, &hooks, signed),
            Command::CertSelfSigned {
                out,
                names,
                group,
                force,
            } => webd::cli::cert::run(&out, &names, group.as_deref(), force),
            Command::CertClient {
                name,
                dir,
                days,
                force,
            } => webd::cli::cert::run_client(&dir, &name, days, force),
            Command::ProbeLedd(p) => {
                webd::cli::check::run_probe_ledd(&p.socket, p.user.as_deref(), p.group.as_deref())
            }
        };
    }
    if cli.flags.example_config {
        print!("{}", webd::config::EXAMPLE);
        return Exit::Ok;
    }
    if let Some(path) = cli.flags.check_config {
        return webd::cli::check::run(&path);
    }
    let Some(path) = cli.flags.config else {
        eprintln!("webd: nothing to do: give --config FILE (or see --help)");
        return Exit::Usage;
    };
    daemon(&path, cli.flags.seccomp_log)
}

fn daemon(path: &std::path::Path, seccomp_log: bool) -> Exit {
    // Read every file and obtain the listeners while single-threaded.
    let prepared = match webd::daemon::prepare(path) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("{e}");
            return e.exit();
        }
    };

    // The sandbox, before any thread starts: a thread created earlier would
    // keep its capabilities and escape Landlock and seccomp.
    if let Err(exit) = sandbox(&prepared, seccomp_log) {
        return exit;
    }

    // Build the single-threaded runtime and serve.
    webd::daemon::run(prepared)
}

/// Builds the daemon's sandbox plan (`webd::sandbox::daemon_plan`) from the
/// prepared state and applies it.
fn sandbox(prepared: &webd::daemon::Prepared, seccomp_log: bool) -> Result<(), Exit> {
    use std::os::fd::AsRawFd as _;
    let config = &prepared.config;
    let listeners: Vec<_> = prepared.listeners.iter().map(|l| l.as_raw_fd()).collect();
    let mode = webd::sandbox::SeccompMode::from_log_flag(seccomp_log);
    let plan = webd::sandbox::daemon_plan(config, &listeners, mode).map_err(|e| {
        tracing::error!("{e}");
        Exit::Config
    })?;
    if let Some(who) = &plan.user
        && rustix::process::geteuid().is_root()
    {
        for warning in webd::cli::check::reload_warnings(config, who) {
            tracing::warn!("{warning}");
        }
    }
    webd::sandbox::apply(&plan).map(drop).map_err(|e| {
        tracing::error!("sandbox: {e}");
        Exit::Sandbox
    })
}
