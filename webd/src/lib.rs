//! webd: the HTTPS webhook daemon.
//!
//! webd turns authenticated HTTPS webhooks (`POST /hooks/{name}`) into named
//! animation requests for ledd. The crate is a library so that tests can
//! drive every part of it; `main.rs` is a thin shell over [`daemon`].
//!
//! Start-up is split in two so the sandbox fits between the halves:
//! [`daemon::prepare`] reads every file and obtains the listeners while the
//! process is still single-threaded, then (after the sandbox step in
//! `main`) [`daemon::run`] builds the single-threaded tokio runtime and
//! serves.
//!
//! Modules:
//! - [`domain`]: the types config produces and http consumes (tokens,
//!   access, networks, hooks); it imports neither.
//! - [`config`]: the TOML file, parsed then validated into types that cannot
//!   be invalid.
//! - [`devices`]: the devices directory, the one place webd writes: pairing
//!   codes and paired devices.
//! - [`tls`]: rustls (ring provider) server configuration from PEM files.
//! - [`http`]: the axum router, auth, bans, limits and the connection loop.
//! - [`cli`]: the one-shot commands (`token new`, `cert self-signed`,
//!   `--example-config`).
//! - [`start`]: what the daemon kit runs: the subcommands, `--check-config`
//!   and the sandbox step, in the kit's fixed order.

pub mod cli;
pub mod config;
pub mod daemon;
pub mod devices;
pub mod domain;
pub mod http;
pub mod sandbox;
pub mod start;
pub mod tls;
