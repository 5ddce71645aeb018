//! The load client of `bench/admission` (see there and docs/benchmarks.md):
//! holds idle TCP connections and connections that trickle a request head
//! they never finish open against webd, from one address or spread over many in 127.0.0.0/8, while a
//! legitimate client on another address sends webhooks; reports the
//! webhooks' success and latency, webd's RSS and open descriptors during and
//! after, and ledd's late frames.
//!
//! Loopback only: every address it connects to or binds is in 127.0.0.0/8.
//! Bounded: the attack lasts `--secs`, connections are reopened at most
//! `--churn` per second, and every socket is closed at the end.
//!
//! ```text
//! admission_load --port P --cert PEM --token T --webd-pid PID \
//!     --ledctl PATH --ledd-socket PATH [--spread] [--idle 1000] [--trickle 64] \
//!     [--secs 15] [--churn 200] [--label NAME]
//! ```

// A test or a measurement: a failed step fails it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tinsel_tests::https::{self, Tls, client_config, read_head, socket_from, status_of, tls_from};

/// The legitimate client's address: outside every attacker range below.
const GOOD: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);
/// The one attacker address of the single-address run.
const ONE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
/// Time between the legitimate client's webhooks.
const GOOD_PAUSE: Duration = Duration::from_millis(100);
/// The legitimate client's patience for one webhook.
const GOOD_TIMEOUT: Duration = Duration::from_secs(5);
/// Time between the attacker's rounds (check, reopen, trickle a byte).
const ROUND: Duration = Duration::from_millis(200);
/// How long after the attack the "after" reading is taken.
const SETTLE: Duration = Duration::from_secs(5);

struct Args {
    port: u16,
    cert: Vec<u8>,
    token: String,
    webd_pid: u32,
    ledctl: String,
    ledd_socket: String,
    spread: bool,
    idle: usize,
    trickle: usize,
    secs: u64,
    churn: usize,
    label: String,
}

fn args() -> Args {
    let mut map: HashMap<String, String> = HashMap::new();
    let mut spread = false;
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        if k == "--spread" {
            spread = true;
            continue;
        }
        let key = k.strip_prefix("--").unwrap_or_else(|| usage(&k)).to_owned();
        let v = it.next().unwrap_or_else(|| usage(&k));
        map.insert(key, v);
    }
    let get = |k: &str| map.get(k).cloned().unwrap_or_else(|| usage(k));
    let num = |k: &str, d: u64| {
        map.get(k)
            .map(|v| v.parse().unwrap_or_else(|_| usage(k)))
            .unwrap_or(d)
    };
    Args {
        port: num("port", 0) as u16,
        cert: std::fs::read(get("cert")).unwrap_or_else(|e| panic!("--cert: {e}")),
        token: get("token"),
        webd_pid: num("webd-pid", 0) as u32,
        ledctl: get("ledctl"),
        ledd_socket: get("ledd-socket"),
        spread,
        idle: num("idle", 1000) as usize,
        trickle: num("trickle", 64) as usize,
        secs: num("secs", 15),
        churn: num("churn", 200) as usize,
        label: map
            .get("label")
            .cloned()
            .unwrap_or_else(|| if spread { "spread" } else { "one" }.to_owned()),
    }
}

fn usage(at: &str) -> ! {
    eprintln!(
        "admission_load: bad or missing argument near `{at}`; see the usage in tests/examples/admission_load.rs"
    );
    std::process::exit(64)
}

/// The attacker's n-th source address: 127.0.0.2 for every n, or spread
/// over 127.0.16.0 and up (about 65 000 addresses), one per connection.
fn attacker(spread: bool, base: u32, n: usize) -> Ipv4Addr {
    if !spread {
        return ONE;
    }
    let n = u32::try_from(n).unwrap_or(0) % 60_000;
    Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 0, 16, 0)) + base + n)
}

/// A non-blocking connect that never sends a byte.
fn idle_connect(src: Ipv4Addr, port: u16) -> std::io::Result<TcpStream> {
    let s = socket_from(src)?;
    s.set_nonblocking(true)?;
    match s.connect(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)).into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(115) || e.kind() == ErrorKind::WouldBlock => {}
        Err(e) => return Err(e),
    }
    Ok(s.into())
}

/// Whether webd closed a non-blocking socket (or the connect failed).
fn is_closed(mut s: &TcpStream) -> bool {
    let mut buf = [0u8; 64];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == ErrorKind::NotConnected => return false,
            Err(_) => return true,
        }
    }
}

