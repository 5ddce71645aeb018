//! ledd's connection slots end to end: hooks-role peers (other uids, in a
//! hooks group) hold every connection they may, and root's `ledctl` still
//! gets in on the slots kept for the admin role.
//!
//! The hooks peers are this test binary run again as other users
//! (`setpriv`), holding connections open until their stdin closes: the
//! role comes from the peer's credentials, so a hooks peer must really be
//! another uid.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{ChildStdout, Command, Output, Stdio};
use std::time::Duration;

use tinsel_proto::{Decoded, ErrorCode, Request, Response, VERSION, decode, encode};

use crate::fixtures;
use crate::harness::{Daemon, stderr, wait_for};

/// Connections one hooks uid may hold (`HOOKS_CONNECTIONS_PER_UID`,
/// docs/ledd.md "Security").
const PER_UID: usize = 16;
/// Connections all hooks peers together may hold (`SHARED_CONNECTIONS`).
const SHARED: usize = 56;
/// The group that gives the hooks role in this test.
const HOOKS_GID: u32 = 4242;
/// The first uid of the hooks peers; none of them has a role by uid.
const FIRST_HOOKS_UID: u32 = 20001;
/// Set in a re-run of this test binary: "SOCKET\tCOUNT", hold that many
/// connections.
const HOLD_ENV: &str = "TINSEL_E2E_HOLD";

/// How a hooks peer's report starts.
const REPORT: &str = "hooks peer held ";

/// The libtest name of test function `f` in this module, for re-running it.
macro_rules! test_name {
    ($f:ident) => {{
        let module = module_path!();
        let module = module.split_once("::").map_or(module, |(_, m)| m);
        format!("{module}::{}", stringify!($f))
    }};
}

/// A ledd on a sim strip whose socket anyone may connect to, with
/// [`HOOKS_GID`] as the hooks group.
struct Ledd(fixtures::Ledd);

impl std::ops::Deref for Ledd {
    type Target = fixtures::Ledd;

    fn deref(&self) -> &fixtures::Ledd {
        &self.0
    }
}

impl Ledd {
    fn start() -> Ledd {
        Ledd(
            fixtures::Ledd::builder()
                .leds(10)
                .socket_mode("0666")
                .access(&format!("hooks_groups = [\"{HOOKS_GID}\"]"))
                .start(),
        )
    }

    /// `ledctl` as `uid`, whose only group is [`HOOKS_GID`]: the hooks role.
    fn ctl_hooks(&self, uid: u32, args: &[&str]) -> Output {
        self.0.ctl_as(uid, HOOKS_GID, args)
    }

    /// Starts a hooks peer as `uid` that opens `count` connections, one
    /// after another, and holds those ledd welcomed. Returns it (dropping
    /// it ends it) and how many were welcomed and refused as busy.
    fn hold_as_hooks(&self, test: &str, uid: u32, count: usize) -> (Daemon, usize, usize) {
        let exe = std::env::current_exe().expect("current_exe");
        let mut peer = Daemon::spawn(
            "hooks peer",
            Command::new("setpriv")
                .arg(format!("--reuid={uid}"))
                .arg(format!("--regid={HOOKS_GID}"))
                .arg("--clear-groups")
                .arg(exe)
                .args([test, "--exact", "--nocapture", "--test-threads=1"])
                .env(HOLD_ENV, format!("{}\t{count}", self.socket.display()))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
        );
        let out: ChildStdout = peer
            .child
            .as_mut()
            .and_then(|c| c.stdout.take())
            .expect("the peer's stdout");
        // The peer prints "held N busy M" among libtest's own output
        // (after "test NAME ... " on the same line), then waits for its
        // stdin to close. Each of its connections is bounded by its own
        // timeouts, and a peer that fails exits: this read ends.
        let line = BufReader::new(out)
            .lines()
            .map_while(Result::ok)
            .find_map(|l| l.find(REPORT).map(|at| l[at..].to_owned()))
            .unwrap_or_else(|| panic!("the hooks peer uid {uid} reported nothing"));
        let n: Vec<usize> = line
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        assert_eq!(n.len(), 2, "{line}");
        (peer, n[0], n[1])
    }
}

