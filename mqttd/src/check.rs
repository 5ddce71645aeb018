//! `mqttd --check-config FILE`: everything the daemon reads and resolves
//! before its sandbox (keys, password and CA files, the broker's name, the
//! user), then ledd's answer *as mqttd's user*: run as root with `user`
//! set, a child (`mqttd probe-ledd`, hidden) becomes that user first,
//! since root would be given the admin role and the switch cannot be
//! undone here.

use std::path::Path;

use crate::daemon::LEDD_PEER;
use tinsel_daemon::exit::Exit;
use tinsel_daemon::start::StartFailure as _;

/// Checks `path`; exits 0, 78 naming the key (or 69 when the broker's name
/// does not resolve).
pub fn run(path: &Path) -> Exit {
    let prepared = match crate::daemon::prepare(path) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("mqttd: {e}");
            return e.exit();
        }
    };
    // `prepare` applied the identity rule, as the start does.
    let c = &prepared.config;
    println!("{}: OK", c.path.display());
    println!(
        "broker: {}:{} ({}), tls {}, login {}",
        c.broker.host,
        c.broker.port,
        prepared
            .addrs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        if c.broker.tls { "on" } else { "off" },
        match (&c.broker.username, &prepared.password) {
            (Some(u), Some(_)) => format!("{u:?} with a password"),
            (Some(u), None) => format!("{u:?} without a password"),
            (None, _) => "anonymous".to_owned(),
        }
    );
    println!(
        "topics: {}/set, {}/state, discovery {}{}",
        c.base_topic,
        c.base_topic,
        c.discovery_topic(),
        c.group_topic
            .as_deref()
            .map(|g| format!(", group {g}"))
            .unwrap_or_default()
    );
    tinsel_daemon::probe::check_ledd(LEDD_PEER, &c.common);
    Exit::Ok
}
