//! ledd end to end: a real `ledd` on the simulated strip and a temporary
//! socket, driven by the real `ledctl`, by peers running as other users
//! (`setpriv`), and by hostile raw connections.
//!
//! ledd runs as whoever runs the tests. The tests named `as_root_*` need
//! root (peers of other uids, ledd staying uid 0); built by an ordinary
//! user they are reported as ignored, with the reason
//! (`build/unprivileged.rs`).
//!
//! Over 500 lines on purpose: each test here drives real processes end to
//! end and reads as one behaviour of the daemon, so the file is that
//! daemon's list of promises; a topic that grows a set of its own moves to
//! a file of its own (as `admission.rs`, `credentials.rs` and
//! `admin_slots.rs` did).

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tinsel_proto::{Decoded, ErrorCode, Request, Response, VERSION, decode, encode};

use crate::fixtures::{self, PLAIN_OUTPUT};
use crate::harness::{Daemon, bin, run, stderr, stdout, wait_for};

/// The uid that gets the hooks role in these tests (`nobody`).
const HOOKS_UID: u32 = 65534;
/// A uid with no role at all.
const STRANGER_UID: u32 = 12345;
const LEDS: usize = 30;

/// A running ledd in its own temporary directory.
struct Ledd(fixtures::Ledd);

impl std::ops::Deref for Ledd {
    type Target = fixtures::Ledd;

    fn deref(&self) -> &fixtures::Ledd {
        &self.0
    }
}

impl std::ops::DerefMut for Ledd {
    fn deref_mut(&mut self) -> &mut fixtures::Ledd {
        &mut self.0
    }
}

impl Ledd {
    /// Starts ledd with a sim strip of 30 LEDs, the socket world-connectable
    /// (roles decide), `nobody` as hooks and `extra` lines in `[access]`.
    fn start(extra: &str) -> Ledd {
        Ledd(
            fixtures::Ledd::builder()
                .leds(LEDS)
                .socket_mode("0666")
                .sections(PLAIN_OUTPUT)
                .access("hooks_users = [\"nobody\"]")
                .access(extra)
                .start(),
        )
    }

    /// Runs ledctl as `uid` (and gid), with no supplementary groups.
    fn ctl_as(&self, uid: u32, args: &[&str]) -> Output {
        self.0.ctl_as(uid, uid, args)
    }

    /// A raw connection, as root (admin).
    fn raw(&self) -> UnixStream {
        let s = UnixStream::connect(&self.socket).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    }
}

/// Reads one response frame from a raw stream (`None` at EOF). Reads
/// exactly one frame's bytes, so the next frame stays in the stream.
fn read_response(s: &mut UnixStream) -> Option<Response> {
    let mut prefix = [0u8; 2];
    match s.read_exact(&mut prefix) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return None,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
        Err(e) => panic!("read (timed out?): {e}"),
    }
    let len = usize::from(u16::from_le_bytes(prefix));
    assert!(
        len <= tinsel_proto::MAX_FRAME_LEN,
        "ledd sent a {len}-byte frame"
    );
    let mut frame = prefix.to_vec();
    frame.resize(2 + len, 0);
    s.read_exact(&mut frame[2..])
        .expect("the rest of the frame");
    match decode::<Response>(&frame) {
        Ok(Decoded::Frame { msg, .. }) => Some(msg),
        other => panic!("ledd sent an undecodable frame: {other:?}"),
    }
}

fn error_code(r: Option<Response>) -> ErrorCode {
    match r {
        Some(Response::Error(e)) => e.code,
        other => panic!("expected an error reply, got {other:?}"),
    }
}

/// Waits (bounded) for the fade to finish and the frame to equal `want`.
fn wait_frame(ledd: &Ledd, want: [u8; 3]) -> Vec<[u8; 3]> {
    let mut last = Vec::new();
    let ok = wait_for(Duration::from_secs(3), || {
        last = ledd.frame();
        last.iter().all(|p| *p == want).then_some(())
    });
    assert!(ok.is_some(), "frame never became {want:?}: {last:?}");
    last
}

