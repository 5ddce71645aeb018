//! mqttd: the MQTT bridge that makes a tinsel tree a Home Assistant light.
//!
//! mqttd connects *out* to the user's MQTT broker, announces the tree with
//! Home Assistant's MQTT discovery, turns commands from the broker into
//! ledd requests (with ledd's `hooks` role: named animations, colour, off),
//! and publishes ledd's state whenever it changes, whichever client changed
//! it. It never binds, listens or accepts.
//!
//! Start-up is split in two so the sandbox fits between the halves:
//! [`daemon::prepare`] reads every file and resolves the broker while the
//! process has one thread; after [`sandbox::apply`] in `main`,
//! [`daemon::run`] builds a current-thread runtime and runs the bridge,
//! connecting to ledd as mqttd's own user (a connection made as root would
//! get ledd's admin role).
//!
//! Modules:
//! - [`config`]: the TOML file, validated into a type that cannot be invalid;
//! - [`command`]: a command payload, parsed strictly, into a ledd request;
//! - [`publish`]: the discovery config and the state, as JSON;
//! - [`sensors`]: the diagnostic sensors (current, frame rate, late frames);
//! - [`broker`]: addresses, TLS (rustls, ring), MQTT options, failure causes;
//! - the connection to ledd is `tinsel_client::Link`, owned by the daemon's loop;
//! - [`check`]: `--check-config`, which also asks ledd as mqttd's user;
//! - [`causes`]: the broker link's causes, each logged once per outage;
//! - [`pace`]: the discovery config republished at most once a second;
//! - [`daemon`]: the loop;
//! - [`sandbox`]: the confinement steps;
//! - [`start`]: what the daemon kit runs, in its fixed order.

pub mod args;
pub mod broker;
pub mod causes;
pub mod check;
pub mod command;
pub mod config;
pub mod daemon;
pub mod pace;
pub mod publish;
pub mod sandbox;
pub mod sensors;
pub mod start;

#[cfg(test)]
mod ha_rules;
