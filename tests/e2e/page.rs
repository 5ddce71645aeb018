//! The tree's page end to end: the real webd over HTTPS with `[page]` on,
//! paired by the link the real `webd pair` prints, attacked as a browser
//! on another origin would, with forged and used codes, and after `webd
//! revoke`. (The same in a real Chromium: `tests/page/browser.py`.)

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::fixtures::Webd;
use crate::harness::{bin, run, stderr, stdout, wait_for};

const PAGE: &str = "[page]\nenabled = true\ndevices_dir = \"devices\"\nanimations = [\"rainbow\", \"solid\"]\n\n[ban]\nmax_failures = 3\nban_secs = 60\n";

/// One answer: status, the headers asked for, the JSON body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    json: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn call(
    w: &Webd,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Answer {
    let http = w.agent();
    let url = w.url(path);
    let resp = if method == "GET" {
        let mut r = http.get(&url);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.call()
    } else {
        let mut r = http.post(&url);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.send(body.unwrap_or("").to_owned())
    };
    let mut resp = resp.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    Answer {
        status,
        headers,
        json: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

/// What the page's own `fetch` sends with a POST.
fn same_origin(w: &Webd) -> String {
    format!("https://localhost:{}", w.port)
}

fn webd_cmd(w: &Webd, args: &[&str]) -> std::process::Output {
    run(Command::new(bin("webd"))
        .args(args)
        .arg("--config")
        .arg(w.config()))
}

/// `webd pair`, and the code from the link it printed.
fn pair_code(w: &Webd, name: &str) -> String {
    let base = w.url("");
    let out = webd_cmd(w, &["pair", "--url", &base, "--name", name]);
    assert!(out.status.success(), "webd pair: {}", stderr(&out));
    let text = stdout(&out);
    let link = text
        .lines()
        .find(|l| l.starts_with("https://"))
        .unwrap_or_else(|| panic!("no link in {text}"));
    let (at, code) = link.split_once('#').expect("the code is in the fragment");
    assert_eq!(at, format!("{base}/pair"));
    code.to_owned()
}

fn redeem(w: &Webd, code: &str, origin: &str) -> Answer {
    let body = json!({ "code": code }).to_string();
    call(
        w,
        "POST",
        "/pair",
        &[("origin", origin), ("content-type", "application/json")],
        Some(&body),
    )
}

fn play(w: &Webd, cookie: &str, origin: &str, animation: &str) -> Answer {
    let body = json!({ "animation": animation, "minutes": 10 }).to_string();
    call(
        w,
        "POST",
        "/page/play",
        &[
            ("origin", origin),
            ("content-type", "application/json"),
            ("cookie", cookie),
        ],
        Some(&body),
    )
}

fn playing(w: &Webd) -> Option<String> {
    w.ledd.status()["playing"]["animation"]
        .as_str()
        .map(str::to_owned)
}

#[test]
fn a_phone_pairs_by_the_printed_link_plays_and_is_revoked() {
    let w = Webd::builder().sections(PAGE).start();
    let origin = same_origin(&w);

    // The document: its own strict policy, never framed.
    let page = call(&w, "GET", "/", &[], None);
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(page.header("x-frame-options"), Some("DENY"));

    let code = pair_code(&w, "Anna's phone");
    let paired = redeem(&w, &code, &origin);
    assert_eq!(paired.status, 200, "{}", paired.json);
    let set = paired
        .header("set-cookie")
        .expect("a device cookie")
        .to_owned();
    for attr in [
        "__Host-tinsel-device=",
        "; Secure",
        "; HttpOnly",
        "; SameSite=Strict",
        "; Path=/",
    ] {
        assert!(set.contains(attr), "{attr}: {set}");
    }
    let cookie = set.split(';').next().unwrap().to_owned();
    let listed = webd_cmd(&w, &["devices"]);
    assert!(
        stdout(&listed).contains("Anna's phone"),
        "{}",
        stdout(&listed)
    );

    // Used: the code pairs nothing more.
    let again = redeem(&w, &code, &origin);
    assert_eq!(
        (again.status, again.json["error"].as_str()),
        (401, Some("bad_pairing_code"))
    );

    let ok = play(&w, &cookie, &origin, "rainbow");
    assert_eq!(ok.status, 200, "{}", ok.json);
    let on = wait_for(Duration::from_secs(5), || {
        (playing(&w).as_deref() == Some("rainbow")).then_some(())
    });
    assert!(
        on.is_some(),
        "ledd does not play rainbow: {}",
        w.ledd.status()
    );

    // Another origin, with the cookie (as if SameSite failed): refused.
    let evil = play(&w, &cookie, "https://evil.example", "solid");
    assert_eq!(
        (evil.status, evil.json["error"].as_str()),
        (403, Some("cross_origin"))
    );
    let form = call(
        &w,
        "POST",
        "/page/play",
        &[
            ("origin", origin.as_str()),
            ("content-type", "application/x-www-form-urlencoded"),
            ("cookie", cookie.as_str()),
        ],
        Some("animation=solid"),
    );
    assert_eq!(form.status, 415);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(playing(&w).as_deref(), Some("rainbow"));

    // Revoked: refused at once.
    let out = webd_cmd(&w, &["revoke", "Anna's phone"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let gone = play(&w, &cookie, &origin, "solid");
    assert_eq!(gone.status, 401, "{}", gone.json);
    assert_eq!(playing(&w).as_deref(), Some("rainbow"));
}

#[test]
fn forged_codes_are_counted_until_the_client_is_banned() {
    let w = Webd::builder().sections(PAGE).start();
    let origin = same_origin(&w);
    let good = pair_code(&w, "phone");
    for forged in ["AAAAAAAAAAAAAAAAAAAAAAAA", "../../etc/passwd", ""] {
        let a = redeem(&w, forged, &origin);
        assert_eq!(a.status, 401, "{forged}: {}", a.json);
    }
    // Banned ([ban] max_failures = 3): even the good code waits, unspent.
    let a = redeem(&w, &good, &origin);
    assert_eq!((a.status, a.json["error"].as_str()), (429, Some("banned")));
    let listed = webd_cmd(&w, &["devices"]);
    assert!(!stdout(&listed).contains("phone"), "{}", stdout(&listed));
}

/// `GET path` on the keep-alive connection `s`: the status, the body read.
fn get_keep_alive(s: &mut tinsel_tests::https::Tls, path: &str) -> Option<u16> {
    use std::io::{Read as _, Write as _};
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
        .ok()?;
    s.flush().ok()?;
    let head = tinsel_tests::https::read_head(s).ok()?;
    let len: usize = head.lines().find_map(|l| {
        l.to_ascii_lowercase()
            .strip_prefix("content-length:")
            .map(|v| v.trim().parse().ok())
    })??;
    let mut body = vec![0; len];
    s.read_exact(&mut body).ok()?;
    tinsel_tests::https::status_of(&head)
}

/// A phone back from sleep: webd still holds the keep-alive connections
/// it left (all 8 of its allowance), and the page opens 6 new ones at once.
/// Each new one takes the place of one of its own idle ones; none is
/// refused, and another client's connection is not touched.
#[test]
fn a_phone_back_from_sleep_loses_no_request_to_the_connections_it_left() {
    use std::net::Ipv4Addr;
    let w = Webd::builder().sections(PAGE).start();
    let cfg = tinsel_tests::https::client_config(&w.cert_pem, &[b"http/1.1"]);
    let patience = Duration::from_secs(5);
    let connect = |src| tinsel_tests::https::tls_from(src, w.port, cfg.clone(), patience).unwrap();
    let mut other = connect(Ipv4Addr::new(127, 0, 0, 2));
    assert_eq!(get_keep_alive(&mut other, "/healthz"), Some(200));
    let phone = Ipv4Addr::LOCALHOST;
    let mut left: Vec<_> = (0..8).map(|_| connect(phone)).collect();
    for s in &mut left {
        assert_eq!(get_keep_alive(s, "/page/app.css"), Some(200));
    }
    let back: Vec<_> = (0..6)
        .map(|_| {
            let cfg = cfg.clone();
            let port = w.port;
            std::thread::spawn(move || {
                let mut s = tinsel_tests::https::tls_from(phone, port, cfg, patience).ok()?;
                get_keep_alive(&mut s, "/page/app.js")
            })
        })
        .collect();
    let answers: Vec<_> = back.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(answers, vec![Some(200); 6], "the new connections' answers");
    // The other client's connection was not displaced.
    assert_eq!(get_keep_alive(&mut other, "/healthz"), Some(200));
}
