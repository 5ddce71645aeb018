//! The keys every client of ledd has in its config, validated once:
//! `ledd_socket` (where ledd listens; relative to the config file, ledd's
//! packaged socket when unset), `user` and `group` (whom to become when
//! started as root: [`super::identity`]'s rule), and `[sandbox] landlock`
//! (whether Landlock may be missing: `LandlockPolicy::parse`). webd,
//! schedd and mqttd each hold one [`Common`] in their `Config`.

use std::path::PathBuf;

use serde::Deserialize;
use tinsel_sandbox::ids::Identity;
use tinsel_sandbox::landlock::{self, LandlockPolicy};

use super::identity::{Account, identity, start_identity};
use super::{ConfigError, Validate};

/// Where ledd listens when the config does not say: the socket its
/// package's `ledd.socket` unit makes.
pub const DEFAULT_LEDD_SOCKET: &str = "/run/tinsel/ledd.sock";

/// The common keys as the file has them; a daemon's raw config holds
/// these four fields under the same names (its own struct refuses unknown
/// keys, so they cannot be a flattened struct).
#[derive(Debug, Default)]
pub struct RawCommon {
    /// `ledd_socket`.
    pub ledd_socket: Option<PathBuf>,
    /// `user`.
    pub user: Option<String>,
    /// `group`.
    pub group: Option<String>,
    /// `[sandbox]`.
    pub sandbox: RawSandbox,
}

/// The `[sandbox]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSandbox {
    /// `landlock`: `"best-effort"` (default) or `"required"`.
    pub landlock: Option<String>,
}

/// The common keys, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Common {
    /// The config file they came from.
    pub path: PathBuf,
    /// ledd's socket, absolute or relative to the working directory.
    pub ledd_socket: PathBuf,
    /// The user to become when started as root.
    pub user: Option<String>,
    /// Its group.
    pub group: Option<String>,
    /// Whether Landlock may be missing.
    pub landlock: LandlockPolicy,
    /// The daemon's packaged account, for the fixes in messages.
    pub account: Account,
}

impl Common {
    /// Validates the common keys of the config `v` is validating, for the
    /// daemon whose package makes `account`.
    pub fn validate(
        v: &impl Validate,
        account: Account,
        raw: RawCommon,
    ) -> Result<Common, ConfigError> {
        let ledd_socket = raw
            .ledd_socket
            .unwrap_or_else(|| PathBuf::from(DEFAULT_LEDD_SOCKET));
        if ledd_socket.as_os_str().is_empty() {
            return Err(v.err(
                "ledd_socket",
                format!(
                    "is empty: give the path of ledd's socket ({DEFAULT_LEDD_SOCKET} as packaged)"
                ),
            ));
        }
        for (key, name) in [("user", &raw.user), ("group", &raw.group)] {
            if let Some(name) = name
                && (name.is_empty() || name.contains(['\0', ':', '\n']))
            {
                return Err(v.err(key, format!("`{name}` is not a user or group name")));
            }
        }
        let landlock = LandlockPolicy::parse(raw.sandbox.landlock.as_deref())
            .map_err(|e| v.err(landlock::POLICY_KEY, e.to_string()))?;
        Ok(Common {
            path: v.file().to_owned(),
            ledd_socket: v.relative(ledd_socket),
            user: raw.user,
            group: raw.group,
            landlock,
            account,
        })
    }

    /// Resolves `user` and `group` to the ids the daemon drops to when
    /// started as root (`None` when `user` is unset); a name that does not
    /// exist, or root's, is an error naming its key ([`super::identity`]).
    pub fn identity(&self) -> Result<Option<Identity>, ConfigError> {
        identity(
            &self.path,
            self.user.as_deref(),
            self.group.as_deref(),
            &self.account,
        )
    }

    /// [`Common::identity`] with the start's rule: started as root, `user`
    /// and `group` must both be set. What the start and `--check-config`
    /// both call, so that both refuse the same configs.
    pub fn start_identity(&self) -> Result<Option<Identity>, ConfigError> {
        start_identity(
            &self.path,
            self.user.as_deref(),
            self.group.as_deref(),
            &self.account,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    struct V(PathBuf);

    impl Validate for V {
        fn file(&self) -> &Path {
            &self.0
        }
    }

    const ACCOUNT: Account = Account {
        daemon: "d",
        user: "tinsel-d",
        group: "tinsel",
    };

    fn common(raw: RawCommon) -> Result<Common, ConfigError> {
        Common::validate(&V("/etc/tinsel/d.toml".into()), ACCOUNT, raw)
    }

    #[test]
    fn defaults_and_relative_paths() {
        let c = common(RawCommon::default()).unwrap();
        assert_eq!(c.ledd_socket, Path::new(DEFAULT_LEDD_SOCKET));
        assert_eq!(c.landlock, LandlockPolicy::BestEffort);
        let c = common(RawCommon {
            ledd_socket: Some("ledd.sock".into()),
            ..RawCommon::default()
        })
        .unwrap();
        assert_eq!(c.ledd_socket, Path::new("/etc/tinsel/ledd.sock"));
    }

    #[test]
    fn each_bad_value_names_its_key() {
        let key = |raw: RawCommon| common(raw).unwrap_err().key().map(str::to_owned);
        assert_eq!(
            key(RawCommon {
                ledd_socket: Some(PathBuf::new()),
                ..RawCommon::default()
            }),
            Some("ledd_socket".into())
        );
        assert_eq!(
            key(RawCommon {
                user: Some("a:b".into()),
                ..RawCommon::default()
            }),
            Some("user".into())
        );
        assert_eq!(
            key(RawCommon {
                group: Some(String::new()),
                ..RawCommon::default()
            }),
            Some("group".into())
        );
        assert_eq!(
            key(RawCommon {
                sandbox: RawSandbox {
                    landlock: Some("off".into())
                },
                ..RawCommon::default()
            }),
            Some(landlock::POLICY_KEY.into())
        );
    }
}
