//! The identity rule of webd, schedd and mqttd: the `user` and `group` a
//! daemon started as root drops to, checked when the config is, so that
//! `--check-config` refuses exactly what the start would refuse, with exit
//! 78 naming the key and the file instead of exit 71 from the sandbox.
//!
//! The rule is the one the privilege drop enforces
//! (`tinsel_sandbox::confine::drop_privileges` and `ids::switch_to`), said
//! as config errors:
//!
//! - started as root, `user` and `group` must both be set
//!   ([`start_identity`]): the sandbox refuses root without a user, and a
//!   group left to the user's primary one is a guess the package never
//!   makes;
//! - the names must exist in `/etc/passwd` and `/etc/group`;
//! - neither may be root's: uid 0 or gid 0 would drop nothing (the sandbox
//!   refuses it as `TargetIsRoot`). This holds whoever runs the check: a
//!   config that names root is wrong for the start it is written for.

use std::path::Path;

use tinsel_sandbox::ids::{IdError, Identity};

use super::ConfigError;

/// The account a daemon's package makes for it (tinsel.sysusers), for the
/// fix in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    /// The daemon (`webd`).
    pub daemon: &'static str,
    /// Its user (`tinsel-web`).
    pub user: &'static str,
    /// Its group (`tinsel`, the group of ledd's socket).
    pub group: &'static str,
}

/// Resolves a config's `user` and `group` to the ids a daemon drops to
/// when started as root (`None` when `user` is unset), refusing a name
/// that does not exist and root's uid or gid (module docs). The error is
/// a [`ConfigError::Invalid`] naming the file and the key.
pub fn identity(
    path: &Path,
    user: Option<&str>,
    group: Option<&str>,
    account: &Account,
) -> Result<Option<Identity>, ConfigError> {
    let Some(user) = user else {
        return Ok(None);
    };
    let invalid = |key: &str, message: String| ConfigError::Invalid {
        path: path.to_owned(),
        key: key.to_owned(),
        message,
    };
    let Account {
        daemon,
        user: package_user,
        group: package_group,
    } = *account;
    let who = Identity::from_names(user, group).map_err(|e| match e {
        IdError::NoSuchUser(name) => invalid(
            "user",
            format!("no user named `{name}` in /etc/passwd: create it (the package's sysusers file makes {package_user}) or name an existing one"),
        ),
        IdError::NoSuchGroup(name) => invalid(
            "group",
            format!("no group named `{name}` in /etc/group: create it (the package's sysusers file makes {package_group}) or name an existing one"),
        ),
        other => invalid("user", other.to_string()),
    })?;
    if who.uid == 0 {
        return Err(invalid(
            "user",
            format!(
                "`{user}` is uid 0: {daemon} drops root before it starts work, and becoming root again would drop nothing; name an unprivileged user (user = \"{package_user}\", which the package's sysusers file makes)"
            ),
        ));
    }
    if who.gid == 0 {
        let what = match group {
            Some(g) => format!("`{g}` is gid 0"),
            None => format!("`group` is unset and `{user}`'s primary group is gid 0"),
        };
        return Err(invalid(
            "group",
            format!(
                "{what}: {daemon} would keep root's group after dropping root; name an unprivileged group (group = \"{package_group}\", the group of ledd's socket)"
            ),
        ));
    }
    Ok(Some(who))
}

/// [`identity`] as the start applies it: when this process is root, `user`
/// and `group` must both be set. What `--check-config` and the start both
/// call.
pub fn start_identity(
    path: &Path,
    user: Option<&str>,
    group: Option<&str>,
    account: &Account,
) -> Result<Option<Identity>, ConfigError> {
    identity_when(nix::unistd::geteuid().is_root(), path, user, group, account)
}

