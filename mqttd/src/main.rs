//! mqttd's command line: a thin shell over the library. The daemon path is
//! three steps in a fixed order: prepare (files, broker address; one
//! thread), sandbox, run (ledd and the broker).
#![deny(clippy::unwrap_used, clippy::expect_used)]
#![forbid(unsafe_code)]

use std::path::Path;
use std::process::ExitCode;

use mqttd::args::{self, Cli, Command, Parsed};
use mqttd::exit::Exit;
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
    match cli.command {
        Some(Command::Check) => {
            print!("{}", mqttd::sandbox::check());
            return Exit::Ok;
        }
        Some(Command::ProbeLedd(p)) => {
            return mqttd::check::run_probe_ledd(&p.socket, p.user.as_deref(), p.group.as_deref());
        }
        None => {}
    }
    if cli.flags.example_config {
        print!("{}", mqttd::config::EXAMPLE);
        return Exit::Ok;
    }
    if let Some(path) = cli.flags.check_config {
        return mqttd::check::run(&path);
    }
    let Some(path) = cli.flags.config else {
        eprintln!("mqttd: nothing to do: give --config FILE (or see --help)");
        return Exit::Usage;
    };
    daemon(&path, cli.flags.seccomp_log)
}

fn daemon(path: &Path, seccomp_log: bool) -> Exit {
    let prepared = match mqttd::daemon::prepare(path) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("{e}");
            return e.exit();
        }
    };
    // The sandbox, before any thread starts.
    if let Err(exit) = sandbox(&prepared, seccomp_log) {
        return exit;
    }
    mqttd::daemon::run(prepared)
}

fn sandbox(prepared: &mqttd::daemon::Prepared, seccomp_log: bool) -> Result<(), Exit> {
    let mode = mqttd::sandbox::SeccompMode::from_log_flag(seccomp_log);
    let plan = mqttd::sandbox::daemon_plan(&prepared.config, &[], mode).map_err(|e| {
        tracing::error!("{e}");
        Exit::Config
    })?;
    mqttd::sandbox::apply(&plan).map(drop).map_err(|e| {
        tracing::error!("sandbox: {e}");
        Exit::Sandbox
    })
}