/// Reads one response frame (`None` at EOF).
fn read_response(s: &mut UnixStream) -> Option<Response> {
    let mut prefix = [0u8; 2];
    s.read_exact(&mut prefix).ok()?;
    let mut frame = prefix.to_vec();
    frame.resize(2 + usize::from(u16::from_le_bytes(prefix)), 0);
    s.read_exact(&mut frame[2..]).ok()?;
    match decode::<Response>(&frame) {
        Ok(Decoded::Frame { msg, .. }) => Some(msg),
        other => panic!("ledd sent an undecodable frame: {other:?}"),
    }
}

/// The hooks peer's side (in the re-run binary): open the connections,
/// say Hello on each, report, hold them until stdin closes.
fn hold(spec: &str) {
    let (socket, count) = spec.split_once('\t').expect("SOCKET\\tCOUNT");
    let count: usize = count.parse().expect("a count");
    let mut held = Vec::new();
    let mut busy = 0;
    for _ in 0..count {
        let mut s = UnixStream::connect(Path::new(socket)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.write_all(&encode(&Request::Hello { version: VERSION }).unwrap());
        match read_response(&mut s) {
            Some(Response::Welcome(w)) => {
                assert_eq!(w.role, tinsel_proto::Role::Hooks, "this peer is hooks");
                held.push(s);
            }
            Some(Response::Error(e)) if e.code == ErrorCode::Busy => busy += 1,
            other => panic!("unexpected answer: {other:?}"),
        }
    }
    println!("{REPORT}{} busy {busy}", held.len());
    std::io::stdout().flush().unwrap();
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop(held);
}

/// Hooks peers take every slot they may (a compromised webd would try);
/// root's `ledctl` still gets in, and one more hooks peer is told "busy".
/// Each hooks uid also stops at its own cap while the pool has room.
///
/// Needs root: the hooks peers are other uids (`setpriv --reuid`).
#[test]
#[cfg_attr(
    tinsel_unprivileged,
    ignore = "needs root: its hooks peers run as other uids"
)]
fn as_root_the_admin_gets_in_while_hooks_peers_hold_every_slot() {
    if let Ok(spec) = std::env::var(HOLD_ENV) {
        return hold(&spec);
    }
    assert!(
        is_root(),
        "this test needs root: its hooks peers run as other uids"
    );
    let test = test_name!(as_root_the_admin_gets_in_while_hooks_peers_hold_every_slot);
    let ledd = Ledd::start();

    // Hooks uids, one after another, each asking for one connection more
    // than its cap, until the shared pool runs out (bounded: 8 uids).
    let mut peers = Vec::new();
    let mut held_by_uid = Vec::new();
    for uid in FIRST_HOOKS_UID..FIRST_HOOKS_UID + 8 {
        let (peer, held, busy) = ledd.hold_as_hooks(&test, uid, PER_UID + 1);
        assert_eq!(held + busy, PER_UID + 1);
        peers.push(peer);
        held_by_uid.push(held);
        if held < PER_UID {
            break;
        }
    }

    // The admin gets in, on its reserved slots, and may do anything.
    let out = ledd.ctl(&["status"]);
    assert!(
        out.status.success(),
        "root's ledctl is locked out by hooks peers holding {held_by_uid:?}: {}\n{}",
        stderr(&out),
        ledd.log()
    );
    let out = ledd.ctl(&["play", "solid", "--color", "red"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // Another hooks peer finds no slot.
    let other = FIRST_HOOKS_UID + 100;
    let out = ledd.ctl_hooks(other, &["status"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("busy"), "{}", stderr(&out));

    // Every shared slot was held by a hooks peer, none over its uid's cap.
    assert_eq!(held_by_uid.iter().sum::<usize>(), SHARED, "{held_by_uid:?}");
    assert!(
        held_by_uid.iter().all(|&h| h <= PER_UID),
        "a hooks uid held more than {PER_UID}: {held_by_uid:?}"
    );

    // Once the peers let go, hooks peers are served again.
    drop(peers);
    let back = wait_for(Duration::from_secs(5), || {
        ledd.ctl_hooks(other, &["status"])
            .status
            .success()
            .then_some(())
    });
    assert!(back.is_some(), "the slots were not freed: {}", ledd.log());
}

/// Whether this process runs as root, read from /proc.
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
}
