//! The trust boundary "socket peer → role": who the peer is, read from the
//! socket at accept (`SO_PEERCRED` for the uid and primary gid,
//! `SO_PEERGROUPS` for the supplementary groups), and the role that the
//! `[access]` lists give it. A peer with no role is refused before a single
//! byte of its is read.
//!
//! The groups come from the socket, never from the group database: no file
//! read and no NSS call per connection (NSS modules open sockets, which
//! hardened ledd may not), and a process that dropped a group is not
//! granted it back.

use std::io;
use std::os::fd::AsRawFd;

use tinsel_proto::Role;
use tokio::net::UnixStream;

use super::State;
use super::log_limit::peer_warn;
use crate::config::Access;

/// A peer's uid and role, from the socket (`SO_PEERCRED`,
/// `SO_PEERGROUPS`) at accept, before a byte is read; `Err` holds the
/// refusal for a peer with no role.
pub(super) fn peer_role(stream: &UnixStream, state: &State) -> Result<(u32, Role), Option<String>> {
    let cred = stream.peer_cred().map_err(|_| None)?;
    let (uid, gid) = (cred.uid(), cred.gid());
    let access = state.access().ok_or(None)?;
    // Supplementary groups from the socket, not the group database: no NSS
    // at run time (it may open sockets, which hardened ledd may not). A
    // kernel without SO_PEERGROUPS (< 4.13) leaves the primary group only.
    let groups = match peer_groups(stream) {
        Ok(g) => g,
        Err(e) => {
            peer_warn!(state, uid, "SO_PEERGROUPS failed ({e}): primary group only");
            Vec::new()
        }
    };
    match role_of(&access, uid, gid, &groups) {
        Some(role) => Ok((uid, role)),
        None => {
            peer_warn!(state, uid, gid, "refused a peer with no role");
            Err(Some(format!(
                "uid {uid} (gid {gid}) may not use ledd: add the user or one of its groups to [access] in ledd's config"
            )))
        }
    }
}

/// The most supplementary groups a process can hold (`NGROUPS_MAX`,
/// include/uapi/linux/limits.h): bounds what [`peer_groups`] allocates.
const NGROUPS_MAX: usize = 65536;

/// The supplementary groups the peer held when it connected
/// (`SO_PEERGROUPS`, Linux 4.13), as the kernel recorded them: one
/// `getsockopt`, no NSS.
pub fn peer_groups(stream: &impl AsRawFd) -> io::Result<Vec<u32>> {
    // Most processes hold a handful; ERANGE says how many to make room for.
    let mut groups: Vec<libc::gid_t> = vec![0; 32];
    loop {
        let mut len = (groups.len() * std::mem::size_of::<libc::gid_t>()) as libc::socklen_t;
        // SAFETY: `groups` is a live buffer of `len` bytes that the kernel
        // fills with at most `len` bytes of gid_t values, and `len` is a
        // live socklen_t it updates. The fd is borrowed from `stream` for
        // the call only.
        // JUSTIFICATION: neither std, tokio nor nix 0.30 wraps SO_PEERGROUPS.
        let rc = unsafe {
            libc::getsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PEERGROUPS,
                groups.as_mut_ptr().cast(),
                &mut len,
            )
        };
        let n = len as usize / std::mem::size_of::<libc::gid_t>();
        if rc == 0 {
            groups.truncate(n);
            return Ok(groups);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ERANGE) && n > groups.len() && n <= NGROUPS_MAX {
            groups.resize(n, 0);
            continue;
        }
        return Err(e);
    }
}

/// The role of a peer (`uid`, primary `gid`, supplementary `groups`) under
/// `access`, or `None` when it may not connect. root is always admin, and
/// so is the user ledd itself runs as (an ordinary user running ledd on the
/// simulated strip, then ledctl): that user could signal or ptrace ledd
/// anyway, so the role gives it nothing new.
pub fn role_of(access: &Access, uid: u32, gid: u32, groups: &[u32]) -> Option<Role> {
    if uid == 0 || uid == nix::unistd::geteuid().as_raw() || access.admin_uids.contains(&uid) {
        return Some(Role::Admin);
    }
    if in_groups(gid, groups, &access.admin_gids) {
        return Some(Role::Admin);
    }
    if access.hooks_uids.contains(&uid) || in_groups(gid, groups, &access.hooks_gids) {
        return Some(Role::Hooks);
    }
    None
}

/// Whether a peer with primary group `gid` and supplementary groups
/// `groups` (both from the socket) belongs to one of `gids`.
fn in_groups(gid: u32, groups: &[u32], gids: &[u32]) -> bool {
    gids.contains(&gid) || groups.iter().any(|g| gids.contains(g))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_groups_are_the_groups_the_peer_holds() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut got = peer_groups(&a).unwrap();
        let mut want: Vec<u32> = nix::unistd::getgroups()
            .unwrap()
            .iter()
            .map(|g| g.as_raw())
            .collect();
        got.sort_unstable();
        want.sort_unstable();
        want.dedup();
        got.dedup();
        assert_eq!(got, want);
    }

    #[test]
    fn roles_follow_the_access_lists() {
        let access = Access {
            admin_uids: vec![1000],
            admin_gids: vec![],
            hooks_uids: vec![65534],
            hooks_gids: vec![4242],
            hooks_max_brightness: None,
        };
        assert_eq!(role_of(&access, 0, 0, &[]), Some(Role::Admin));
        assert_eq!(role_of(&access, 1000, 1000, &[]), Some(Role::Admin));
        assert_eq!(role_of(&access, 65534, 65534, &[]), Some(Role::Hooks));
        assert_eq!(role_of(&access, 5000, 4242, &[]), Some(Role::Hooks));
        assert_eq!(role_of(&access, 5000, 5000, &[4242]), Some(Role::Hooks));
        assert_eq!(role_of(&access, 5000, 5000, &[7, 8]), None);
        assert_eq!(role_of(&access, 5000, 5000, &[]), None);
    }
}
