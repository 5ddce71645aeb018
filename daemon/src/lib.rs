//! tinsel-daemon: the daemon kit. What every tinsel daemon does around its
//! own work, written once so that ledd, webd, schedd and mqttd start, fail
//! and stop alike:
//!
//! - [`usage`]: the command line (`lexopt`): the flags webd, schedd and
//!   mqttd share, the `probe-ledd` child, and one way to say a bad one;
//! - [`log`]: `tracing` to stderr, for the journal, and the one gate in
//!   front of every line a peer can trigger;
//! - [`rate`]: the token bucket behind every rate limit on what a peer can
//!   cause;
//! - [`exit`]: the sysexits-style exit codes and the one-thread runtime;
//! - [`signals`]: SIGTERM, SIGINT and SIGHUP as one stream;
//! - [`config`]: reading a config file (a regular file of at most 256 KiB
//!   that only root, or the daemon's own user, may write), parsing and
//!   validating it, with errors that name the file and the key, and the
//!   `user`/`group` rule of the daemons that drop root;
//! - [`probe`]: `--check-config`'s try of ledd's socket as the daemon's
//!   own user;
//! - [`start`]: the start of webd, schedd and mqttd in its fixed order,
//!   each daemon giving only what differs ([`start::Daemon`]).
//!
//! Confinement is not here: it is `tinsel-sandbox`, which this crate uses
//! only to resolve the daemon's user.

pub mod config;
pub mod exit;
pub mod log;
pub mod probe;
pub mod rate;
pub mod signals;
pub mod start;
pub mod usage;
