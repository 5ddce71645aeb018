//! Config parsing and validation: every bad value names its key and the
//! file; the example and the packaged config are valid.

use std::path::Path;

use super::*;
use crate::schedule::{Action, Trigger};
use crate::sun::SunEvent;
use tinsel_sandbox::landlock::LandlockPolicy;

const FILE: &str = "/etc/tinsel/schedd.toml";

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new(FILE))
}

/// The error for `text` (with Berlin's zone and place before it): its key
/// and message, checked to name the file.
fn error(text: &str) -> (String, String) {
    let full = format!("timezone = \"Europe/Berlin\"\nlatitude = 52.5\nlongitude = 13.4\n{text}");
    let err = parse(&full).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(FILE), "{msg}");
    (err.key().unwrap_or("").to_owned(), msg)
}

fn entry(lines: &str) -> String {
    format!("[[entries]]\n{lines}\n")
}

#[test]
fn the_example_config_is_valid() {
    let c = parse(EXAMPLE).unwrap();
    assert_eq!(c.schedule.entries.len(), 4);
    assert_eq!(c.schedule.tz, chrono_tz::Europe::Berlin);
    assert_eq!(c.zone_source, ZoneSource::Config);
    assert!(c.require_synced_clock);
    assert_eq!(
        c.schedule.entries[0].trigger,
        Trigger::Sun {
            event: SunEvent::Sunset,
            offset_minutes: 30
        }
    );
    assert_eq!(c.schedule.entries[1].action, Action::Off);
    assert_eq!(c.common.ledd_socket, Path::new(DEFAULT_LEDD_SOCKET));
}

/// The config the package installs: its one entry is disabled, so a fresh
/// install does nothing.
#[test]
fn the_packaged_config_is_valid_and_does_nothing() {
    // With the zone set: the test machine's own may be anything.
    let packaged = include_str!("../../../packaging/schedd.toml").replace(
        "# timezone = \"Europe/Berlin\"",
        "timezone = \"Europe/Berlin\"",
    );
    const PACKAGED_ZONELESS: &str = include_str!("../../../packaging/schedd.toml");
    assert_ne!(
        packaged, PACKAGED_ZONELESS,
        "the packaged timezone line moved: update this test"
    );
    let c = parse(&packaged).unwrap();
    assert!(c.schedule.entries.is_empty());
    assert_eq!(c.common.user.as_deref(), Some("tinsel-sched"));
    let enabled = packaged.replace("enabled = false", "enabled = true");
    assert_ne!(enabled, packaged);
    assert_eq!(parse(&enabled).unwrap().schedule.entries.len(), 2);
}