#[test]
fn ledctl_plays_sets_brightness_reports_and_switches_off() {
    let ledd = Ledd::start("");
    assert_eq!(
        ledd.ok(&["list"]).lines().count(),
        tinsel_proto::Animation::ALL.len()
    );

    let status = ledd.status();
    assert_eq!(status["led_count"], LEDS as u64);
    assert_eq!(status["target_fps"], 60);
    assert!(status["playing"].is_null());
    assert_eq!(ledd.frame(), vec![[0, 0, 0]; LEDS]);

    ledd.ok(&["play", "solid", "--color", "#ff8000"]);
    let frame = wait_frame(&ledd, [255, 128, 0]);
    assert_eq!(frame.len(), LEDS);
    let status = ledd.status();
    assert_eq!(status["playing"]["animation"], "solid");
    assert_eq!(status["playing"]["color"], "#ff8000");
    // 30 LEDs at (255, 128, 0): 30 * 383 * 60 / 765 = 901 mA.
    assert_eq!(status["power"]["milliamps"], 901);

    ledd.ok(&["brightness", "50"]);
    wait_frame(&ledd, [128, 64, 0]);
    assert_eq!(ledd.status()["brightness"], 50);

    ledd.ok(&["play", "rainbow-cycle", "--speed", "200"]);
    let status = ledd.status();
    assert_eq!(status["playing"]["animation"], "rainbow-cycle");
    assert_eq!(status["playing"]["speed"], 200);

    ledd.ok(&["off"]);
    wait_frame(&ledd, [0, 0, 0]);
    assert!(ledd.status()["playing"].is_null());

    // Text status for people.
    let text = ledd.ok(&["status"]);
    assert!(
        text.contains("nothing (off)") && text.contains("30 LEDs"),
        "{text}"
    );

    // Parameters are checked before they leave ledctl.
    assert_eq!(ledd.ctl(&["brightness", "101"]).status.code(), Some(64));
    assert_eq!(
        ledd.ctl(&["play", "fire", "--speed", "5"]).status.code(),
        Some(64)
    );
}

#[test]
fn a_timed_play_returns_to_what_played_before() {
    let ledd = Ledd::start("");
    ledd.ok(&["play", "solid", "--color", "blue"]);
    wait_frame(&ledd, [0, 0, 255]);
    ledd.ok(&["play", "solid", "--color", "red", "--for", "1s"]);
    let status = ledd.status();
    assert_eq!(status["playing"]["color"], "#ff0000");
    assert_eq!(status["playing"]["remaining_secs"], 1);
    wait_frame(&ledd, [255, 0, 0]);
    wait_frame(&ledd, [0, 0, 255]);
    assert_eq!(ledd.status()["playing"]["color"], "#0000ff");
}

#[test]
fn watch_streams_frames_as_text_when_not_a_terminal() {
    let ledd = Ledd::start("");
    ledd.ok(&["play", "solid", "--color", "green"]);
    wait_frame(&ledd, [0, 255, 0]);
    let start = Instant::now();
    let out = ledd.ok(&["watch", "--frames", "10"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 10, "{out}");
    assert!(
        lines[0].starts_with("frame ") && lines[0].contains("#00ff00"),
        "{}",
        lines[0]
    );
    // 10 frames at about 30 fps.
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

#[test]
#[cfg_attr(
    tinsel_unprivileged,
    ignore = "needs root: runs ledctl as uid 65534 with setpriv"
)]
fn as_root_a_hooks_peer_may_play_but_not_administer() {
    let ledd = Ledd::start("");
    let out = ledd.ctl_as(HOOKS_UID, &["play", "fire"]);
    assert!(out.status.success(), "hooks may play: {}", stderr(&out));
    let out = ledd.ctl_as(HOOKS_UID, &["status", "--json"]);
    assert!(
        out.status.success(),
        "hooks may ask status: {}",
        stderr(&out)
    );
    let status: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(status["playing"]["animation"], "fire");

    for args in [
        &["brightness", "10"][..],
        &["frame", "--json"],
        &["watch", "--frames", "1"],
    ] {
        let out = ledd.ctl_as(HOOKS_UID, args);
        assert_eq!(
            out.status.code(),
            Some(77),
            "hooks {args:?}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).contains("forbidden"), "{}", stderr(&out));
    }
    assert_eq!(
        ledd.status()["brightness"],
        100,
        "the refused brightness did not apply"
    );
    let out = ledd.ctl_as(HOOKS_UID, &["off"]);
    assert!(
        out.status.success(),
        "hooks may switch off: {}",
        stderr(&out)
    );
}

#[test]
#[cfg_attr(
    tinsel_unprivileged,
    ignore = "needs root: runs ledctl as uid 12345 with setpriv"
)]
fn as_root_an_unknown_peer_is_refused() {
    let ledd = Ledd::start("");
    let out = ledd.ctl_as(STRANGER_UID, &["status"]);
    assert_eq!(out.status.code(), Some(77), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("not_allowed") && err.contains("uid 12345"),
        "{err}"
    );
    let out = ledd.ctl_as(STRANGER_UID, &["play", "fire"]);
    assert_eq!(out.status.code(), Some(77));
    assert!(ledd.status()["playing"].is_null(), "nothing played");
}

