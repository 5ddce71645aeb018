//! `mqttd --check-config FILE`: everything the daemon reads and resolves
//! before its sandbox (keys, password and CA files, the broker's name, the
//! user), then ledd's answer *as mqttd's user*: run as root with `user`
//! set, a child (`mqttd probe-ledd`, hidden) becomes that user first,
//! since root would be given the admin role and the switch cannot be
//! undone here.

use std::path::Path;

use tinsel_sandbox::ids::Identity;

use crate::config::Config;
use crate::exit::Exit;

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
    let c = &prepared.config;
    if let Err(e) = c.identity() {
        eprintln!("mqttd: {e}");
        return Exit::Config;
    }
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
    check_ledd(c);
    Exit::Ok
}

/// Connects to ledd as mqttd will and prints the role (informational:
/// ledd may simply not run yet).
fn check_ledd(config: &Config) {
    let socket = &config.ledd_socket;
    let as_user = config
        .user
        .as_ref()
        .filter(|_| rustix::process::geteuid().is_root());
    let result = match as_user {
        Some(user) => tinsel_sandbox::probe::ledd_as(socket, user, config.group.as_deref()),
        None => probe_as(socket, None),
    };
    let who = match as_user {
        Some(user) => format!("user {user}"),
        None => format!("uid {}", rustix::process::getuid().as_raw()),
    };
    match result {
        Ok(text) => println!("ledd: {}: as {who}: {text}", socket.display()),
        Err(text) => eprintln!("mqttd: warning: ledd: as {who}: {text}"),
    }
}

/// Becomes `who` (if given), connects to ledd and describes the role.
fn probe_as(socket: &Path, who: Option<&Identity>) -> Result<String, String> {
    if let Some(who) = who {
        tinsel_sandbox::ids::switch_to(who)
            .map_err(|e| format!("cannot become uid {} gid {}: {e}", who.uid, who.gid))?;
    }
    let (_, w) = crate::ledd::connect_blocking(socket).map_err(|c| c.explain(socket))?;
    let mut text = format!("role {}, {} LEDs", w.role.name(), w.led_count);
    if w.role != tinsel_proto::Role::Hooks {
        text.push_str(
            " (mqttd needs only `hooks`: run it as its own user, listed in ledd's [access] hooks_users)",
        );
    }
    Ok(text)
}

/// `mqttd probe-ledd`: the child `--check-config` starts.
pub fn run_probe_ledd(socket: &Path, user: Option<&str>, group: Option<&str>) -> Exit {
    let who = match user {
        Some(user) => match Identity::from_names(user, group) {
            Ok(who) => Some(who),
            Err(e) => {
                println!("{e}");
                return Exit::Config;
            }
        },
        None => None,
    };
    match probe_as(socket, who.as_ref()) {
        Ok(text) => {
            println!("{text}");
            Exit::Ok
        }
        Err(text) => {
            println!("{text}");
            Exit::Unavailable
        }
    }
}
