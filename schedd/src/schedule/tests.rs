//! The schedule against an injected clock: DST changes in Europe/Berlin,
//! a date range over the new year, weekdays, ties, sunset across a change.

use chrono::{DateTime, NaiveDate, Utc};

use super::*;
use crate::config::Config;

/// A schedule in Europe/Berlin at Berlin's coordinates, from `entries`
/// (TOML `[[entries]]` tables).
fn berlin(entries: &str) -> Schedule {
    let text =
        format!("timezone = \"Europe/Berlin\"\nlatitude = 52.52\nlongitude = 13.405\n{entries}");
    Config::parse(&text, std::path::Path::new("/etc/tinsel/schedd.toml"))
        .unwrap()
        .schedule
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn names(s: &Schedule, fires: &[Fire]) -> Vec<String> {
    fires
        .iter()
        .map(|f| format!("{} {}", f.at.to_rfc3339(), s.entry(f).name))
        .collect()
}

fn current_name(s: &Schedule, at: &str) -> Option<String> {
    s.current(utc(at)).map(|f| s.entry(&f).name.clone())
}

const EVENING: &str = r#"
[[entries]]
name = "on"
at = "02:30"
animation = "fire"
[[entries]]
name = "off"
at = "01:00"
animation = "off"
"#;

/// 2026-03-29, Berlin: 02:00 CET jumps to 03:00 CEST (01:00 UTC), so 02:30
/// never happens that day. The entry fires when the clocks jump.
#[test]
fn a_time_skipped_by_spring_forward_fires_when_the_clocks_jump() {
    let s = berlin(EVENING);
    let fires = s.next(utc("2026-03-28T12:00:00Z"), 3);
    assert_eq!(
        names(&s, &fires),
        [
            // 01:00 CET, before the change.
            "2026-03-29T00:00:00+00:00 off",
            // 02:30 does not exist: 03:00 CEST.
            "2026-03-29T01:00:00+00:00 on",
            // The day after, 01:00 CEST and 02:30 CEST.
            "2026-03-29T23:00:00+00:00 off",
        ]
    );
    assert_eq!(
        current_name(&s, "2026-03-29T00:59:59Z").as_deref(),
        Some("off")
    );
    assert_eq!(
        current_name(&s, "2026-03-29T01:00:00Z").as_deref(),
        Some("on")
    );
    assert_eq!(
        s.next(utc("2026-03-30T00:00:00Z"), 1)[0].at,
        utc("2026-03-30T00:30:00Z"),
        "the next day's 02:30 is CEST"
    );
}

/// 2026-10-25, Berlin: 03:00 CEST falls back to 02:00 CET (01:00 UTC), so
/// 02:30 happens twice. The entry fires once, at the first.
#[test]
fn a_time_repeated_by_fall_back_fires_once() {
    let s = berlin(EVENING);
    let fires = s.next(utc("2026-10-24T12:00:00Z"), 4);
    assert_eq!(
        names(&s, &fires),
        [
            "2026-10-24T23:00:00+00:00 off",
            // 02:30 CEST; not again at 02:30 CET (01:30 UTC).
            "2026-10-25T00:30:00+00:00 on",
            // The next day is CET.
            "2026-10-26T00:00:00+00:00 off",
            "2026-10-26T01:30:00+00:00 on",
        ]
    );
    assert_eq!(
        current_name(&s, "2026-10-25T01:45:00Z").as_deref(),
        Some("on"),
        "the second 02:30 changes nothing"
    );
}

/// Sunset moves by about two minutes a day in UTC across the spring change
/// (17:33 UTC on 28 March, 17:35 UTC on 29 March), while the local time
/// jumps by an hour (18:33 CET to 19:35 CEST); an offset is added in real
/// time.
#[test]
fn sunset_across_the_dst_change_follows_the_sun_not_the_clock() {
    let s = berlin("[[entries]]\nname = \"dusk\"\nat = \"sunset+30m\"\nanimation = \"fire\"\n");
    let fires = s.next(utc("2026-03-28T00:00:00Z"), 2);
    let (sat, sun) = (fires[0].at, fires[1].at);
    let place = s.place.unwrap();
    for (fire, day) in [(sat, 28), (sun, 29)] {
        let date = NaiveDate::from_ymd_opt(2026, 3, day).unwrap();
        let sunset = crate::sun::event(place, date, crate::sun::SunEvent::Sunset).unwrap();
        assert_eq!(fire, sunset + chrono::Duration::minutes(30));
    }
    let gap = (sun - sat).num_minutes();
    assert!((24 * 60..24 * 60 + 5).contains(&gap), "{gap} minutes");
    // Within two minutes of the almanac: 18:33 CET and 19:35 CEST, +30m.
    for (got, want) in [
        (sat, utc("2026-03-28T19:03:00+01:00")),
        (sun, utc("2026-03-29T20:05:00+02:00")),
    ] {
        assert!((got - want).num_seconds().abs() <= 120, "{got} vs {want}");
    }
    assert_eq!(s.local(sat).format("%H").to_string(), "19");
    assert_eq!(s.local(sun).format("%H").to_string(), "20");
}

/// Sunset across the autumn change: about two minutes earlier in UTC
/// each day, an hour earlier by the clock on the day of the change.
#[test]
fn sunset_across_the_fall_back_change() {
    let s = berlin("[[entries]]\nat = \"sunset\"\nanimation = \"fire\"\n");
    let fires = s.next(utc("2026-10-24T00:00:00Z"), 2);
    let gap = (fires[0].at - fires[1].at).num_minutes() + 24 * 60;
    assert!((1..5).contains(&gap), "{gap} minutes earlier");
    let hour = |f: &Fire| s.local(f.at).format("%H").to_string();
    assert_eq!(
        (hour(&fires[0]).as_str(), hour(&fires[1]).as_str()),
        ("17", "16")
    );
}

const NEW_YEAR: &str = r#"
[[entries]]
name = "party"
at = "20:00"
from = "12-31"
until = "01-01"
animation = "rainbow"
"#;

#[test]
fn a_date_range_spans_the_new_year() {
    let s = berlin(NEW_YEAR);
    let fires = s.next(utc("2026-12-30T12:00:00Z"), 3);
    assert_eq!(
        names(&s, &fires),
        [
            "2026-12-31T19:00:00+00:00 party",
            "2027-01-01T19:00:00+00:00 party",
            "2027-12-31T19:00:00+00:00 party",
        ]
    );
    assert_eq!(
        s.current(utc("2027-06-01T00:00:00Z")).map(|f| f.at),
        Some(utc("2027-01-01T19:00:00Z")),
        "the last fire, five months back"
    );
    assert_eq!(
        s.current(utc("2026-12-31T18:59:59Z")).map(|f| f.at),
        Some(utc("2026-01-01T19:00:00Z"))
    );
    let range = s.entries[0].range.unwrap();
    let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    assert!(range.contains(d(2026, 12, 31)));
    assert!(range.contains(d(2027, 1, 1)));
    assert!(!range.contains(d(2027, 1, 2)));
    assert!(!range.contains(d(2026, 12, 30)));
}

#[test]
fn the_holiday_example_is_on_after_sunset_and_off_at_eleven() {
    let c = Config::parse(crate::config::EXAMPLE, std::path::Path::new("/x.toml")).unwrap();
    let s = c.schedule;
    let at = |t: &str| current_name(&s, t);
    assert_eq!(
        at("2026-12-24T17:00:00+01:00").as_deref(),
        Some("holiday-on")
    );
    assert_eq!(
        at("2026-12-24T23:30:00+01:00").as_deref(),
        Some("holiday-off")
    );
    // Before the season: still off from the last season's end.
    assert_eq!(
        at("2026-11-30T18:00:00+01:00").as_deref(),
        Some("holiday-off")
    );
    assert_eq!(
        s.current(utc("2026-11-30T18:00:00+01:00")).map(|f| f.at),
        Some(utc("2026-01-06T23:00:00+01:00"))
    );
    // The first evening of the season.
    let first = s.next(utc("2026-11-30T12:00:00Z"), 1)[0];
    assert_eq!(s.entry(&first).name, "holiday-on");
    assert_eq!(
        s.local(first.at).date_naive(),
        NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
    );
    // After the season nothing fires until the next 1 December.
    let after = s.next(utc("2027-01-07T00:00:00Z"), 1)[0];
    assert_eq!(
        s.local(after.at).date_naive(),
        NaiveDate::from_ymd_opt(2027, 12, 1).unwrap()
    );
}

#[test]
fn weekdays_limit_the_days() {
    let s = berlin(
        "[[entries]]\nname = \"w\"\nat = \"07:00\"\nweekdays = [\"mon\", \"Friday\"]\nanimation = \"off\"\n",
    );
    // 2026-12-06 is a Sunday.
    let fires = s.next(utc("2026-12-06T12:00:00Z"), 3);
    let days: Vec<String> = fires
        .iter()
        .map(|f| s.local(f.at).format("%a %d %H:%M").to_string())
        .collect();
    assert_eq!(days, ["Mon 07 07:00", "Fri 11 07:00", "Mon 14 07:00"]);
    assert_eq!(
        s.current(utc("2026-12-10T12:00:00Z")).map(|f| f.at),
        Some(utc("2026-12-07T06:00:00Z")),
        "Thursday: still Monday's"
    );
}

#[test]
fn at_the_same_instant_the_later_entry_wins() {
    let s = berlin(
        "[[entries]]\nname = \"a\"\nat = \"18:00\"\nanimation = \"fire\"\n[[entries]]\nname = \"b\"\nat = \"18:00\"\nanimation = \"off\"\n",
    );
    assert_eq!(
        current_name(&s, "2026-12-06T17:00:00Z").as_deref(),
        Some("b")
    );
    let fires = s.next(utc("2026-12-06T12:00:00Z"), 2);
    assert_eq!(
        names(&s, &fires),
        ["2026-12-06T17:00:00+00:00 a", "2026-12-06T17:00:00+00:00 b"]
    );
}

#[test]
fn a_fire_at_exactly_now_is_current_not_next() {
    let s = berlin("[[entries]]\nname = \"x\"\nat = \"18:00\"\nanimation = \"off\"\n");
    let now = utc("2026-12-06T17:00:00Z");
    assert_eq!(s.current(now).map(|f| f.at), Some(now));
    assert_eq!(s.next(now, 1)[0].at, utc("2026-12-07T17:00:00Z"));
}

#[test]
fn nothing_scheduled_means_no_state() {
    let s = berlin("");
    assert_eq!(s.current(utc("2026-12-06T17:00:00Z")), None);
    assert!(s.next(utc("2026-12-06T17:00:00Z"), 5).is_empty());
    let disabled = berlin("[[entries]]\nat = \"18:00\"\nanimation = \"off\"\nenabled = false\n");
    assert!(disabled.entries.is_empty());
}

#[test]
fn triggers_print_as_written() {
    for s in [
        "07:30",
        "sunset",
        "sunset+30m",
        "sunrise-1h",
        "sunset+1h15m",
    ] {
        let t = crate::config::parse_at(s).unwrap();
        assert_eq!(t.to_string(), s);
    }
}