#[test]
#[cfg_attr(
    target_arch = "arm",
    ignore = "frame timing under full-system emulation measures the emulator's speed on a shared host, not a Pi: this test runs on x86_64, and ledd/bench/flood.sh gives the late-frame figure"
)]
fn hostile_input_leaves_ledd_serving_and_on_time() {
    let ledd = Ledd::start("");
    ledd.ok(&["play", "rainbow"]);
    let before = ledd.status();

    // A wrong protocol version is a clear error.
    let mut s = ledd.raw();
    s.write_all(
        &encode(&Request::Hello {
            version: VERSION + 1,
        })
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        error_code(read_response(&mut s)),
        ErrorCode::VersionMismatch
    );
    assert!(
        read_response(&mut s).is_none(),
        "closed after a version mismatch"
    );

    // Garbage after a good Hello: one error reply per bad frame, then the
    // error budget closes the connection.
    let mut s = ledd.raw();
    s.write_all(&encode(&Request::Hello { version: VERSION }).unwrap())
        .unwrap();
    assert!(matches!(read_response(&mut s), Some(Response::Welcome(_))));
    s.write_all(&[3, 0, 0xff, 0xfe, 0xfd]).unwrap();
    assert_eq!(error_code(read_response(&mut s)), ErrorCode::BadRequest);
    // An oversized length prefix is refused from its two bytes.
    s.write_all(&[0xff, 0xff]).unwrap();
    assert_eq!(error_code(read_response(&mut s)), ErrorCode::FrameTooLong);
    let mut s = ledd.raw();
    s.write_all(&encode(&Request::Hello { version: VERSION }).unwrap())
        .unwrap();
    read_response(&mut s);
    for _ in 0..8 {
        s.write_all(&[1, 0, 0xff]).unwrap();
    }
    let mut codes = Vec::new();
    while let Some(r) = read_response(&mut s) {
        codes.push(error_code(Some(r)));
        assert!(
            codes.len() <= 10,
            "the error budget must close the connection"
        );
    }
    assert_eq!(codes.last(), Some(&ErrorCode::Busy), "{codes:?}");

    // Garbage instead of Hello.
    let mut s = ledd.raw();
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    assert!(matches!(
        error_code(read_response(&mut s)),
        ErrorCode::BadRequest | ErrorCode::FrameTooLong
    ));

    // A half-sent frame is dropped after the partial-frame timeout.
    let mut half = ledd.raw();
    half.write_all(&[10, 0, 0]).unwrap();
    let t = Instant::now();
    assert!(read_response(&mut half).is_none(), "closed, no reply");
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());

    // 200 connections at once: some are served, the rest told "busy".
    let mut flood: Vec<UnixStream> = (0..200)
        .map(|_| {
            let s = UnixStream::connect(&ledd.socket).expect("connect during the flood");
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s
        })
        .collect();
    let mut busy = 0;
    for s in &mut flood {
        let _ = s.write_all(&encode(&Request::Hello { version: VERSION }).unwrap());
    }
    for s in &mut flood {
        match read_response(s) {
            Some(Response::Welcome(_)) => {}
            Some(Response::Error(e)) if e.code == ErrorCode::Busy => busy += 1,
            other => panic!("unexpected answer in the flood: {other:?}"),
        }
    }
    assert!(
        (100..200).contains(&busy),
        "{busy} of 200 were refused as busy"
    );
    drop(flood);

    // Still serving, and the frame loop kept time throughout.
    let ok = wait_for(Duration::from_secs(5), || {
        ledd.ctl(&["status"]).status.success().then_some(())
    });
    assert!(ok.is_some(), "ledd serves again after the flood");
    let after = ledd.status();
    assert_eq!(after["playing"]["animation"], "rainbow");
    let count = |v: &Value, k: &str| v["stats"][k].as_u64().expect("a stats counter");
    let late = count(&after, "late_frames") - count(&before, "late_frames");
    let frames = count(&after, "frames") - count(&before, "frames");
    // The attack takes about 2 s (120 frames). A loop that waited on the
    // server would be late on most of them; this allows for a shared,
    // loaded CI machine (the 60 s flood benchmark gives the real figure).
    assert!(frames >= 60, "the loop kept running: {frames} frames");
    // Being on time under load is what SCHED_FIFO buys, and only root gets
    // it: an ordinary user's frame loop competes with everything else on a
    // loaded machine, so there the bound is the loop's own "far behind"
    // reset (it never bursts), not the real-time one.
    let realtime = ledd.log().contains("frame loop runs SCHED_FIFO");
    let allowed = if realtime {
        3 + frames / 20
    } else {
        frames / 2
    };
    assert!(
        late <= allowed,
        "{late} of {frames} frames late during the attack (real-time: {realtime}): {after}"
    );
}

