//! `user` and `group`: the names webd drops to when started as root. At
//! parse time only their syntax is checked (the config may be checked on
//! another machine); [`Config::identity`] resolves them with
//! `tinsel_sandbox::ids`, the one user and group resolver of the
//! workspace, naming the key when one does not exist.

use tinsel_sandbox::ids::Identity;

use super::validate::Validator;
use super::{Config, ConfigError};
use tinsel_daemon::config::Validate;

impl Validator<'_> {
    /// Refuses a `user` or `group` that no system could have: empty, or
    /// holding a character that ends a passwd/group field or line.
    pub(super) fn names(&self, user: Option<&str>, group: Option<&str>) -> Result<(), ConfigError> {
        for (key, v) in [("user", user), ("group", group)] {
            if let Some(v) = v
                && (v.is_empty() || v.contains(['\0', ':', '\n']))
            {
                return Err(self.err(key, format!("`{v}` is not a user or group name")));
            }
        }
        Ok(())
    }
}

impl Config {
    /// Resolves `user` and `group` to the ids webd drops to when started
    /// as root (`None` when `user` is unset). A name that does not exist is
    /// a config error naming the key, caught by `--check-config` rather
    /// than by the sandbox step at start.
    pub fn identity(&self) -> Result<Option<Identity>, ConfigError> {
        tinsel_daemon::config::identity(
            &self.path,
            self.user.as_deref(),
            self.group.as_deref(),
            &ACCOUNT,
        )
    }

    /// [`Config::identity`] with the start's rule: started as root, `user`
    /// and `group` must both be set. What the start and `--check-config`
    /// call, so that both refuse the same configs.
    pub fn start_identity(&self) -> Result<Option<Identity>, ConfigError> {
        tinsel_daemon::config::start_identity(
            &self.path,
            self.user.as_deref(),
            self.group.as_deref(),
            &ACCOUNT,
        )
    }
}

/// webd's account in the package (tinsel.sysusers).
const ACCOUNT: tinsel_daemon::config::Account = tinsel_daemon::config::Account {
    daemon: "webd",
    user: "tinsel-web",
    group: "tinsel",
};

#[cfg(test)]
mod tests {
    use crate::config::tests::{MINIMAL, parse};

    #[test]
    fn users_and_groups_that_do_not_exist_name_their_key() {
        let with = |lines: &str| parse(&format!("{lines}{MINIMAL}")).unwrap().identity();
        let err = with("user = \"no-such-user-tinsel\"\n").unwrap_err();
        assert_eq!(err.key(), Some("user"), "{err}");
        assert!(err.to_string().contains("no-such-user-tinsel"), "{err}");
        assert!(err.to_string().contains("/etc/webd/webd.toml"), "{err}");
        let err = with("user = \"root\"\ngroup = \"no-such-group-tinsel\"\n").unwrap_err();
        assert_eq!(err.key(), Some("group"), "{err}");
        assert!(err.to_string().contains("no-such-group-tinsel"), "{err}");
        assert!(with("").unwrap().is_none());
        // root resolves, and is refused: dropping to it would drop nothing.
        let err = with("user = \"root\"\n").unwrap_err();
        assert_eq!(err.key(), Some("user"), "{err}");
        assert!(err.to_string().contains("uid 0"), "{err}");
    }
}
