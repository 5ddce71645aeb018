//! schedd's command line: a thin shell over the library. The daemon path is
//! three steps in a fixed order: prepare (read the config, one thread),
//! sandbox, run (runtime and schedule).
#![deny(clippy::unwrap_used, clippy::expect_used)]
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use schedd::Exit;
use schedd::config::Config;
use tinsel_sandbox::log::{self, Targets};

const AFTER_HELP: &str = "\
Examples:
  schedd --example-config                     a commented config: holiday lights at sunset
  schedd --check-config /etc/tinsel/schedd.toml   check it (exit 0 or 78)
  schedd next --config /etc/tinsel/schedd.toml    what it does now and the next 10 fires
  schedd next --count 3 --from 2026-12-24T12:00:00+01:00
  schedd --config /etc/tinsel/schedd.toml     run (systemd: systemctl enable --now schedd)
  schedd check                                which sandbox layers this kernel has
  kill -HUP $(pidof schedd)                   re-read the config (systemctl reload schedd)

An entry fires at a time of day (\"07:30\") or at sunrise or sunset with an
offset (\"sunset+30m\"), on chosen weekdays and between two days of the year
(from = \"12-01\", until = \"01-06\" spans the new year). The tree does what
the entry that fired last says. schedd does nothing until the clock is
synchronised (/run/systemd/timesync/synchronized), since a Pi without a
real-time clock boots in the past; on a machine with one, set
require_synced_clock = false. When ledd restarts, schedd puts the scheduled
state back.

Exit codes:
  0   stopped cleanly, or the command or check passed
  64  bad command line
  70  internal error
  71  the sandbox could not be applied
  77  permission denied: the config file may not be read
  78  config error: the message names the file and the key

See docs/schedd.md (installed as /usr/share/doc/tinsel/schedd.md).";

/// The default config file.
const DEFAULT_CONFIG: &str = "/etc/tinsel/schedd.toml";

/// schedd: the scheduler daemon of tinsel. Plays ledd's named animations
/// (or switches off) at times of day and at sunrise and sunset, as an
/// unprivileged user with no network, no capabilities, seccomp and
/// Landlock.
#[derive(Debug, Parser)]
#[command(name = "schedd", version, max_term_width = 100, after_help = AFTER_HELP)]
struct Cli {
    /// Run the daemon with this config file. Started as root, schedd reads
    /// it, then drops to the config's `user`/`group`.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["check_config", "example_config"])]
    config: Option<PathBuf>,
    /// Check a config file, then exit (0 or 78): its keys, entries,
    /// animations and parameters, time zone, place, and that `user` and
    /// `group` exist.
    #[arg(long, value_name = "FILE", conflicts_with = "example_config")]
    check_config: Option<PathBuf>,
    /// Print a commented example config (every key) and exit.
    #[arg(long)]
    example_config: bool,
    /// Log debug detail too.
    #[arg(short, long)]
    verbose: bool,
    /// Debugging only: log syscalls outside the seccomp allowlist to the
    /// kernel audit log instead of killing schedd. Every other layer stays.
    #[arg(long, requires = "config")]
    seccomp_log: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the scheduled state now and the next fires (time, entry,
    /// trigger, action), then exit. Changes nothing; needs no ledd.
    Next {
        /// The config file.
        #[arg(long, value_name = "FILE", default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// How many fires to print (1 to 1000).
        #[arg(long, short = 'n', default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=1000))]
        count: u16,
        /// Pretend it is this instant (RFC 3339, e.g.
        /// 2026-12-24T17:00:00+01:00) instead of now.
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
    },
    /// Print which sandbox layers this kernel supports, then exit.
    Check,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // --help and --version are not errors.
            return if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Ok
            }
            .into();
        }
    };
    log::init(cli.verbose, Targets::Hidden);
    run(cli).into()
}

fn run(cli: Cli) -> Exit {
    if let Some(command) = cli.command {
        if cli.config.is_some() || cli.check_config.is_some() || cli.example_config {
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
            } => next(&config, usize::from(count), from.as_deref()),
            Command::Check => {
                print!("{}", schedd::sandbox::check());
                Exit::Ok
            }
        };
    }
    if cli.example_config {
        print!("{}", schedd::config::EXAMPLE);
        return Exit::Ok;
    }
    if let Some(path) = cli.check_config {
        return check_config(&path);
    }
    let Some(path) = cli.config else {
        eprintln!("schedd: nothing to do: give --config FILE (or see --help)");
        return Exit::Usage;
    };
    daemon(&path, cli.seccomp_log)
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
    if let Err(e) = config.identity() {
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
