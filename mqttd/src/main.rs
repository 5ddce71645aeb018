//! mqttd's command line: a thin shell over the library. The daemon path is
//! three steps in a fixed order: prepare (files, broker address; one
//! thread), sandbox, run (ledd and the broker).
#![deny(clippy::unwrap_used, clippy::expect_used)]
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use mqttd::exit::Exit;
use tinsel_sandbox::log::{self, Targets};

const AFTER_HELP: &str = "\
Examples:
  mqttd --example-config > /etc/tinsel/mqttd.toml   a commented config to edit
  mqttd --check-config /etc/tinsel/mqttd.toml       keys, files, broker name, ledd role
  mqttd --config /etc/tinsel/mqttd.toml             run (systemd: systemctl start mqttd)
  mqttd check                                       which sandbox layers this kernel has

Home Assistant finds the tree by itself (MQTT discovery): nothing to write
there. Try it from any machine with the broker:
  mosquitto_sub -v -t 'tinsel/#'                                   watch state and availability
  mosquitto_pub -t tinsel/tree/set -m '{\"state\":\"ON\",\"effect\":\"fire\"}'
  mosquitto_pub -t tinsel/tree/set -m '{\"color\":{\"r\":255,\"g\":0,\"b\":0}}'
  mosquitto_pub -t tinsel/all/set -m '{\"state\":\"OFF\"}'         every tree (group_topic)

The broker password is read from broker.password_file or the systemd
credential mqtt.password: never from the command line or the config itself.

Exit codes:
  0   stopped cleanly, or the check passed
  64  bad command line
  69  the broker's name does not resolve (yet): systemd tries again
  70  internal error
  71  the sandbox could not be applied
  77  permission denied on a file
  78  config error (or a file it names: CA, password): the message names
      the file and the key; systemd does not restart

See docs/mqtt.md (installed as /usr/share/doc/tinsel/mqtt.md).";

/// mqttd: the MQTT bridge of tinsel. Makes the tree a Home Assistant light
/// (MQTT discovery: on/off, effect, colour) and lets one message switch a
/// house of trees, from a sandbox: an unprivileged user, no capabilities,
/// seccomp and Landlock, outbound to the broker only.
#[derive(Debug, Parser)]
#[command(name = "mqttd", version, max_term_width = 100, after_help = AFTER_HELP)]
struct Cli {
    /// Run the daemon with this config file.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["check_config", "example_config"])]
    config: Option<PathBuf>,
    /// Check a config file, then exit (0 or 78): its keys, the password
    /// and CA files, the broker's name, the user, and ledd's answer.
    #[arg(long, value_name = "FILE", conflicts_with = "example_config")]
    check_config: Option<PathBuf>,
    /// Print a commented example config (every key) and exit.
    #[arg(long)]
    example_config: bool,
    /// Log debug detail too (every command).
    #[arg(short, long)]
    verbose: bool,
    /// Debugging only: log syscalls outside the seccomp allowlist to the
    /// kernel audit log instead of killing mqttd.
    #[arg(long, requires = "config")]
    seccomp_log: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Print which sandbox layers this kernel supports, then exit.
    Check,
    /// Connect to ledd as a user and print the role it gives (used by
    /// --check-config, in a child that becomes mqttd's user).
    #[command(hide = true)]
    ProbeLedd {
        /// ledd's socket.
        #[arg(long)]
        socket: PathBuf,
        /// Become this user first (needs root).
        #[arg(long)]
        user: Option<String>,
        /// With this group.
        #[arg(long, requires = "user")]
        group: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
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
    match cli.command {
        Some(Command::Check) => {
            print!("{}", mqttd::sandbox::check());
            return Exit::Ok;
        }
        Some(Command::ProbeLedd {
            socket,
            user,
            group,
        }) => return mqttd::check::run_probe_ledd(&socket, user.as_deref(), group.as_deref()),
        None => {}
    }
    if cli.example_config {
        print!("{}", mqttd::config::EXAMPLE);
        return Exit::Ok;
    }
    if let Some(path) = cli.check_config {
        return mqttd::check::run(&path);
    }
    let Some(path) = cli.config else {
        eprintln!("mqttd: nothing to do: give --config FILE (or see --help)");
        return Exit::Usage;
    };
    daemon(&path, cli.seccomp_log)
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
