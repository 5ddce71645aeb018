//! Daily life with the tree, end to end on the real ledd: what it shows
//! when it starts (`[startup]`, or dark), the journal's record of who
//! changed what (bounded under a flood), and a hooks peer setting the
//! brightness under `[access] hooks_max_brightness`.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use serde_json::Value;
use tinsel_proto::{
    Animation, Decoded, PlayParams, Request, Response, Speed, VERSION, decode, encode,
};

use crate::fixtures::{Ledd, PLAIN_OUTPUT};
use crate::harness::{stderr, wait_for};

/// ledd's change lines per uid per window (`server::CHANGE_BURST`).
const CHANGE_BURST: usize = 10;
/// Its window (`server::CHANGE_WINDOW`), plus the second its flush ticks.
const CHANGE_WINDOW: Duration = Duration::from_secs(10);
/// The uid that gets the hooks role in the `as_root_` test (`nobody`).
const HOOKS_UID: u32 = 65534;

/// Waits (up to 5 s: the crossfade takes a moment) until the first LED
/// shows `want`, and returns what it last showed.
fn settled_first_led(ledd: &Ledd, want: [u8; 3]) -> [u8; 3] {
    let mut last = [0; 3];
    wait_for(Duration::from_secs(5), || {
        last = ledd.frame()[0];
        (last == want).then_some(())
    });
    last
}

#[test]
fn startup_plays_its_animation_at_its_brightness() {
    let ledd = Ledd::builder()
        .sections(PLAIN_OUTPUT)
        .sections("[startup]\nanimation = \"solid\"\ncolor = \"red\"\nbrightness = 40\n")
        .start();
    let status = ledd.status();
    assert_eq!(status["playing"]["animation"], "solid", "{status}");
    assert_eq!(status["playing"]["color"], "#ff0000", "{status}");
    assert_eq!(status["brightness"], 40, "{status}");
    // Gamma 1.0 and no current limit (PLAIN_OUTPUT): red at 40 % of 255.
    assert_eq!(
        settled_first_led(&ledd, [102, 0, 0]),
        [102, 0, 0],
        "{}",
        ledd.log()
    );
    let log = ledd.log();
    assert!(log.contains("brightness 40 by startup"), "{log}");
    assert!(log.contains("play solid color=#ff0000 by startup"), "{log}");
}

#[test]
fn without_startup_ledd_starts_dark() {
    let ledd = Ledd::builder().sections(PLAIN_OUTPUT).start();
    // Give a wrongly started animation time to show.
    std::thread::sleep(Duration::from_millis(500));
    let status = ledd.status();
    assert_eq!(status["playing"], Value::Null, "{status}");
    assert_eq!(status["brightness"], 100, "[output] brightness: {status}");
    assert!(ledd.frame().iter().all(|p| *p == [0, 0, 0]), "dark");
    assert!(ledd.log().contains("starting dark"), "{}", ledd.log());
}

#[test]
fn a_bad_startup_section_exits_78_naming_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = Ledd::builder()
        .sections("[startup]\nanimation = \"fire\"\ncolor = \"blue\"\n")
        .write_config(dir.path());
    let out = crate::harness::run(
        std::process::Command::new(crate::harness::bin("ledd"))
            .arg("--config")
            .arg(&config),
    );
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("startup.color"), "{err}");
    assert!(err.contains(&config.display().to_string()), "{err}");
    assert!(
        err.contains("fire takes speed and duration, not color"),
        "{err}"
    );
}

/// Reads one response frame (`None` at EOF).
fn read_response(s: &mut UnixStream) -> Option<Response> {
    let mut prefix = [0u8; 2];
    s.read_exact(&mut prefix).ok()?;
    let mut frame = prefix.to_vec();
    frame.resize(2 + usize::from(u16::from_le_bytes(prefix)), 0);
    s.read_exact(&mut frame[2..])
        .expect("the rest of the frame");
    match decode::<Response>(&frame) {
        Ok(Decoded::Frame { msg, .. }) => Some(msg),
        other => panic!("ledd sent an undecodable frame: {other:?}"),
    }
}

/// The number in "suppressed N more changes" of a summary line.
fn suppressed(line: &str) -> usize {
    let rest = &line[line.find("suppressed ").expect("a summary") + "suppressed ".len()..];
    let n: String = rest.chars().take_while(char::is_ascii_digit).collect();
    n.parse().expect("a count")
}

