//! `[page]`: whether webd serves the page, where paired devices live, the
//! animations the page offers, and the narrowing every device gets
//! (`allow_from`, `rate`, `device_days`, `max_devices`), validated into
//! [`crate::domain::page::Page`].

use tinsel_daemon::config::Validate;
use tinsel_proto::Animation;

use super::ConfigError;
use super::raw::RawPage;
use super::validate::Validator;
use crate::domain::access::Access;
use crate::domain::page::{MAX_DEVICE_DAYS, MAX_DEVICES, Page};

impl Validator<'_> {
    /// The `[page]` section; absent: off.
    pub(super) fn page(&self, raw: RawPage) -> Result<Page, ConfigError> {
        let default = Page::default();
        let devices_dir = match raw.devices_dir {
            Some(dir) if dir.as_os_str().is_empty() => {
                return Err(self.err(
                    "page.devices_dir",
                    "is empty: name the directory webd keeps paired devices in (e.g. \"/var/lib/tinsel/webd\")",
                ));
            }
            Some(dir) => self.relative(dir),
            None => default.devices_dir,
        };
        let animations = match raw.animations {
            None => default.animations,
            Some(list) if list.is_empty() => {
                return Err(self.err(
                    "page.animations",
                    "is empty: list the animations the page may play (e.g. [\"rainbow\", \"solid\"]) or remove the key for all of them",
                ));
            }
            Some(list) => {
                let mut out: Vec<Animation> = Vec::with_capacity(list.len());
                for (i, name) in list.iter().enumerate() {
                    let a: Animation = name
                        .parse()
                        .map_err(|e| self.err(format!("page.animations[{i}]"), format!("{e}")))?;
                    if !out.contains(&a) {
                        out.push(a);
                    }
                }
                out
            }
        };
        let allow_from = self.allow_from("page", raw.allow_from.as_deref())?;
        let rate = raw
            .rate
            .as_deref()
            .map(|text| self.rate("page.rate", text))
            .transpose()?;
        let device_days = match raw.device_days {
            Some(d) => self.range("page.device_days", d, 1, MAX_DEVICE_DAYS)?,
            None => default.device_days,
        };
        let max_devices = match raw.max_devices {
            Some(n) => self.range("page.max_devices", n, 1, MAX_DEVICES)?,
            None => default.max_devices,
        };
        Ok(Page {
            enabled: raw.enabled,
            devices_dir,
            animations,
            access: Access {
                state: true,
                allow_from,
                rate,
                expires: None,
            },
            device_days,
            max_devices,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::tests::{MINIMAL, parse};
    use crate::domain::page::{DEFAULT_DEVICES_DIR, DEFAULT_MAX_DEVICES};

    #[test]
    fn the_page_is_off_by_default_and_offers_every_animation_but_the_selftest() {
        let c = parse(MINIMAL).unwrap();
        assert!(!c.page.enabled);
        assert_eq!(c.page.devices_dir, Path::new(DEFAULT_DEVICES_DIR));
        assert_eq!(c.page.max_devices, DEFAULT_MAX_DEVICES);
        let names: Vec<_> = c.page.animations.iter().map(|a| a.name()).collect();
        assert!(names.contains(&"rainbow") && !names.contains(&"selftest"));
    }

    #[test]
    fn a_page_section_is_validated_key_by_key() {
        let c = parse(&format!(
            "{MINIMAL}\n[page]\nenabled = true\ndevices_dir = \"devices\"\nanimations = [\"rainbow\", \"solid\", \"rainbow\"]\nallow_from = [\"10.0.0.0/8\"]\nrate = \"30/min\"\ndevice_days = 30\nmax_devices = 4\n"
        ))
        .unwrap();
        assert!(c.page.enabled);
        assert_eq!(c.page.devices_dir, Path::new("/etc/webd/devices"));
        assert_eq!(c.page.animations.len(), 2);
        assert_eq!(c.page.device_days, 30);
        assert_eq!(c.page.max_devices, 4);
        assert!(!c.page.access.allows_from(Some("11.0.0.1".parse().unwrap())));
        for (extra, key) in [
            ("animations = [\"disco\"]", "page.animations[0]"),
            ("animations = []", "page.animations"),
            ("allow_from = []", "page.allow_from"),
            ("allow_from = [\"x\"]", "page.allow_from[0]"),
            ("rate = \"often\"", "page.rate"),
            ("device_days = 0", "page.device_days"),
            ("max_devices = 100000", "page.max_devices"),
            ("devices_dir = \"\"", "page.devices_dir"),
        ] {
            let err = parse(&format!("{MINIMAL}\n[page]\n{extra}\n")).unwrap_err();
            assert_eq!(err.key(), Some(key), "{extra}: {err}");
        }
        assert!(parse(&format!("{MINIMAL}\n[page]\npasskeys = true\n")).is_err());
    }
}
