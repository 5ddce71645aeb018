//! ledd: the root daemon that owns the LED strip.
//!
//! - [`config`]: the TOML file and its checks.
//! - [`strip`]: the backend trait and the simulated strip.
//! - [`animation`]: the named animations, pure functions of time and index.
//! - [`engine`]: the frame loop thread, output stage and statistics.
//! - [`server`]: the Unix socket server and peer roles.
//! - [`daemon`]: the command line and the lifecycle (signals, reload).
//! - [`notify`]: sd_notify and the systemd watchdog.
//! - [`harden`]: the process hardening after the strip is open.

pub mod animation;
pub mod config;
pub mod daemon;
pub mod engine;
pub mod harden;
pub mod notify;
pub mod server;
pub mod strip;