#[test]
fn sighup_applies_a_valid_config_and_keeps_the_old_one_otherwise() {
    let mut ledd = Ledd::start("");
    let config = ledd.dir.join("ledd.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("brightness = 100", "brightness = 40")).unwrap();
    ledd.daemon.signal("HUP");
    let ok = wait_for(Duration::from_secs(3), || {
        (ledd.status()["brightness"] == 40).then_some(())
    });
    assert!(ok.is_some(), "the new brightness applies: {}", ledd.log());

    std::fs::write(&config, "[strip]\ncount = 0\n").unwrap();
    ledd.daemon.signal("HUP");
    let ok = wait_for(Duration::from_secs(3), || {
        ledd.log()
            .contains("keeping the running config")
            .then_some(())
    });
    assert!(ok.is_some(), "the bad config is logged: {}", ledd.log());
    assert!(ledd.log().contains("strip.count"));
    assert_eq!(ledd.status()["brightness"], 40);
    assert!(ledd.daemon.is_running());
}

/// SIGTERM: dark strip, exit 0 within a second. Hardened ledd may not
/// `unlink` (a root process without capabilities could still delete
/// root-owned files), so the socket it created stays behind, dead: a
/// client is refused at once, and the next ledd replaces it.
#[test]
fn sigterm_blanks_the_strip_exits_zero_and_the_next_start_replaces_the_socket() {
    let mut ledd = Ledd::start("");
    ledd.ok(&["play", "solid", "--color", "white"]);
    wait_frame(&ledd, [255, 255, 255]);
    ledd.daemon.signal("TERM");
    let status = ledd
        .daemon
        .wait_timeout(Duration::from_secs(1))
        .expect("ledd exits within one second of SIGTERM");
    assert_eq!(status.code(), Some(0), "{}", ledd.log());
    let log = ledd.log();
    assert!(log.contains("strip blanked"), "{log}");
    assert!(log.contains("last frame dark: true"), "{log}");
    assert!(log.contains("leaving"), "{log}");
    let err = UnixStream::connect(&ledd.socket).expect_err("nobody answers on the old socket");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    let out = ledd.ctl(&["status"]);
    assert!(
        !out.status.success() && stderr(&out).contains("is ledd running?"),
        "{}",
        stderr(&out)
    );

    // The next start, on the same config, replaces the dead socket.
    let config = ledd.dir.join("ledd.toml");
    let log2 = ledd.dir.join("ledd2.log");
    let _again = Daemon::spawn(
        "ledd",
        Command::new(bin("ledd"))
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(File::create(&log2).unwrap()),
    );
    let ok = wait_for(Duration::from_secs(10), || {
        ledd.ctl(&["status"]).status.success().then_some(())
    });
    assert!(
        ok.is_some(),
        "a new ledd serves on the old path: {}",
        std::fs::read_to_string(&log2).unwrap_or_default()
    );
}

#[test]
fn systemd_hears_ready_watchdog_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let notify_path = dir.path().join("notify.sock");
    let notify = std::os::unix::net::UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let socket = dir.path().join("ledd.sock");
    let mut daemon = Daemon::spawn(
        "ledd",
        Command::new(bin("ledd"))
            .arg("--socket")
            .arg(&socket)
            .args(["--leds", "10"])
            .env("NOTIFY_SOCKET", &notify_path)
            .env("WATCHDOG_USEC", "100000")
            .env_remove("WATCHDOG_PID")
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let mut seen = Vec::new();
    let start = Instant::now();
    let mut buf = [0u8; 256];
    while start.elapsed() < Duration::from_secs(5) {
        if let Ok(n) = notify.recv(&mut buf) {
            seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        let pings = seen.iter().filter(|m| *m == "WATCHDOG=1").count();
        if seen.iter().any(|m| m == "READY=1") && pings >= 3 {
            break;
        }
    }
    assert!(seen.iter().any(|m| m == "READY=1"), "{seen:?}");
    // Pings every 50 ms (half of WATCHDOG_USEC) from the frame loop.
    assert!(
        seen.iter().filter(|m| *m == "WATCHDOG=1").count() >= 3,
        "{seen:?}"
    );
    daemon.signal("TERM");
    let status = daemon.wait_timeout(Duration::from_secs(1)).expect("exits");
    assert_eq!(status.code(), Some(0));
    let mut stopping = false;
    while let Ok(n) = notify.recv(&mut buf) {
        stopping |= &buf[..n] == b"STOPPING=1";
    }
    assert!(stopping, "STOPPING=1 at exit");
}

#[test]
fn ledd_serves_a_socket_passed_by_systemd_and_leaves_it_in_place() {
    let tool = Path::new("/usr/bin/systemd-socket-activate");
    assert!(
        tool.is_file(),
        "this test needs systemd-socket-activate (package systemd)"
    );
    let dir = tempfile::tempdir().unwrap();
    let activated = dir.path().join("activated.sock");
    let own = dir.path().join("own.sock");
    let mut daemon = Daemon::spawn(
        "ledd",
        Command::new(tool)
            .arg("-l")
            .arg(&activated)
            .arg(bin("ledd"))
            .arg("--socket")
            .arg(&own)
            .args(["--leds", "10"])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let ctl = |args: &[&str]| {
        run(Command::new(bin("ledctl"))
            .arg("--socket")
            .arg(&activated)
            .args(args))
    };
    let ok = wait_for(Duration::from_secs(5), || {
        ctl(&["status"]).status.success().then_some(())
    });
    assert!(ok.is_some(), "ledd answers on the activated socket");
    assert!(ctl(&["play", "aurora"]).status.success());
    assert!(!own.exists(), "ledd did not create a socket of its own");
    daemon.signal("TERM");
    let status = daemon.wait_timeout(Duration::from_secs(1)).expect("exits");
    assert_eq!(status.code(), Some(0));
    assert!(
        activated.exists(),
        "a socket from systemd is systemd's to remove"
    );
}

/// The hardening-relevant lines of one thread's `/proc/<pid>/task/<tid>/status`.
#[derive(Debug)]
struct ThreadStatus {
    name: String,
    fields: std::collections::HashMap<String, String>,
}

fn thread_statuses(pid: u32) -> Vec<ThreadStatus> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task")).expect("read /proc/<pid>/task") {
        let path = entry.unwrap().path().join("status");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue; // the thread ended meanwhile
        };
        let fields: std::collections::HashMap<String, String> = text
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
            .collect();
        out.push(ThreadStatus {
            name: fields.get("Name").cloned().unwrap_or_default(),
            fields,
        });
    }
    out
}