/// An HTTP/1.1 connection over TLS that has sent nothing yet.
fn trickle_open(
    src: Ipv4Addr,
    port: u16,
    cfg: &Arc<rustls::ClientConfig>,
) -> std::io::Result<(Tls, usize)> {
    let t = tls_from(src, port, cfg.clone(), Duration::from_secs(2))?;
    t.sock.set_nonblocking(true)?;
    Ok((t, 0))
}

/// Sends the next byte of the head and drains what came back; false once
/// the server closed it.
fn trickle(t: &mut (Tls, usize)) -> bool {
    let byte = https::trickled_byte(t.1);
    t.1 += 1;
    if t.0.write_all(&[byte]).is_err() {
        return false;
    }
    match t.0.flush() {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        Err(_) => return false,
    }
    let mut buf = [0u8; 1024];
    loop {
        match t.0.read(&mut buf) {
            Ok(0) => return false,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
            Err(_) => return false,
        }
    }
}

#[derive(Default)]
struct AttackStats {
    opened: usize,
    closed_by_webd: usize,
    trickle_opened: usize,
    trickle_closed_by_webd: usize,
}

/// Holds `idle` silent connections and `trickle` trickling ones until `stop`,
/// reopening what webd closes (at most `churn` a second).
fn attack(a: &Args, stop: &AtomicBool) -> AttackStats {
    let mut st = AttackStats::default();
    let http1 = client_config(&a.cert, &[b"http/1.1"]);
    let mut idle: Vec<Option<TcpStream>> = (0..a.idle).map(|_| None).collect();
    let mut trickling: Vec<Option<(Tls, usize)>> = (0..a.trickle).map(|_| None).collect();
    let per_round = (a.churn * ROUND.as_millis() as usize / 1000).max(1);
    let mut first = true;
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        // The first round opens everything at once; later rounds reopen
        // at most `per_round` of what webd closed.
        let mut budget = if first { usize::MAX } else { per_round };
        first = false;
        for (i, slot) in idle.iter_mut().enumerate() {
            if slot.as_ref().is_some_and(is_closed) {
                *slot = None;
                st.closed_by_webd += 1;
            }
            if slot.is_none() && budget > 0 {
                budget -= 1;
                if let Ok(s) = idle_connect(attacker(a.spread, 0, i), a.port) {
                    *slot = Some(s);
                    st.opened += 1;
                }
            }
        }
        let mut trickle_budget = per_round.max(a.trickle / 4);
        for (i, slot) in trickling.iter_mut().enumerate() {
            if let Some(t) = slot.as_mut()
                && !trickle(t)
            {
                *slot = None;
                st.trickle_closed_by_webd += 1;
            }
            if slot.is_none() && trickle_budget > 0 && !stop.load(Ordering::Relaxed) {
                trickle_budget -= 1;
                if let Ok(t) = trickle_open(attacker(a.spread, 40_000, i), a.port, &http1) {
                    *slot = Some(t);
                    st.trickle_opened += 1;
                }
            }
        }
        std::thread::sleep(ROUND.saturating_sub(started.elapsed()));
    }
    st
}

