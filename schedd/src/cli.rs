//! schedd's one-shot commands: `schedd next`, what the schedule will do,
//! as a table a person reads (and tests compare): the state now, then the
//! next fires with their local time, entry, trigger and action; and
//! `--check-config`.

use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, Utc};
use tinsel_daemon::start::StartFailure as _;

use crate::config::{Config, ZoneSource};
use crate::daemon::StartError;
use tinsel_daemon::exit::Exit;

/// The most fires `schedd next --count` prints.
pub const MAX_COUNT: usize = 1000;

/// Loads the config at `path`; a failure is said on stderr and is the
/// exit code the start would end with.
fn load(path: &Path) -> Result<Config, Exit> {
    Config::load(path).map_err(|e| {
        eprintln!("schedd: {e}");
        StartError::Config(e).exit()
    })
}

/// `schedd next [--config FILE] [-n N] [--from TIME]`.
pub fn next(path: &Path, count: usize, from: Option<&str>) -> Exit {
    let now = match from.map(DateTime::parse_from_rfc3339).transpose() {
        Ok(t) => t.map_or_else(Utc::now, |t| t.with_timezone(&Utc)),
        Err(e) => {
            eprintln!(
                "schedd: --from {:?}: {e}; write an RFC 3339 instant like 2026-12-24T17:00:00+01:00",
                from.unwrap_or_default()
            );
            return Exit::Usage;
        }
    };
    let config = match load(path) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    print!("{}", next_report(&config, now, count));
    Exit::Ok
}

/// `schedd --check-config FILE`: exits 0, or the code the start would
/// end with, naming the file and the key.
pub fn check_config(path: &Path) -> Exit {
    let config = match load(path) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    if let Err(e) = config.common.start_identity() {
        eprintln!("schedd: {e}");
        return Exit::Config;
    }
    let n = config.schedule.entries.len();
    println!(
        "{}: ok: {n} entr{} enabled, time zone {}",
        path.display(),
        if n == 1 { "y" } else { "ies" },
        config.schedule.tz.name()
    );
    Exit::Ok
}

/// The report for `config` at `now`: the zone, the state now, the next
/// `count` fires.
pub fn next_report(config: &Config, now: DateTime<Utc>, count: usize) -> String {
    let s = &config.schedule;
    let fmt = |at: DateTime<Utc>| s.local(at).format("%a %Y-%m-%d %H:%M %Z").to_string();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "time zone {} ({}){}",
        s.tz.name(),
        match config.zone_source {
            ZoneSource::Config => "from the config",
            ZoneSource::System => "the system's",
        },
        s.place
            .map(|p| format!(", sun at {:.4}, {:.4}", p.latitude(), p.longitude()))
            .unwrap_or_default()
    );
    if s.entries.is_empty() {
        let _ = writeln!(
            out,
            "no entries are enabled: nothing will happen (see schedd --example-config)"
        );
        return out;
    }
    match s.current(now) {
        Some(f) => {
            let e = s.entry(&f);
            let _ = writeln!(
                out,
                "now {}: {} since {} ({})",
                fmt(now),
                e.action,
                fmt(f.at),
                e.name
            );
        }
        None => {
            let _ = writeln!(
                out,
                "now {}: nothing scheduled yet (no entry fired in the last two years)",
                fmt(now)
            );
        }
    }
    let fires = s.next(now, count);
    if fires.is_empty() {
        let _ = writeln!(out, "no entry fires in the next two years");
    }
    let width = fires
        .iter()
        .map(|f| s.entry(f).name.len())
        .max()
        .unwrap_or(0);
    for f in &fires {
        let e = s.entry(f);
        let _ = writeln!(
            out,
            "{}  {:width$}  {:13}  {}",
            fmt(f.at),
            e.name,
            e.trigger.to_string(),
            e.action
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holiday_example_reads_as_a_table() {
        let c = Config::parse(crate::config::EXAMPLE, std::path::Path::new("/x.toml")).unwrap();
        let now = DateTime::parse_from_rfc3339("2026-12-24T12:00:00+01:00")
            .unwrap()
            .with_timezone(&Utc);
        let text = next_report(&c, now, 3);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "time zone Europe/Berlin (from the config), sun at 52.5200, 13.4050"
        );
        assert_eq!(
            lines[1],
            "now Thu 2026-12-24 12:00 CET: off since Wed 2026-12-23 23:00 CET (holiday-off)"
        );
        assert!(lines[2].starts_with("Thu 2026-12-24 16:"), "{text}");
        assert!(
            lines[2].contains("holiday-on")
                && lines[2].ends_with("sunset+30m     play fairy-lights"),
            "{text}"
        );
        assert_eq!(
            lines[3],
            "Thu 2026-12-24 23:00 CET  holiday-off  23:00          off"
        );
        assert!(lines[4].starts_with("Fri 2026-12-25 16:"), "{text}");
        assert_eq!(lines.len(), 5);
    }

    #[test]
    fn an_empty_schedule_says_nothing_will_happen() {
        let c = Config::parse("timezone = \"UTC\"\n", std::path::Path::new("/x.toml")).unwrap();
        let text = next_report(&c, Utc::now(), 5);
        assert!(text.contains("nothing will happen"), "{text}");
    }
}
