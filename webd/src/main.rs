//! webd's command line: a thin shell over the library. The daemon path is
//! three steps in a fixed order: prepare (files and listeners, one thread),
//! sandbox, run (runtime and serving).
#![deny(clippy::unwrap_used, clippy::expect_used)]
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tinsel_sandbox::log::{self, Targets};
use webd::exit::Exit;

const AFTER_HELP: &str = "\
Examples:
  webd --example-config > /etc/tinsel/webd.toml     a commented config to edit
  webd cert self-signed --out /etc/tinsel/tls       certificate + key for a first test
  webd cert client phone --dir /etc/tinsel/clients  client CA + certificate (mutual TLS)
  webd token new ifttt --hook color --hook off      a token for two hooks (shown once)
  webd --check-config /etc/tinsel/webd.toml         config, certificate (days left), key, users, ledd
  webd --config /etc/tinsel/webd.toml               run (systemd: systemctl start webd.socket)
  webd check                                        which sandbox layers this kernel has
  kill -HUP $(pidof webd)                           re-read the config and certificate

A hook is called with
  curl --cacert fullchain.pem -H 'Authorization: Bearer TOKEN' \\
       -H 'Content-Type: application/json' -d '{\"color\":\"red\"}' https://HOST:8443/hooks/color
or, from IFTTT (no headers), with the token in the JSON body: {\"token\":\"TOKEN\",\"color\":\"red\"}
With [tls] client_cert = \"optional\" or \"required\", add --cert NAME.pem --key NAME-key.pem
(from `webd cert client NAME`). webd warns in its log 14 days before its certificate expires.

Exit codes:
  0   stopped cleanly, or the command or check passed
  64  bad command line
  69  unavailable: the listen address is taken, or socket activation passed something unusable
  70  internal error
  71  the sandbox could not be applied
  77  permission denied: a file or port webd may not use
  78  config error: the message names the file and the key

See docs/webd.md (installed as /usr/share/doc/tinsel/webd.md).";

/// webd: the HTTPS webhook daemon of tinsel. Turns authenticated webhooks
/// (IFTTT, Home Assistant, curl) into named animations on ledd, from a
/// sandbox: an unprivileged user, no capabilities, seccomp and Landlock.
#[derive(Debug, Parser)]
#[command(name = "webd", version, max_term_width = 100, after_help = AFTER_HELP)]
struct Cli {
    /// Run the daemon with this config file. Started as root, webd reads
    /// its files and listens, then drops to the config's `user`/`group`.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["check_config", "example_config"])]
    config: Option<PathBuf>,
    /// Check a config file, then exit (0 or 78): its keys, the certificate
    /// and key it names, that `user` and `group` exist and can re-read
    /// those files on reload, and which role ledd gives that user.
    #[arg(long, value_name = "FILE", conflicts_with = "example_config")]
    check_config: Option<PathBuf>,
    /// Print a commented example config (every key, with its default) and
    /// exit.
    #[arg(long)]
    example_config: bool,
    /// Log debug detail too.
    #[arg(short, long)]
    verbose: bool,
    /// Debugging only: log syscalls outside the seccomp allowlist to the
    /// kernel audit log (`journalctl -k | grep type=1326`) instead of
    /// killing webd. Every other sandbox layer stays on.
    #[arg(long, requires = "config")]
    seccomp_log: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print which sandbox layers this kernel supports (Landlock ABI,
    /// seccomp, no_new_privs), then exit.
    Check,
    /// Make tokens: the secrets IFTTT, Home Assistant or curl send.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Make TLS certificates: a server certificate for a first test (use
    /// Let's Encrypt's for IFTTT: it refuses self-signed ones), or client
    /// certificates for mutual TLS.
    Cert {
        #[command(subcommand)]
        command: CertCommand,
    },
    /// Connect to ledd as the current user and print the role it gives
    /// (used by --check-config, in a child that has become webd's user).
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

const TOKEN_HELP: &str = "\
Examples:
  webd token new ifttt                          bearer token for every hook
  webd token new phone --hook color --hook off  only these hooks
  webd token new github --signed                HMAC key: requests sign their body

Paste the printed [[tokens]] lines into webd.toml, then reload webd
(systemctl reload webd, or kill -HUP). The token itself is printed once, on
the first line, and stored nowhere: the config keeps only its SHA-256.

To narrow a token, add lines below its [[tokens]] lines (docs/webd.md,
\"Narrow tokens\"):
  state = true                     may read GET /state (Home Assistant)
  allow_from = [\"192.168.1.0/24\"]  only from these networks
  rate = \"30/min\"                  at most this often (429 beyond)
  expires = 2027-01-06             refused after this day (UTC)";

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Print a new random token (256 bits) once, on the first line of
    /// stdout, then the `[[tokens]]` lines for webd.toml, which store only
    /// its SHA-256.
    #[command(after_help = TOKEN_HELP)]
    New {
        /// The token's name, shown in webd's logs (1 to 64 of A-Z, a-z,
        /// 0-9, '.', '_', '-').
        name: String,
        /// A hook the token may call; repeat for more. Default: every hook
        /// ("*").
        #[arg(long = "hook", value_name = "HOOK")]
        hooks: Vec<String>,
        /// Make an HMAC-SHA256 signing key instead of a bearer token:
        /// requests carry X-Tinsel-Timestamp and X-Tinsel-Signature. The
        /// config must hold the key itself, so keep webd.toml readable only
        /// by root and webd's group (0640 root:tinsel).
        #[arg(long)]
        signed: bool,
    },
}

#[derive(Debug, Subcommand)]
enum CertCommand {
    /// Write a self-signed ECDSA P-256 certificate (fullchain.pem, 0644)
    /// and its key (privkey.pem) into DIR, and print the [tls] lines for
    /// webd.toml. Clients must be told to trust it (curl --cacert).
    #[command(after_help = "\
Example:
  sudo webd cert self-signed --out /etc/tinsel/tls --name tree.example.org --name 192.168.1.50

Run as root, the key is made 0640 root:tinsel (or --group), so that webd,
which drops from root to its user, can re-read it on SIGHUP.")]
    SelfSigned {
        /// The directory to write into (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// A DNS name or IP address the certificate is for; repeat for
        /// more. Use the names clients connect to.
        #[arg(long = "name", value_name = "NAME", default_values = ["localhost", "127.0.0.1", "::1"])]
        names: Vec<String>,
        /// The group that may read the key (0640): webd's `group`. Default
        /// when run as root: "tinsel" if that group exists; otherwise the
        /// key stays 0600, readable by its owner only.
        #[arg(long, value_name = "GROUP")]
        group: Option<String>,
        /// Replace existing files.
        #[arg(long)]
        force: bool,
    },
    /// Write a client certificate for NAME (NAME.pem) and its key
    /// (NAME-key.pem, 0600) into DIR, signed by the client CA in DIR
    /// (ca.pem, ca-key.pem 0600; made on first use), and print the config
    /// lines. Clients present it with `curl --cert --key`; webd checks it
    /// against `[tls] client_ca` when `client_cert` is "optional" or
    /// "required".
    #[command(after_help = CLIENT_HELP)]
    Client {
        /// The client's name: the certificate's subject CN, shown in
        /// webd's log lines (1 to 64 of A-Z, a-z, 0-9, '.', '_', '-').
        name: String,
        /// The directory of the client CA (created if missing).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// How long the client certificate is valid, in days.
        #[arg(long, value_name = "DAYS", default_value_t = webd::cli::cert::DEFAULT_CLIENT_DAYS,
              value_parser = clap::value_parser!(u32).range(1..=3650))]
        days: u32,
        /// Replace NAME's existing certificate and key (the CA is kept).
        #[arg(long)]
        force: bool,
    },
}

const CLIENT_HELP: &str = "\
Example:
  sudo webd cert client home-assistant --dir /etc/tinsel/clients

then in webd.toml
  [tls]
  client_ca = \"/etc/tinsel/clients/ca.pem\"
  client_cert = \"optional\"      # \"required\": no certificate, no TLS handshake
and in the token's [[tokens]] entry
  require_client_cert = true     # this token is refused (403) without the certificate
and reload webd (systemctl reload webd). IFTTT cannot present a certificate:
keep client_cert = \"optional\" and require it per token if IFTTT calls webd.

The client uses it with
  curl --cacert fullchain.pem --cert DIR/NAME.pem --key DIR/NAME-key.pem \\
       -H 'Authorization: Bearer TOKEN' -X POST https://HOST:8443/hooks/off
Home Assistant's rest_command cannot present one: use a shell_command with that curl.

Keep DIR/ca-key.pem private: whoever holds it can make client certificates.
webd reads only DIR/ca.pem. See docs/webd.md, \"Client certificates\".";

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
    log::init(cli.verbose, Targets::Shown);
    run(cli).into()
}

fn run(cli: Cli) -> Exit {
    if let Some(command) = cli.command {
        if cli.config.is_some() || cli.check_config.is_some() || cli.example_config {
            eprintln!("webd: a subcommand takes no --config, --check-config or --example-config");
            return Exit::Usage;
        }
        return match command {
            Command::Check => {
                print!("{}", webd::sandbox::check());
                Exit::Ok
            }
            Command::Token {
                command:
                    TokenCommand::New {
                        name,
                        hooks,
                        signed,
                    },
            } => webd::cli::token::run(&name, &hooks, signed),
            Command::Cert {
                command:
                    CertCommand::SelfSigned {
                        out,
                        names,
                        group,
                        force,
                    },
            } => webd::cli::cert::run(&out, &names, group.as_deref(), force),
            Command::Cert {
                command:
                    CertCommand::Client {
                        name,
                        dir,
                        days,
                        force,
                    },
            } => webd::cli::cert::run_client(&dir, &name, days, force),
            Command::ProbeLedd {
                socket,
                user,
                group,
            } => webd::cli::check::run_probe_ledd(&socket, user.as_deref(), group.as_deref()),
        };
    }
    if cli.example_config {
        print!("{}", webd::config::EXAMPLE);
        return Exit::Ok;
    }
    if let Some(path) = cli.check_config {
        return webd::cli::check::run(&path);
    }
    let Some(path) = cli.config else {
        eprintln!("webd: nothing to do: give --config FILE (or see --help)");
        return Exit::Usage;
    };
    daemon(&path, cli.seccomp_log)
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
