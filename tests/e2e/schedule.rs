//! schedd end to end: the real ledd and the real schedd, with a config
//! whose one entry fired at the start of the current minute (so it is the
//! scheduled state the moment schedd starts: no clock override needed).
//! schedd must make ledd play it, and put it back after ledd is killed
//! and started again.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::fixtures::{Ledd, Webd, chmod, user_lines};
use crate::harness::{Daemon, bin, run, stderr, stdout, wait_for};

/// `HH:MM` of the current UTC minute: an entry at this time has fired.
fn this_minute_utc() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let minute_of_day = (secs % 86_400) / 60;
    format!("{:02}:{:02}", minute_of_day / 60, minute_of_day % 60)
}

/// Writes `DIR/schedd.toml` with one entry at `at` playing candy-cane.
fn write_config(dir: &Path, at: &str) -> std::path::PathBuf {
    let path = dir.join("schedd.toml");
    std::fs::write(
        &path,
        format!(
            "ledd_socket = \"ledd.sock\"\ntimezone = \"UTC\"\nrequire_synced_clock = false\n{users}\n\
             [[entries]]\nname = \"e2e-now\"\nat = \"{at}\"\nanimation = \"candy-cane\"\nspeed = 150\n",
            users = user_lines(),
        ),
    )
    .expect("write schedd.toml");
    // Readable after the drop to nobody.
    chmod(&path, 0o644);
    path
}

fn playing(ledd: &Ledd, animation: &str, within: Duration) -> Option<Value> {
    wait_for(within, || {
        let s = ledd.status();
        (s["playing"]["animation"] == animation).then_some(s)
    })
}

#[test]
fn schedd_plays_the_entry_that_fired_and_restores_it_after_ledd_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledd = Webd::default_ledd().start_in(dir.path());
    let at = this_minute_utc();
    let config = write_config(dir.path(), &at);
    let check = run(Command::new(bin("schedd"))
        .arg("--check-config")
        .arg(&config));
    assert!(check.status.success(), "check-config: {}", stderr(&check));

    let log = dir.path().join("schedd.log");
    let mut schedd = Daemon::spawn(
        "schedd",
        Command::new(bin("schedd"))
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("create schedd.log")),
    );
    let schedd_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let st = playing(&ledd, "candy-cane", Duration::from_secs(10)).unwrap_or_else(|| {
        panic!(
            "ledd does not play the scheduled entry: {}\nschedd: {}",
            ledd.status(),
            schedd_log()
        )
    });
    assert_eq!(st["playing"]["speed"], 150, "{st}");
    assert!(schedd.is_running(), "schedd exited: {}", schedd_log());
    let text = schedd_log();
    assert!(
        text.contains("e2e-now: play candy-cane speed 150"),
        "{text}"
    );
    assert!(text.contains("sandbox: live layers"), "{text}");

    // Someone switches the tree off by hand: schedd leaves it alone until
    // the next fire (none today) or a restart of ledd.
    ledd.ok(&["off"]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(ledd.status()["playing"].is_null(), "{}", ledd.status());

    // Kill ledd (no goodbye) and start it again on the same socket path:
    // it comes back dark, and schedd puts the scheduled state back.
    drop(ledd);
    let ledd = Webd::default_ledd().start_in(dir.path());
    let st = playing(&ledd, "candy-cane", Duration::from_secs(15)).unwrap_or_else(|| {
        panic!(
            "schedd did not restore the state after ledd restarted: {}\nschedd: {}",
            ledd.status(),
            schedd_log()
        )
    });
    assert_eq!(st["playing"]["speed"], 150, "{st}");
    assert!(schedd.is_running(), "schedd exited: {}", schedd_log());

    // SIGHUP: the same file, rewritten in place (the sandbox reads it by
    // its inode), now with aurora at the same minute: a new scheduled
    // state, sent at once.
    let text = std::fs::read_to_string(&config).expect("read schedd.toml");
    std::fs::write(
        &config,
        text.replace("candy-cane\"\nspeed = 150", "aurora\""),
    )
    .expect("rewrite schedd.toml");
    schedd.signal("HUP");
    playing(&ledd, "aurora", Duration::from_secs(10)).unwrap_or_else(|| {
        panic!(
            "schedd did not apply the reloaded entry: {}\nschedd: {}",
            ledd.status(),
            schedd_log()
        )
    });
    assert!(schedd_log().contains("reloaded"), "{}", schedd_log());

    schedd.signal("TERM");
    let status = schedd.wait_timeout(Duration::from_secs(5));
    assert!(
        status.is_some_and(|s| s.success()),
        "schedd did not stop cleanly on SIGTERM: {status:?}\n{}",
        schedd_log()
    );
}

#[test]
fn schedd_next_prints_the_entry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), "07:30");
    let out = run(Command::new(bin("schedd"))
        .args([
            "next",
            "--count",
            "2",
            "--from",
            "2026-12-24T12:00:00Z",
            "--config",
        ])
        .arg(&config));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("now Thu 2026-12-24 12:00 UTC: play candy-cane speed 150 since Thu 2026-12-24 07:30 UTC (e2e-now)"), "{text}");
    assert!(
        text.contains("Fri 2026-12-25 07:30 UTC  e2e-now  07:30"),
        "{text}"
    );
    assert!(text.contains("Sat 2026-12-26 07:30 UTC"), "{text}");
}
