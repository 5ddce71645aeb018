//! A hostile client for the flood benchmark (`ledd/bench/flood.sh`): for
//! the given time, several threads open connections to ledd as fast as they
//! can and send garbage, oversized length prefixes, half frames, bad
//! versions and floods of status requests, holding some connections open.
//!
//! Usage: flood SOCKET SECONDS [THREADS]

// A test or a measurement: a failed step fails it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use tinsel_proto::{Request, VERSION, encode};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let socket = args
        .get(1)
        .expect("usage: flood SOCKET SECONDS [THREADS]")
        .clone();
    let secs: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(60);
    let threads: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(4);
    let end = Instant::now() + Duration::from_secs(secs);
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let socket = socket.clone();
            std::thread::spawn(move || attack(&socket, end, t))
        })
        .collect();
    let mut total = 0u64;
    for w in workers {
        total += w.join().unwrap_or(0);
    }
    println!("flood: {total} hostile connections in {secs} s");
}

fn attack(socket: &str, end: Instant, seed: usize) -> u64 {
    let hello = encode(&Request::Hello { version: VERSION }).expect("hello encodes");
    let bad_version = encode(&Request::Hello { version: 999 }).expect("hello encodes");
    let status = encode(&Request::Status).expect("status encodes");
    let mut held: Vec<UnixStream> = Vec::new();
    let mut n = 0u64;
    let mut sink = [0u8; 4096];
    while Instant::now() < end {
        let Ok(mut s) = UnixStream::connect(socket) else {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(50)));
        let _ = s.set_write_timeout(Some(Duration::from_millis(50)));
        n += 1;
        let _ = match (n as usize + seed) % 6 {
            0 => s.write_all(b"\xff\xffGET / HTTP/1.1\r\nHost: tree\r\n\r\n"),
            1 => s.write_all(&[0xff, 0xff]),
            2 => s.write_all(&[200, 0, 1, 2, 3]), // half a frame, then silence
            3 => s.write_all(&bad_version),
            4 => {
                let mut r = s.write_all(&hello);
                for _ in 0..50 {
                    r = r.and_then(|()| s.write_all(&status));
                }
                r
            }
            _ => s
                .write_all(&hello)
                .and_then(|()| s.write_all(&[9, 0, 0xde, 0xad])),
        };
        let _ = s.read(&mut sink);
        // Hold a few connections open to fill ledd's connection cap.
        if n.is_multiple_of(7) {
            held.push(s);
            if held.len() > 40 {
                held.remove(0);
            }
        }
    }
    n
}