/// Whether these tests run as root (then ledd does too).
fn as_root() -> bool {
    own_uid() == 0
}

/// The effective uid of this test process.
fn own_uid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1)?.parse().ok())
        .expect("Uid: in /proc/self/status")
}

/// Every thread of `pid`: no capability in any set (the bounding set too
/// when root: an ordinary user's ledd has none to drop), no_new_privs, a
/// seccomp filter, the same uid as this test. Returns the thread names.
fn assert_every_thread_hardened(pid: u32, seccomp: &str) -> Vec<String> {
    let threads = thread_statuses(pid);
    assert!(!threads.is_empty());
    let sets: &[&str] = if as_root() {
        &["CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"]
    } else {
        &["CapEff", "CapPrm", "CapInh", "CapAmb"]
    };
    for t in &threads {
        for &set in sets {
            assert_eq!(
                t.fields.get(set).map(String::as_str),
                Some("0000000000000000"),
                "thread {:?}: {set}: {:?}",
                t.name,
                t.fields
            );
        }
        assert_eq!(
            t.fields.get("NoNewPrivs").map(String::as_str),
            Some("1"),
            "thread {:?}",
            t.name
        );
        assert_eq!(
            t.fields.get("Seccomp").map(String::as_str),
            Some(seccomp),
            "thread {:?}",
            t.name
        );
        // Hardening drops capabilities, not the uid: root stays root.
        assert!(
            t.fields
                .get("Uid")
                .is_some_and(|u| u.starts_with(&format!("{}\t", own_uid()))),
            "{:?}",
            t.fields.get("Uid")
        );
    }
    threads.into_iter().map(|t| t.name).collect()
}

