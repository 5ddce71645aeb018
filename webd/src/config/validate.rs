//! The validation driver: [`Validator`] (its helpers, errors naming the
//! key, paths relative to the config file and ranges, come with
//! `tinsel_daemon::config::Validate`, shared with schedd and mqttd),
//! and [`Validator::config`], which checks the sections in a fixed order. The
//! checks of each section live in that section's file.

use std::path::Path;

use tinsel_daemon::config::{Common, RawCommon, Validate};

use super::raw::RawConfig;
use super::{ACCOUNT, Config, ConfigError};

/// Turns the raw sections into validated ones; every error names the file
/// and the key. Each section's checks are in that section's file.
pub(super) struct Validator<'a> {
    pub(super) path: &'a Path,
}

impl Validate for Validator<'_> {
    fn file(&self) -> &Path {
        self.path
    }
}

impl Validator<'_> {
    /// Validates every section, in file order: the first bad key is the
    /// one reported.
    pub(super) fn config(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        let listen = self.listen(raw.listen.as_deref())?;
        let common = Common::validate(
            self,
            ACCOUNT,
            RawCommon {
                ledd_socket: raw.ledd_socket,
                user: raw.user,
                group: raw.group,
                sandbox: raw.sandbox,
            },
        )?;
        let trusted_proxies = self.trusted_proxies(&raw.trusted_proxies)?;
        let client_header = self.client_header(raw.client_address_header.as_deref())?;
        let (tls, client_auth) = self.tls(raw.tls)?;
        let limits = self.limits(&raw.limits)?;
        let ban = self.ban(&raw.ban)?;
        let hooks = self.hooks(raw.hooks)?;
        let tokens = self.tokens(raw.tokens, &hooks)?;
        self.client_cert_tokens(&client_auth, &tokens)?;
        let page = self.page(raw.page)?;
        Ok(Config {
            path: self.path.to_owned(),
            listen,
            common,
            trusted_proxies,
            client_header,
            tls,
            client_auth,
            limits,
            ban,
            tokens,
            hooks,
            page,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{MINIMAL, parse};

    #[test]
    fn bad_values_name_their_key() {
        let cases = [
            ("listen = \"8443\"\n", "listen"),
            (
                "trusted_proxies = [\"10.0.0.0/33\"]\n",
                "trusted_proxies[0]",
            ),
            (
                "client_address_header = \"forwarded\"\n",
                "client_address_header",
            ),
            (
                "[limits]\nheader_timeout_secs = 6\n",
                "limits.header_timeout_secs",
            ),
            ("[limits]\nmax_body_bytes = 5000\n", "limits.max_body_bytes"),
            ("[hooks.x]\nanimation = \"disco\"\n", "hooks.x.animation"),
            (
                "[hooks.x]\nanimation = \"solid\"\ncolor = \"mauve\"\n",
                "hooks.x.color",
            ),
            (
                "[hooks.x]\nanimation = \"solid\"\nspeed = 5\n",
                "hooks.x.speed",
            ),
            (
                "[hooks.x]\nanimation = \"solid\"\nrequest_colors = [\"red\", \"plaid\"]\n",
                "hooks.x.request_colors[1]",
            ),
            ("[hooks.X]\nanimation = \"solid\"\n", "hooks.X"),
            // Parameters the animation does not use: ledd would refuse them.
            (
                "[hooks.x]\nanimation = \"rainbow\"\ncolor = \"red\"\n",
                "hooks.x.color",
            ),
            (
                "[hooks.x]\nanimation = \"solid\"\nspeed = 200\n",
                "hooks.x.speed",
            ),
            (
                "[hooks.x]\nanimation = \"fire\"\nrequest_colors = [\"red\"]\n",
                "hooks.x.request_colors",
            ),
            (
                "[hooks.x]\nanimation = \"gradient\"\nrequest_speed = true\n",
                "hooks.x.request_speed",
            ),
            (
                "[hooks.x]\nanimation = \"off\"\ncolor = \"red\"\n",
                "hooks.x.animation",
            ),
            (
                "[[tokens]]\nname = \"a\"\nsha256 = \"abc\"\nhooks = [\"*\"]\n",
                "tokens[0].sha256",
            ),
            (
                "[[tokens]]\nname = \"a\"\nhmac_secret = \"c2hvcnQ\"\nhooks = [\"*\"]\n",
                "tokens[0].hmac_secret",
            ),
            (
                "[[tokens]]\nname = \"a\"\nhooks = [\"*\"]\n",
                "tokens[0].sha256",
            ),
            (
                "[[tokens]]\nname = \"a\"\nsha256 = \"00000000000000000000000000000000000000000000000000000000000000aa\"\nhooks = [\"nope\"]\n",
                "tokens[0].hooks[0]",
            ),
        ];
        for (extra, key) in cases {
            // Top-level keys must come before the [tls] table.
            let text = if extra.starts_with('[') {
                format!("{MINIMAL}\n{extra}")
            } else {
                format!("{extra}{MINIMAL}")
            };
            let err = parse(&text).expect_err(extra);
            assert_eq!(err.key(), Some(key), "{err}");
            assert!(err.to_string().contains("/etc/webd/webd.toml"), "{err}");
        }
    }
}
