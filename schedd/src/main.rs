//! schedd's command line: a thin shell over the library. The daemon path is
//! three steps in a fixed order: prepare (read the config, one thread),
//! sandbox, run (runtime and schedule).
#![deny(clippy::unwrap_used, clippy::expect_used)]
#![forbid(unsafe_code)]

use std::path::Path;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use schedd::Exit;
use schedd::args::{self, Cli, Command, Parsed};
use schedd::config::Config;
use tinsel_daemon::log::{self, Targets};

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
    log::init(cli.flags.verbose, Targets::Hidden);
    run(cli).into()
}

fn run(cli: Cli) -> Exit {
    if let Some(command) = cli.command {
        if cli.flags.config.is_some()
            || cli.flags.check_config.is_some()
            || cli.flags.example_config
        {
            eprintln!(
                "schedd: a subcommand takes no --config, --check-config or --example-config before it; write `schedd next --config FILE`"
            );
            return Exit::Usage;
        }
        return match command {
            Command::Next {
                config,
                count,
                from,
            } => next(&config, count, from.as_deref()),
            Command::Check => {
                print!("{}", schedd::sandbox::check());
                Exit::Ok
            }
        };
    }
    if cli.flags.example_config {
        print!("{}", schedd::config::EXAMPLE);
        return Exit::Ok;
    }
    if let Some(path) = cli.flags.check_config {
        return check_config(&path);
    }
    let Some(path) = cli.flags.config else {
        eprintln!("schedd: nothing to do: give --config FILE (or see --help)");
        return Exit::Usage;
    };
    daemon(&path, cli.flags.seccomp_log)
}

fn load(path: &Path) -> Result<Config, Exit> {
    Config::load(path).map_err(|e| {
        eprintln!("schedd: {e}");
        match &e {
            schedd::config::ConfigError::Read { source, .. }
                if source.kind() == std::io::ErrorKind::PermissionDenied =>
            {
                Exit::Permission
            }
            _ => Exit::Config,
        }
    })
}

fn next(path: &Path, count: usize, from: Option<&str>) -> Exit {
    let now = match from.map(DateTime::parse_from_rfc3339).transpose() {
        Ok(t) => t.map_or_else(Utc::now, |t| t.with_timezone(&Utc)),
        Err(e) => {
            eprintln!(
                "schedd: --from {:?}: {e}; write an RFC 3339 instant like 2026-12-24T17:00:00+01:00",
                from.unwrap_or_default()
            );
            return Exit::Usage;
        }
    };
    let config = match load(path) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    print!("{}", schedd::cli::next_report(&config, now, count));
    Exit::Ok
}

fn check_config(path: &Path) -> Exit {
    let config = match load(path) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    if let Err(e) = config.start_identity() {
        eprintln!("schedd: {e}");
        return Exit::Config;
    }
    println!(
        "{}: ok: {} entr{} enabled, time zone {}",
        path.display(),
        config.schedule.entries.len(),
        if config.schedule.entries.len() == 1 {
            "y"
        } else {
            "ies"
        },
        config.schedule.tz.name()
    );
    Exit::Ok
}

fn daemon(path: &Path, seccomp_log: bool) -> Exit {
    // Read the config (and the system's time zone) while single-threaded.
    let prepared = match schedd::daemon::prepare(path) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("{e}");
            return e.exit();
        }
    };
    // The sandbox, before any thread starts: a thread created earlier would
    // keep its capabilities and escape Landlock and seccomp.
    let mode = schedd::sandbox::SeccompMode::from_log_flag(seccomp_log);
    let plan = match schedd::sandbox::daemon_plan(&prepared.config, mode) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("{e}");
            return Exit::Config;
        }
    };
    if let Err(e) = schedd::sandbox::apply(&plan) {
        tracing::error!("sandbox: {e}");
        return Exit::Sandbox;
    }
    schedd::daemon::run(prepared)
}