#[test]
#[cfg_attr(
    tinsel_unprivileged,
    ignore = "needs root: checks that ledd stays uid 0 with no capabilities"
)]
fn as_root_the_real_ledd_runs_hardened_and_still_does_everything() {
    assert!(
        as_root(),
        "this test starts ledd as root, like systemd does: see README's Tests section"
    );
    let mut ledd = Ledd::start("");
    let pid = ledd.daemon.pid();
    let names = assert_every_thread_hardened(pid, "2");
    assert!(
        names.iter().any(|n| n == "ledd-frames"),
        "the frame loop thread is covered: {names:?}"
    );

    // One line per hardening step, then the live layers.
    let log = ledd.log();
    for step in [
        "drop_capabilities",
        "verify_every_thread",
        "set_no_new_privs",
        "step=\"seccomp\"",
        "live layers: capabilities dropped, no_new_privs, seccomp (kill on violation)",
    ] {
        assert!(log.contains(step), "{step} missing: {log}");
    }
    // Hardened before serving anything.
    let (h, r) = (log.find("hardened;").unwrap(), log.find("ready").unwrap());
    assert!(h < r, "{log}");

    // Everything a client does still works under the filter.
    ledd.ok(&["play", "solid", "--color", "#102030"]);
    wait_frame(&ledd, [16, 32, 48]);
    assert_eq!(ledd.status()["playing"]["animation"], "solid");
    assert_eq!(ledd.ok(&["watch", "--frames", "3"]).lines().count(), 3);
    ledd.ok(&["brightness", "50"]);
    wait_frame(&ledd, [8, 16, 24]);
    let out = ledd.ctl_as(HOOKS_UID, &["play", "fire"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // SIGHUP re-reads the file and resolves `nobody` without NSS.
    let config = ledd.dir.join("ledd.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("brightness = 100", "brightness = 30").replace(
            "hooks_users = [\"nobody\"]",
            "hooks_users = [\"nobody\", \"root\"]\nadmin_groups = [\"root\"]",
        ),
    )
    .unwrap();
    ledd.daemon.signal("HUP");
    let ok = wait_for(Duration::from_secs(3), || {
        (ledd.status()["brightness"] == 30).then_some(())
    });
    assert!(ok.is_some(), "the reload applies: {}", ledd.log());
    // An unknown name is refused with a clear reason (the files it was
    // looked for in), and the running config stays.
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("brightness = 30", "brightness = 20")
            .replace("\"root\"]\nadmin", "\"no-such-user-e2e\"]\nadmin"),
    )
    .unwrap();
    ledd.daemon.signal("HUP");
    let ok = wait_for(Duration::from_secs(3), || {
        ledd.log().contains("no-such-user-e2e").then_some(())
    });
    assert!(ok.is_some(), "{}", ledd.log());
    assert!(
        ledd.log().contains("not in /etc/passwd or /etc/group"),
        "{}",
        ledd.log()
    );
    assert_eq!(ledd.status()["brightness"], 30);

    // Still alive (no SIGSYS), and every thread, old or new, hardened.
    assert!(ledd.daemon.is_running(), "{}", ledd.log());
    assert_every_thread_hardened(pid, "2");

    ledd.daemon.signal("TERM");
    let status = ledd
        .daemon
        .wait_timeout(Duration::from_secs(1))
        .expect("exits within a second");
    assert_eq!(status.code(), Some(0), "{}", ledd.log());
    assert!(ledd.log().contains("strip blanked"), "{}", ledd.log());
}

