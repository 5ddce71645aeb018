//! `--check-config` as root tries ledd's socket as the daemon's own user,
//! since the role ledd gives depends on the uid. The switch to that user
//! cannot be undone, so it happens in a child: the daemon runs itself as
//! `probe-ledd --socket S --user U [--group G]`, a subcommand each daemon
//! has, which becomes the user, connects and prints one line.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use tinsel_client::Peer;
use tinsel_proto::{Role, Welcome};
use tinsel_sandbox::ids::{self, Identity};

use crate::config::Common;
use crate::exit::Exit;

/// How long `--check-config` waits for each step of ledd's handshake.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Connects to ledd's socket and says `Hello`, as `peer` will after its
/// privilege drop: the role ledd gives, or the cause with its fix.
pub fn reach(peer: Peer, socket: &Path) -> Result<String, String> {
    tinsel_client::blocking::probe(socket, PROBE_TIMEOUT)
        .map(|w| describe(peer, &w))
        .map_err(|cause| cause.explain(socket, peer))
}

/// The role line, with a hint when it is more than a client needs.
fn describe(peer: Peer, w: &Welcome) -> String {
    let mut text = format!("role {}, {} LEDs", w.role.name(), w.led_count);
    if w.role != Role::Hooks {
        text.push_str(&format!(
            " ({} needs only `hooks`: run it as its own user, listed in ledd's [access] hooks_users)",
            peer.program
        ));
    }
    text
}

/// `--check-config`'s ledd check: connects to the config's `ledd_socket`
/// as `peer` will. As root with `user` set that is in a child that becomes the user first
/// ([`ledd_as`]); otherwise this process [`reach`]es ledd itself. Prints
/// the role line, or a warning naming the daemon (informational: ledd may
/// simply not run yet).
pub fn check_ledd(peer: Peer, common: &Common) {
    let (socket, user, group) = (
        common.ledd_socket.as_path(),
        common.user.as_deref(),
        common.group.as_deref(),
    );
    let daemon = peer.program;
    let as_user = user.filter(|_| nix::unistd::geteuid().is_root());
    let result = match as_user {
        Some(user) => ledd_as(socket, user, group),
        None => reach(peer, socket),
    };
    let who = match as_user {
        Some(user) => format!("user {user}"),
        None => format!("uid {}", nix::unistd::getuid()),
    };
    match result {
        Ok(text) => println!("ledd: {}: as {who}: {text}", socket.display()),
        Err(text) => eprintln!("{daemon}: warning: ledd: as {who}: {text}"),
    }
}

/// The child's side, each daemon's `probe-ledd`: becomes `user`/`group`
/// (when given; needs root), then [`reach`]es ledd as `peer` and prints
/// one line. Exit 0 when ledd answered, 69 when not, 78 when the user or
/// group does not resolve.
pub fn run_child(peer: Peer, socket: &Path, user: Option<&str>, group: Option<&str>) -> Exit {
    if let Some(user) = user {
        let who = match Identity::from_names(user, group) {
            Ok(who) => who,
            Err(e) => {
                println!("{e}");
                return Exit::Config;
            }
        };
        if let Err(e) = ids::switch_to(&who) {
            println!("cannot become uid {} gid {}: {e}", who.uid, who.gid);
            return Exit::Unavailable;
        }
    }
    match reach(peer, socket) {
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

/// Runs this executable's `probe-ledd` for `socket` as `user`/`group` and
/// returns the line it printed: `Ok` when it reached ledd, `Err` with the
/// reason otherwise.
pub fn ledd_as(socket: &Path, user: &str, group: Option<&str>) -> Result<String, String> {
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot run myself to try ledd's socket: {e}"))?;
    let mut cmd = Command::new(exe);
    cmd.arg("probe-ledd")
        .arg("--socket")
        .arg(socket)
        .arg("--user")
        .arg(user);
    if let Some(group) = group {
        cmd.arg("--group").arg(group);
    }
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run myself to try ledd's socket: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}
