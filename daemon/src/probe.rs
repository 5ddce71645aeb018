//! `--check-config` as root tries ledd's socket as the daemon's own user,
//! since the role ledd gives depends on the uid. The switch to that user
//! cannot be undone, so it happens in a child: the daemon runs itself as
//! `probe-ledd --socket S --user U [--group G]`, a subcommand each daemon
//! has, which becomes the user, connects and prints one line.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::exit::Exit;
use tinsel_sandbox::ids::{self, Identity};

/// `--check-config`'s ledd check: connects to `socket` as the daemon will.
/// As root with `user` set that is in a child that becomes the user first
/// ([`ledd_as`]); otherwise this process `reach`es ledd itself. Prints the
/// role line, or a warning naming `daemon` (informational: ledd may simply
/// not run yet).
pub fn check_ledd(
    daemon: &str,
    socket: &Path,
    user: Option<&str>,
    group: Option<&str>,
    reach: impl FnOnce() -> Result<String, String>,
) {
    let as_user = user.filter(|_| nix::unistd::geteuid().is_root());
    let result = match as_user {
        Some(user) => ledd_as(socket, user, group),
        None => reach(),
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
/// (when given; needs root), then `reach`es ledd and prints one line.
/// Exit 0 when ledd answered, 69 when not, 78 when the user or group does
/// not resolve.
pub fn run_child(
    user: Option<&str>,
    group: Option<&str>,
    reach: impl FnOnce() -> Result<String, String>,
) -> Exit {
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
    match reach() {
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
