//! `--check-config` as root tries ledd's socket as the daemon's own user,
//! since the role ledd gives depends on the uid. The switch to that user
//! cannot be undone, so it happens in a child: the daemon runs itself as
//! `probe-ledd --socket S --user U [--group G]`, a subcommand each daemon
//! has, which becomes the user, connects and prints one line.

use std::path::Path;
use std::process::{Command, Stdio};

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