/// One webhook from the legitimate address on a new connection.
fn webhook(port: u16, cfg: &Arc<rustls::ClientConfig>, token: &str) -> Result<u16, String> {
    let mut t = tls_from(GOOD, port, cfg.clone(), GOOD_TIMEOUT).map_err(|e| e.to_string())?;
    write!(
        t,
        "POST /hooks/rainbow HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .and_then(|()| t.flush())
    .map_err(|e| e.to_string())?;
    let head = read_head(&mut t).map_err(|e| match e.kind() {
        ErrorKind::UnexpectedEof => "closed before an answer or a head too long".to_owned(),
        _ => e.to_string(),
    })?;
    status_of(&head).ok_or_else(|| format!("no status in {head:?}"))
}

/// One webhook: how long it took and what it got.
type Outcome = (Duration, Result<u16, String>);

#[derive(Default, Clone, Copy)]
struct Proc {
    rss_kib: u64,
    fds: usize,
}

fn proc_sample(pid: u32) -> Proc {
    let rss_kib = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
    Proc { rss_kib, fds }
}

fn late_frames(a: &Args) -> Option<u64> {
    let out = Command::new(&a.ledctl)
        .args(["--socket", &a.ledd_socket, "status", "--json"])
        .output()
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v["stats"]["late_frames"].as_u64()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn main() {
    let a = args();
    let cfg = client_config(&a.cert, &[b"http/1.1"]);
    let baseline = proc_sample(a.webd_pid);
    let late_before = late_frames(&a);

    let stop = Arc::new(AtomicBool::new(false));
    let attack_thread = {
        let stop = stop.clone();
        let a = Args {
            cert: a.cert.clone(),
            token: String::new(),
            ledctl: String::new(),
            ledd_socket: String::new(),
            label: String::new(),
            ..a
        };
        std::thread::spawn(move || attack(&a, &stop))
    };
    // Let the attack fill webd's slots first.
    std::thread::sleep(Duration::from_secs(1));

    let results: Arc<Mutex<Vec<Outcome>>> = Arc::default();
    let good_stop = Arc::new(AtomicBool::new(false));
    let good = {
        let (results, stop, cfg, token) = (
            results.clone(),
            good_stop.clone(),
            cfg.clone(),
            a.token.clone(),
        );
        let port = a.port;
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let r = webhook(port, &cfg, &token);
                results.lock().expect("results").push((t.elapsed(), r));
                std::thread::sleep(GOOD_PAUSE);
            }
        })
    };
    let mut peak = baseline;
    let end = Instant::now() + Duration::from_secs(a.secs);
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(500));
        let p = proc_sample(a.webd_pid);
        peak.rss_kib = peak.rss_kib.max(p.rss_kib);
        peak.fds = peak.fds.max(p.fds);
    }
    good_stop.store(true, Ordering::Relaxed);
    good.join().expect("good client");
    stop.store(true, Ordering::Relaxed);
    let st = attack_thread.join().expect("attack");
    let late_during = late_frames(&a);
    std::thread::sleep(SETTLE);
    let after = proc_sample(a.webd_pid);
    let late_after = late_frames(&a);

    let results = results.lock().expect("results");
    let ok: Vec<Duration> = {
        let mut v: Vec<Duration> = results
            .iter()
            .filter(|(_, r)| matches!(r, Ok(200)))
            .map(|(d, _)| *d)
            .collect();
        v.sort();
        v
    };
    let mut failures: HashMap<String, usize> = HashMap::new();
    for (_, r) in results.iter() {
        match r {
            Ok(200) => {}
            Ok(s) => *failures.entry(format!("HTTP {s}")).or_default() += 1,
            Err(e) => *failures.entry(e.clone()).or_default() += 1,
        }
    }
    let all: Vec<Duration> = {
        let mut v: Vec<Duration> = results.iter().map(|(d, _)| *d).collect();
        v.sort();
        v
    };
    let rate = 100.0 * ok.len() as f64 / results.len().max(1) as f64;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let attackers = if a.spread {
        format!(
            "{} idle TCP from {} addresses in 127.0.16.0/12.. and {} trickling HTTP/1.1 from {} more",
            a.idle, a.idle, a.trickle, a.trickle
        )
    } else {
        format!(
            "{} idle TCP + {} trickling HTTP/1.1, all from {ONE}",
            a.idle, a.trickle
        )
    };
    println!("## {} ({attackers})", a.label);
    println!(
        "webhooks from {GOOD}: {}/{} answered 200 ({rate:.1} %); latency p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        ok.len(),
        results.len(),
        ms(percentile(&all, 50.0)),
        ms(percentile(&all, 99.0)),
        ms(all.last().copied().unwrap_or_default()),
    );
    for (why, n) in &failures {
        println!("  failed {n}x: {why}");
    }
    println!(
        "attacker: {} idle connects ({} closed by webd), {} trickling connections ({} closed by webd)",
        st.opened, st.closed_by_webd, st.trickle_opened, st.trickle_closed_by_webd
    );
    println!(
        "webd: RSS {} KiB before, {} KiB peak, {} KiB {}s after; open fds {} before, {} peak, {} after",
        baseline.rss_kib,
        peak.rss_kib,
        after.rss_kib,
        SETTLE.as_secs(),
        baseline.fds,
        peak.fds,
        after.fds
    );
    let diff = |x: Option<u64>| match (late_before, x) {
        (Some(b), Some(x)) => (x - b.min(x)).to_string(),
        _ => "?".to_owned(),
    };
    println!(
        "ledd: {} late frames during the attack, {} by the end",
        diff(late_during),
        diff(late_after)
    );
    println!(
        "RESULT label={} ok={} total={} rate={rate:.1} p50_ms={:.0} p99_ms={:.0} rss_peak_kib={} fds_peak={} fds_after={} fds_before={}",
        a.label,
        ok.len(),
        results.len(),
        ms(percentile(&all, 50.0)),
        ms(percentile(&all, 99.0)),
        peak.rss_kib,
        peak.fds,
        after.fds,
        baseline.fds
    );
}