/// [`start_identity`] for a process that is root or not.
fn identity_when(
    root: bool,
    path: &Path,
    user: Option<&str>,
    group: Option<&str>,
    account: &Account,
) -> Result<Option<Identity>, ConfigError> {
    if root {
        let missing = match (user, group) {
            (None, _) => Some("user"),
            (Some(_), None) => Some("group"),
            _ => None,
        };
        if let Some(key) = missing {
            let Account {
                daemon,
                user: u,
                group: g,
            } = *account;
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                key: key.to_owned(),
                message: format!(
                    "{daemon} was started as root, but `user` and `group` are not both set; set them (user = \"{u}\", group = \"{g}\") so {daemon} can drop root before it starts work"
                ),
            });
        }
    }
    identity(path, user, group, account)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEBD: Account = Account {
        daemon: "webd",
        user: "tinsel-web",
        group: "tinsel",
    };
    const FILE: &str = "/etc/tinsel/webd.toml";

    /// The rule for a process that is root or not, as a key and a message.
    fn refused(root: bool, user: Option<&str>, group: Option<&str>) -> (String, String) {
        let err = identity_when(root, Path::new(FILE), user, group, &WEBD).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(FILE), "{msg}");
        (err.key().unwrap_or_default().to_owned(), msg)
    }

    /// An unprivileged user and group every test machine has: `nobody`
    /// and its primary group (`nogroup` on Debian, `nobody` elsewhere).
    fn nobody() -> (&'static str, &'static str) {
        let groups = std::fs::read_to_string("/etc/group").unwrap_or_default();
        match groups.lines().any(|l| l.starts_with("nogroup:")) {
            true => ("nobody", "nogroup"),
            false => ("nobody", "nobody"),
        }
    }

    #[test]
    fn root_s_user_or_group_is_refused_naming_the_key() {
        let (user, group) = nobody();
        for root in [true, false] {
            let (key, msg) = refused(root, Some("root"), Some(group));
            assert_eq!(key, "user", "{msg}");
            assert!(msg.contains("uid 0") && msg.contains("tinsel-web"), "{msg}");
            let (key, msg) = refused(root, Some(user), Some("root"));
            assert_eq!(key, "group", "{msg}");
            assert!(msg.contains("gid 0") && msg.contains("\"tinsel\""), "{msg}");
        }
        // Not root, a group left unset is the user's primary one: root's.
        let (key, msg) = refused(false, Some("root"), None);
        assert_eq!(key, "user", "{msg}");
    }

    #[test]
    fn as_root_user_and_group_are_both_required() {
        let (user, group) = nobody();
        let (key, msg) = refused(true, None, None);
        assert_eq!(key, "user", "{msg}");
        assert!(msg.contains("started as root"), "{msg}");
        let (key, msg) = refused(true, Some(user), None);
        assert_eq!(key, "group", "{msg}");
        assert!(
            msg.contains("user = \"tinsel-web\", group = \"tinsel\""),
            "{msg}"
        );
        let (key, _) = refused(true, None, Some(group));
        assert_eq!(key, "user");
        let who = identity_when(true, Path::new(FILE), Some(user), Some(group), &WEBD)
            .unwrap()
            .unwrap();
        assert_ne!((who.uid, who.gid), (0, 0));
    }

    #[test]
    fn not_root_nothing_is_required_and_a_user_alone_takes_its_group() {
        let (user, _) = nobody();
        assert!(
            identity_when(false, Path::new(FILE), None, None, &WEBD)
                .unwrap()
                .is_none()
        );
        let who = identity_when(false, Path::new(FILE), Some(user), None, &WEBD)
            .unwrap()
            .unwrap();
        assert_ne!(who.gid, 0);
    }

    #[test]
    fn names_that_do_not_exist_name_their_key_and_the_package_s_account() {
        let (user, _) = nobody();
        let (key, msg) = refused(false, Some("no-such-user-tinsel"), None);
        assert_eq!(key, "user");
        assert!(msg.contains("no-such-user-tinsel") && msg.contains("tinsel-web"));
        let (key, msg) = refused(false, Some(user), Some("no-such-group-tinsel"));
        assert_eq!(key, "group");
        assert!(msg.contains("no-such-group-tinsel"), "{msg}");
        // A missing group is named before root's user.
        let (key, _) = refused(true, Some("root"), Some("no-such-group-tinsel"));
        assert_eq!(key, "group");
    }
}
