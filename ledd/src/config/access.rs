//! `[access]`: who may connect and with which role, as names or numeric
//! ids resolved (by `names.rs`) into [`Access`]. A typo is a config error
//! at start or at SIGHUP, not a silently refused client later. Also the
//! one extra the hooks role may be given: setting the brightness up to a
//! ceiling (`hooks_max_brightness`).

use tinsel_proto::Brightness;

use super::ConfigError;
use super::names::Id;
use super::raw::RawAccess;
use super::validate::Validator;

/// Who may connect, resolved to ids.
/// [`crate::server::role_of`] turns a peer into a role with these lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// Users with the admin role (root always has it).
    pub admin_uids: Vec<u32>,
    /// Groups whose members have the admin role.
    pub admin_gids: Vec<u32>,
    /// Users with the hooks role.
    pub hooks_uids: Vec<u32>,
    /// Groups whose members have the hooks role.
    pub hooks_gids: Vec<u32>,
    /// The highest brightness a hooks peer may set; `None`: hooks peers
    /// may not set brightness at all. A higher request is lowered to it.
    pub hooks_max_brightness: Option<Brightness>,
}

impl Validator<'_> {
    /// Checks `[access]`: every name must resolve.
    pub(super) fn access(&self, a: &RawAccess) -> Result<Access, ConfigError> {
        Ok(Access {
            admin_uids: self.ids(&a.admin_users, Id::User, "access.admin_users")?,
            admin_gids: self.ids(&a.admin_groups, Id::Group, "access.admin_groups")?,
            hooks_uids: self.ids(&a.hooks_users, Id::User, "access.hooks_users")?,
            hooks_gids: self.ids(&a.hooks_groups, Id::Group, "access.hooks_groups")?,
            hooks_max_brightness: match a.hooks_max_brightness {
                None => None,
                Some(n) => Some(
                    u8::try_from(n)
                        .ok()
                        .and_then(|b| Brightness::new(b).ok())
                        .ok_or_else(|| {
                            self.invalid(
                                "access.hooks_max_brightness",
                                n.to_string(),
                                "use 0 to 100 (percent), or leave it out so that hooks peers may not set brightness".into(),
                            )
                        })?,
                ),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::tests::load_text;

    #[test]
    fn users_and_groups_resolve_or_are_refused() {
        let c =
            load_text("[access]\nhooks_users = [\"root\", \"65534\"]\nadmin_groups = [\"0\"]\n")
                .unwrap();
        assert_eq!(c.access.hooks_uids, vec![0, 65534]);
        assert_eq!(c.access.admin_gids, vec![0]);
        let err = load_text("[access]\nhooks_users = [\"no-such-user-xyz\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("access.hooks_users") && err.contains("no-such-user-xyz"));
    }

    #[test]
    fn the_hooks_brightness_ceiling_is_off_by_default_and_checked() {
        assert_eq!(load_text("").unwrap().access.hooks_max_brightness, None);
        let c = load_text("[access]\nhooks_max_brightness = 40\n").unwrap();
        assert_eq!(c.access.hooks_max_brightness.map(|b| b.get()), Some(40));
        for bad in ["101", "-5"] {
            let err = load_text(&format!("[access]\nhooks_max_brightness = {bad}\n"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("access.hooks_max_brightness") && err.contains(bad),
                "{err}"
            );
            assert!(err.contains("/etc/test.toml"), "{err}");
        }
    }
}
