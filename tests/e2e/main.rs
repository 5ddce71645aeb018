//! End-to-end tests: the real `ledd`, `ledctl` and `webd` binaries, started
//! as separate processes on a simulated strip, temporary sockets and a
//! self-signed certificate.

// A test or a measurement: a failed step fails it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin_slots;
mod admission;
mod client_certs;
mod credentials;
mod first_hour;
mod fixtures;
mod hardware;
mod harness;
mod hostile_config;
mod ledd;
mod mqtt;
mod narrow_tokens;
mod page;
mod schedule;
mod startup;
mod state;
mod unprivileged;
mod webd;
