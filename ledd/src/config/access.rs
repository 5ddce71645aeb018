//! `[access]`: who may connect and with which role, as names or numeric
//! ids resolved (by `names.rs`) into [`Access`]. A typo is a config error
//! at start or at SIGHUP, not a silently refused client later.

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
}

impl Validator<'_> {
    /// Checks `[access]`: every name must resolve.
    pub(super) fn access(&self, a: &RawAccess) -> Result<Access, ConfigError> {
        Ok(Access {
            admin_uids: self.ids(&a.admin_users, Id::User, "access.admin_users")?,
            admin_gids: self.ids(&a.admin_groups, Id::Group, "access.admin_groups")?,
            hooks_uids: self.ids(&a.hooks_users, Id::User, "access.hooks_users")?,
            hooks_gids: self.ids(&a.hooks_groups, Id::Group, "access.hooks_groups")?,
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
}
