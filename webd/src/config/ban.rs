//! `[ban]`: fail2ban-style failure counting, validated into [`BanPolicy`].

use std::time::Duration;

use super::ConfigError;
use super::raw::RawBan;
use super::validate::Validator;
use tinsel_daemon::config::Validate;

/// fail2ban-style failure counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BanPolicy {
    /// Failures from one IP within `window` that get it banned.
    pub max_failures: u32,
    /// The window failures are counted in.
    pub window: Duration,
    /// How long a ban lasts.
    pub ban: Duration,
    /// Failures per minute from everyone together before every hook
    /// request is refused with 429; 0 turns the global limit off.
    pub global_failures_per_minute: u32,
}

impl Validator<'_> {
    pub(super) fn ban(&self, b: &RawBan) -> Result<BanPolicy, ConfigError> {
        Ok(BanPolicy {
            max_failures: self.range("ban.max_failures", b.max_failures, 0, 1000)?,
            window: Duration::from_secs(self.range("ban.window_secs", b.window_secs, 1, 86_400)?),
            ban: Duration::from_secs(self.range("ban.ban_secs", b.ban_secs, 1, 7 * 86_400)?),
            global_failures_per_minute: self.range(
                "ban.global_failures_per_minute",
                b.global_failures_per_minute,
                0,
                100_000,
            )?,
        })
    }
}