/// Roles by supplementary group come from the socket (`SO_PEERGROUPS`),
/// not from NSS: a peer with 40 groups (more than the first buffer holds)
/// is matched on any of them, primary or supplementary.
#[test]
#[cfg_attr(
    tinsel_unprivileged,
    ignore = "needs root: runs ledctl with other groups with setpriv"
)]
fn as_root_a_peer_gets_its_role_from_a_supplementary_group() {
    let ledd = Ledd::start("hooks_groups = [\"4242\"]\nadmin_groups = [\"4343\"]\n");
    let ctl_with_groups = |groups: &[u32], args: &[&str]| {
        let list: Vec<String> = groups.iter().map(u32::to_string).collect();
        run(Command::new("setpriv")
            .arg(format!("--reuid={STRANGER_UID}"))
            .arg(format!("--regid={STRANGER_UID}"))
            .arg(format!("--groups={}", list.join(",")))
            .arg(bin("ledctl"))
            .arg("--socket")
            .arg(&ledd.socket)
            .args(args))
    };
    let many: Vec<u32> = (5000..5039).collect();

    let mut hooks = many.clone();
    hooks.push(4242);
    let out = ctl_with_groups(&hooks, &["play", "fire"]);
    assert!(out.status.success(), "hooks by group: {}", stderr(&out));
    let out = ctl_with_groups(&hooks, &["brightness", "10"]);
    assert_eq!(out.status.code(), Some(77), "hooks only: {}", stderr(&out));

    let mut admin = many.clone();
    admin.insert(7, 4343);
    let out = ctl_with_groups(&admin, &["brightness", "10"]);
    assert!(out.status.success(), "admin by group: {}", stderr(&out));

    let out = ctl_with_groups(&many, &["status"]);
    assert_eq!(out.status.code(), Some(77), "no role: {}", stderr(&out));
    assert!(stderr(&out).contains("not_allowed"), "{}", stderr(&out));
}

/// `--seccomp-log`: the same filter in log mode, said loudly; ledd serves.
#[test]
fn seccomp_log_mode_is_announced_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("ledd.sock");
    let log = dir.path().join("ledd.log");
    let mut daemon = Daemon::spawn(
        "ledd",
        Command::new(bin("ledd"))
            .arg("--socket")
            .arg(&socket)
            .args(["--leds", "10", "--seccomp-log"])
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap()),
    );
    let ctl = |args: &[&str]| {
        run(Command::new(bin("ledctl"))
            .arg("--socket")
            .arg(&socket)
            .args(args))
    };
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let ok = wait_for(Duration::from_secs(10), || {
        ctl(&["status"]).status.success().then_some(())
    });
    assert!(ok.is_some(), "{}", read_log());
    assert!(ctl(&["play", "aurora"]).status.success());
    assert_every_thread_hardened(daemon.pid(), "2");
    let text = read_log();
    assert!(
        text.contains("LOG mode") && text.contains("LOG ONLY"),
        "{text}"
    );
    daemon.signal("TERM");
    let status = daemon.wait_timeout(Duration::from_secs(1)).expect("exits");
    assert_eq!(status.code(), Some(0), "{}", read_log());
}