#[test]
fn unknown_keys_are_refused_with_their_name_and_the_file() {
    let err = parse("timezone = \"UTC\"\nlatitud = 3.0\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains(FILE) && err.contains("latitud"), "{err}");
    let err = parse(&format!(
        "timezone = \"UTC\"\n{}",
        entry("at = \"07:00\"\nanimation = \"off\"\ncolour = \"red\"")
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("colour"), "{err}");
}

#[test]
fn an_unknown_animation_names_the_entry_and_key() {
    let (key, msg) = error(&format!(
        "{}{}",
        entry("at = \"07:00\"\nanimation = \"off\""),
        entry("at = \"08:00\"\nanimation = \"disco\"")
    ));
    assert_eq!(key, "entries[1].animation");
    assert!(msg.contains("disco"), "{msg}");
}

#[test]
fn parameters_the_animation_does_not_take_are_refused() {
    let (key, msg) = error(&entry(
        "at = \"07:00\"\nanimation = \"rainbow\"\ncolor = \"red\"",
    ));
    assert_eq!(key, "entries[0].color", "{msg}");
    let (key, _) = error(&entry("at = \"07:00\"\nanimation = \"solid\"\nspeed = 200"));
    assert_eq!(key, "entries[0].speed");
    let (key, _) = error(&entry(
        "at = \"07:00\"\nanimation = \"off\"\ncolor = \"red\"",
    ));
    assert_eq!(key, "entries[0].animation");
    let (key, _) = error(&entry("at = \"07:00\"\nanimation = \"comet\"\nspeed = 5"));
    assert_eq!(key, "entries[0].speed");
    let (key, _) = error(&entry(
        "at = \"07:00\"\nanimation = \"comet\"\ncolor = \"mauve-ish\"",
    ));
    assert_eq!(key, "entries[0].color");
    let ok = parse(&format!(
        "timezone = \"UTC\"\n{}",
        entry("at = \"07:00\"\nanimation = \"comet\"\ncolor = \"#ff8800\"\nspeed = 150")
    ))
    .unwrap();
    assert_eq!(
        ok.schedule.entries[0].action.to_string(),
        "play comet color #ff8800 speed 150"
    );
}

#[test]
fn bad_times_name_the_key() {
    for at in [
        "7.30",
        "24:00",
        "07:60",
        "7:5",
        "sunset+",
        "sunset+30",
        "sunset+13h",
        "noon",
        "sunset*2m",
        "sunrise+1h-5m",
    ] {
        let (key, msg) = error(&entry(&format!("at = {at:?}\nanimation = \"off\"")));
        assert_eq!(key, "entries[0].at", "{at}: {msg}");
        assert!(msg.contains(at), "{msg}");
    }
    for (at, minutes) in [
        ("sunset", 0),
        ("sunset+30m", 30),
        ("sunrise-1h", -60),
        ("sunrise+1h15m", 75),
        ("sunset-12h", -720),
    ] {
        assert_eq!(
            parse_at(at).unwrap(),
            Trigger::Sun {
                event: if at.starts_with("sunset") {
                    SunEvent::Sunset
                } else {
                    SunEvent::Sunrise
                },
                offset_minutes: minutes
            },
            "{at}"
        );
    }
    assert!(matches!(parse_at("7:05"), Ok(Trigger::At(_))));
}

#[test]
fn sun_entries_need_the_place() {
    let err = parse(&format!(
        "timezone = \"UTC\"\n{}",
        entry("at = \"sunset\"\nanimation = \"off\"")
    ))
    .unwrap_err();
    assert_eq!(err.key(), Some("entries[0].at"), "{err}");
    assert!(err.to_string().contains("latitude"), "{err}");
    let err = parse("timezone = \"UTC\"\nlatitude = 95.0\nlongitude = 0.0\n").unwrap_err();
    assert_eq!(err.key(), Some("latitude"), "{err}");
    let err = parse("timezone = \"UTC\"\nlatitude = 5.0\nlongitude = -190.0\n").unwrap_err();
    assert_eq!(err.key(), Some("longitude"), "{err}");
    let err = parse("timezone = \"UTC\"\nlatitude = 5.0\n").unwrap_err();
    assert_eq!(err.key(), Some("longitude"), "{err}");
}

#[test]
fn weekdays_and_date_ranges_are_checked() {
    let (key, _) = error(&entry(
        "at = \"07:00\"\nanimation = \"off\"\nweekdays = [\"mon\", \"funday\"]",
    ));
    assert_eq!(key, "entries[0].weekdays[1]");
    let (key, _) = error(&entry("at = \"07:00\"\nanimation = \"off\"\nweekdays = []"));
    assert_eq!(key, "entries[0].weekdays");
    let (key, _) = error(&entry(
        "at = \"07:00\"\nanimation = \"off\"\nfrom = \"12-01\"",
    ));
    assert_eq!(key, "entries[0].until");
    let (key, _) = error(&entry(
        "at = \"07:00\"\nanimation = \"off\"\nfrom = \"02-30\"\nuntil = \"03-01\"",
    ));
    assert_eq!(key, "entries[0].from");
    let (key, _) = error(&entry(
        "at = \"07:00\"\nanimation = \"off\"\nfrom = \"12-01\"\nuntil = \"1-6\"",
    ));
    assert_eq!(key, "entries[0].until");
    assert!(
        parse_month_day("02-29").is_ok(),
        "a leap day is a day of the year"
    );
}

#[test]
fn a_disabled_entry_is_still_checked() {
    let (key, _) = error(&entry(
        "at = \"07:00\"\nanimation = \"disco\"\nenabled = false",
    ));
    assert_eq!(key, "entries[0].animation");
}

#[test]
fn the_timezone_must_be_an_iana_name() {
    let err = parse("timezone = \"CEST+2\"\n").unwrap_err();
    assert_eq!(err.key(), Some("timezone"), "{err}");
    assert!(err.to_string().contains("Europe/Berlin"), "{err}");
}

#[test]
fn defaults_and_relative_paths() {
    let c = parse("timezone = \"UTC\"\nledd_socket = \"ledd.sock\"\n").unwrap();
    assert_eq!(c.common.ledd_socket, Path::new("/etc/tinsel/ledd.sock"));
    assert!(
        c.require_synced_clock,
        "the clock gate is on unless turned off"
    );
    assert!(c.common.user.is_none());
    assert_eq!(c.common.landlock, LandlockPolicy::BestEffort);
    let err = parse("timezone = \"UTC\"\n[sandbox]\nlandlock = \"off\"\n").unwrap_err();
    assert_eq!(err.key(), Some("sandbox.landlock"), "{err}");
}

/// `sandbox.landlock` is spelled as in webd and mqttd: `best_effort` was
/// refused here alone.
#[test]
fn landlock_takes_the_spellings_every_daemon_takes() {
    for (text, policy) in [
        ("best-effort", LandlockPolicy::BestEffort),
        ("best_effort", LandlockPolicy::BestEffort),
        ("required", LandlockPolicy::Required),
    ] {
        let c = parse(&format!(
            "timezone = \"UTC\"\n[sandbox]\nlandlock = \"{text}\"\n"
        ))
        .unwrap();
        assert_eq!(c.common.landlock, policy, "{text}");
    }
    let err = parse("timezone = \"UTC\"\n[sandbox]\nlandlock = \"strict\"\n").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(FILE), "{msg}");
    assert!(msg.contains("`sandbox.landlock`"), "{msg}");
    assert!(msg.contains("\"strict\""), "{msg}");
    for spelling in ["\"best-effort\"", "\"best_effort\"", "\"required\""] {
        assert!(msg.contains(spelling), "{msg}");
    }
}

#[test]
fn the_system_zone_is_utc_without_etc_localtime() {
    let failed = || Err("no /etc/localtime".to_owned());
    assert_eq!(system_zone(failed(), false), Ok(chrono_tz::UTC));
    let err = system_zone(failed(), true).unwrap_err();
    assert!(
        err.contains("/etc/localtime") && err.contains("Europe/Berlin"),
        "{err}"
    );
    assert_eq!(
        system_zone(Ok("Europe/Berlin".to_owned()), true),
        Ok(chrono_tz::Europe::Berlin)
    );
    let err = system_zone(Ok("Mars/Olympus".to_owned()), true).unwrap_err();
    assert!(err.contains("Mars/Olympus"), "{err}");
}