#[test]
fn a_flood_of_plays_logs_a_bounded_number_of_lines_and_the_count() {
    const FLOOD: usize = 200;
    let ledd = Ledd::builder().start();
    let mut s = UnixStream::connect(&ledd.socket).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(&encode(&Request::Hello { version: VERSION }).unwrap())
        .unwrap();
    assert!(matches!(read_response(&mut s), Some(Response::Welcome(_))));
    let started = Instant::now();
    for i in 0..FLOOD {
        let params = PlayParams {
            speed: Speed::new(10 + i as u16).unwrap(),
            ..PlayParams::default()
        };
        let play = Request::Play {
            animation: Animation::Comet,
            params,
        };
        s.write_all(&encode(&play).unwrap()).unwrap();
        assert_eq!(read_response(&mut s), Some(Response::Ok), "play {i}");
    }
    let took = started.elapsed();
    drop(s);
    // The summary comes when the window ends, without another request.
    let summaries = wait_for(CHANGE_WINDOW * 2 + Duration::from_secs(2), || {
        let log = ledd.log();
        log.contains("suppressed ").then_some(log)
    })
    .unwrap_or_else(|| panic!("no summary line: {}", ledd.log()));
    let log = summaries;
    let played: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("play comet speed=") && !l.contains("suppressed "))
        .collect();
    let counted: usize = log
        .lines()
        .filter(|l| l.contains("suppressed "))
        .map(suppressed)
        .sum();
    // ledd's own user (who runs the tests) is admin.
    let first = played.first().copied().unwrap_or_default();
    assert!(
        first.contains("play comet speed=10 by uid ") && first.ends_with("(admin)"),
        "{log}"
    );
    // Every play is either logged or counted...
    let windows = 1 + (took.as_secs() / CHANGE_WINDOW.as_secs()) as usize;
    assert!(
        played.len() + counted <= FLOOD && played.len() + counted >= FLOOD - CHANGE_BURST * windows,
        "{} logged + {counted} counted of {FLOOD}:\n{log}",
        played.len()
    );
    // ...and the log stays bounded: CHANGE_BURST lines per window.
    assert!(
        played.len() <= CHANGE_BURST * windows,
        "{} lines in {took:?}:\n{log}",
        played.len()
    );
    if windows == 1 {
        assert_eq!(played.len(), CHANGE_BURST, "{log}");
        assert_eq!(counted, FLOOD - CHANGE_BURST, "{log}");
        assert!(log.contains("the last: play comet speed=209"), "{log}");
    }
}

#[test]
#[cfg_attr(
    tinsel_unprivileged,
    ignore = "needs root: runs ledctl as uid 65534 with setpriv"
)]
fn as_root_hooks_brightness_is_refused_without_a_ceiling_and_bounded_by_one() {
    let start = |extra: &str| {
        Ledd::builder()
            .socket_mode("0666")
            .sections(PLAIN_OUTPUT)
            .access("hooks_users = [\"nobody\"]")
            .access(extra)
            .start()
    };
    let without = start("");
    let out = without.ctl_as(HOOKS_UID, HOOKS_UID, &["brightness", "30"]);
    assert_eq!(out.status.code(), Some(77), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("hooks_max_brightness"),
        "{}",
        stderr(&out)
    );
    assert_eq!(without.status()["brightness"], 100, "unchanged");

    let with = start("hooks_max_brightness = 40");
    let set = |n: &str| {
        let out = with.ctl_as(HOOKS_UID, HOOKS_UID, &["brightness", n]);
        assert!(out.status.success(), "brightness {n}: {}", stderr(&out));
        with.status()["brightness"].clone()
    };
    with.ok(&["play", "solid", "--color", "white"]);
    assert_eq!(set("30"), 30, "under the ceiling: as asked");
    assert_eq!(set("90"), 40, "over it: the ceiling");
    assert_eq!(set("100"), 40);
    // What the strip shows (gamma 1.0, no current limit): white at 40 %.
    assert_eq!(
        settled_first_led(&with, [102; 3]),
        [102; 3],
        "{}",
        with.log()
    );
    // The admin is not bound by the hooks ceiling.
    with.ok(&["brightness", "90"]);
    assert_eq!(with.status()["brightness"], 90);
    let log = with.log();
    assert!(
        log.contains(&format!("brightness 30 by uid {HOOKS_UID} (hooks)")),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "brightness 40 (asked 90, lowered to [access] hooks_max_brightness) by uid {HOOKS_UID} (hooks)"
        )),
        "{log}"
    );
}
