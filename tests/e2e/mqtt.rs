//! mqttd against real parts: a Mosquitto broker started by the test on a
//! free loopback port (with a password file, and a TLS listener with a test
//! CA), the real ledd on a simulated strip, the real mqttd, and a test MQTT
//! client (rumqttc) that watches and commands like Home Assistant.
//!
//! The broker is the Debian package `mosquitto`; without it these tests
//! fail and say how to install it. The emulated Pi Zero has no broker, so
//! there they are ignored.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use serde_json::Value;

use crate::fixtures::{Ledd, chmod, free_port, is_root, user_lines};
use crate::harness::{Daemon, bin, run, wait_for};

const USER: &str = "tree";
const PASSWORD: &str = "correct horse battery staple";
const NAME: &str = "E2E tree";
const NODE: &str = "e2e_tree";
const LIMIT: Duration = Duration::from_secs(10);

/// The broker binary: `mosquitto` from PATH or /usr/sbin (not in an
/// ordinary user's PATH on Debian). Fails the test, with the fix, when the
/// package is missing: these tests are never skipped silently.
fn mosquitto() -> PathBuf {
    for candidate in ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"] {
        if Path::new(candidate).is_file() {
            return candidate.into();
        }
    }
    match Command::new("mosquitto")
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(_) => "mosquitto".into(),
        Err(e) => panic!(
            "the MQTT end-to-end tests need the Mosquitto broker ({e}): install it with \
             `apt-get install mosquitto` and stop the service it starts \
             (`systemctl disable --now mosquitto`); .ci/run installs it"
        ),
    }
}

/// A test CA and a server certificate for `localhost` signed by it.
struct TestPki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

fn test_pki() -> TestPki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "tinsel test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let server = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = server.signed_by(&key, &ca_cert, &ca_key).unwrap();
    TestPki {
        ca_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// A running Mosquitto: a plain listener (`port`) and, with TLS, a TLS
/// listener (`tls_port`) with the test CA's certificate. Logins need
/// [`USER`] and [`PASSWORD`].
struct Broker {
    daemon: Daemon,
    port: u16,
    tls_port: Option<u16>,
    dir: tempfile::TempDir,
}

impl Broker {
    fn start(tls: bool) -> Broker {
        mosquitto();
        let dir = tempfile::tempdir().unwrap();
        // Mosquitto started as root reads its files as user `mosquitto`.
        chmod(dir.path(), 0o755);
        let passwd = dir.path().join("passwd");
        let out = run(Command::new("mosquitto_passwd")
            .arg("-c")
            .arg("-b")
            .arg(&passwd)
            .arg(USER)
            .arg(PASSWORD));
        assert!(out.status.success(), "mosquitto_passwd: {out:?}");
        chmod(&passwd, 0o644);
        let port = free_port();
        let mut conf = format!(
            "persistence false\nallow_anonymous false\npassword_file {}\nlistener {port} 127.0.0.1\n",
            passwd.display()
        );
        let tls_port = tls.then(|| {
            let pki = test_pki();
            let write = |name: &str, text: &str| {
                let p = dir.path().join(name);
                std::fs::write(&p, text).unwrap();
                chmod(&p, 0o644);
                p
            };
            let ca = write("ca.pem", &pki.ca_pem);
            let cert = write("server.pem", &pki.cert_pem);
            let key = write("server.key", &pki.key_pem);
            let tls_port = free_port();
            conf.push_str(&format!(
                "listener {tls_port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n",
                ca.display(),
                cert.display(),
                key.display()
            ));
            tls_port
        });
        let conf_path = dir.path().join("mosquitto.conf");
        std::fs::write(&conf_path, conf).unwrap();
        chmod(&conf_path, 0o644);
        let daemon = spawn_mosquitto(dir.path(), port);
        Broker {
            daemon,
            port,
            tls_port,
            dir,
        }
    }

    /// Stops the broker (its retained messages go: no persistence) and
    /// starts it again on the same ports.
    fn restart(&mut self) {
        self.daemon.signal("KILL");
        self.daemon.wait_timeout(LIMIT);
        self.daemon = spawn_mosquitto(self.dir.path(), self.port);
    }

    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A test client subscribed to `filter` that records every message.
    fn watch(&self, filter: &str) -> Watcher {
        Watcher::connect(self.port, filter)
    }

    /// The message retained on `topic` that satisfies `f`, as a client
    /// that subscribes now gets it, waited for: mqttd publishes as soon as
    /// it connects, so a watcher that subscribed first sees the live copy.
    fn retained(&self, topic: &str, f: impl Fn(&Msg) -> bool) -> Msg {
        wait_for(LIMIT, || {
            let w = self.watch(topic);
            wait_for(Duration::from_millis(500), || {
                w.seen
                    .lock()
                    .unwrap()
                    .iter()
                    .find(|m| m.retain && f(m))
                    .cloned()
            })
        })
        .unwrap_or_else(|| panic!("nothing retained on {topic} within {LIMIT:?}"))
    }
}

/// Starts mosquitto with `dir/mosquitto.conf` and waits for `port`.
fn spawn_mosquitto(dir: &Path, port: u16) -> Daemon {
    let log = dir.join("mosquitto.log");
    let mut cmd = Command::new(mosquitto());
    cmd.arg("-c")
        .arg(dir.join("mosquitto.conf"))
        .stdout(Stdio::null())
        .stderr(File::create(&log).unwrap());
    let daemon = Daemon::spawn("mosquitto", &mut cmd);
    let up = wait_for(LIMIT, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    assert!(
        up.is_some(),
        "mosquitto did not listen on {port}: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    daemon
}

#[derive(Debug, Clone)]
struct Msg {
    topic: String,
    payload: String,
    retain: bool,
}

/// The test's MQTT client, on the broker's plain listener.
struct Watcher {
    client: Client,
    seen: Arc<Mutex<Vec<Msg>>>,
}

impl Watcher {
    fn connect(port: u16, filter: &str) -> Watcher {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut o = MqttOptions::new(
            format!("e2e-watch-{}-{n}", std::process::id()),
            "127.0.0.1",
            port,
        );
        o.set_credentials(USER, PASSWORD);
        o.set_keep_alive(Duration::from_secs(30));
        let (client, mut connection) = Client::new(o, 2000);
        client.subscribe(filter, QoS::AtLeastOnce).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        std::thread::spawn(move || {
            for event in connection.iter() {
                match event {
                    Ok(Event::Incoming(Packet::Publish(p))) => sink.lock().unwrap().push(Msg {
                        topic: p.topic.clone(),
                        payload: String::from_utf8_lossy(&p.payload).into_owned(),
                        retain: p.retain,
                    }),
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        });
        Watcher { client, seen }
    }

    /// The first message (in arrival order) that satisfies `f`.
    fn wait(&self, what: &str, f: impl Fn(&Msg) -> bool) -> Msg {
        wait_for(LIMIT, || {
            self.seen.lock().unwrap().iter().find(|m| f(m)).cloned()
        })
        .unwrap_or_else(|| {
            panic!(
                "no message {what} within {LIMIT:?}; seen: {:#?}",
                self.seen.lock().unwrap()
            )
        })
    }

    /// The newest message on `topic` satisfying `f`, waited for.
    fn wait_latest(&self, topic: &str, f: impl Fn(&Value) -> bool) -> Value {
        wait_for(LIMIT, || {
            let seen = self.seen.lock().unwrap();
            let last = seen.iter().rev().find(|m| m.topic == topic)?;
            let v: Value = serde_json::from_str(&last.payload).ok()?;
            f(&v).then_some(v)
        })
        .unwrap_or_else(|| {
            panic!(
                "{topic} did not show the expected state within {LIMIT:?}; seen: {:#?}",
                self.seen.lock().unwrap()
            )
        })
    }

    /// Waits until the newest message on `topic` is `payload`.
    fn wait_latest_text(&self, topic: &str, payload: &str) {
        wait_for(LIMIT, || {
            let seen = self.seen.lock().unwrap();
            let last = seen.iter().rev().find(|m| m.topic == topic)?;
            (last.payload == payload).then_some(())
        })
        .unwrap_or_else(|| {
            panic!(
                "{topic} did not become {payload:?} within {LIMIT:?}; seen: {:#?}",
                self.seen.lock().unwrap()
            )
        })
    }

    fn publish(&self, topic: &str, payload: &str) {
        self.client
            .publish(topic, QoS::AtMostOnce, false, payload.as_bytes().to_vec())
            .unwrap();
    }
}

/// A ledd that gives mqttd's user (nobody when the tests run as root, as
/// mqttd drops to it; else the tests' own uid) the hooks role.
fn ledd() -> Ledd {
    ledd_builder().start()
}

fn ledd_builder() -> crate::fixtures::LeddBuilder {
    let hooks = if is_root() {
        "nobody".to_owned()
    } else {
        String::from_utf8_lossy(&run(Command::new("id").arg("-u")).stdout)
            .trim()
            .to_owned()
    };
    Ledd::builder()
        .socket_mode("0666")
        .access(&format!("hooks_users = [\"{hooks}\"]"))
}

/// A running mqttd; its log (stderr) in its directory.
struct Mqttd {
    daemon: Daemon,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Mqttd {
    /// Starts mqttd for `ledd` and the broker's plain listener, logging in
    /// with `password`; `top` are top-level lines, `broker_lines` more
    /// `[broker]` keys (a `port` there replaces the plain listener's).
    fn start(
        broker: &Broker,
        ledd: &Ledd,
        top: &str,
        broker_lines: &str,
        password: &str,
        verbose: bool,
    ) -> Mqttd {
        let dir = tempfile::tempdir().unwrap();
        chmod(dir.path(), 0o755);
        let password_file = dir.path().join("mqtt.password");
        std::fs::write(&password_file, format!("{password}\n")).unwrap();
        chmod(&password_file, 0o644);
        let port_line = if broker_lines.contains("port") {
            String::new()
        } else {
            format!("port = {}\n", broker.port)
        };
        let config = format!(
            "ledd_socket = {:?}\nname = \"{NAME}\"\n{}{top}\n[broker]\nhost = \"localhost\"\nusername = \"{USER}\"\npassword_file = {:?}\n{port_line}{broker_lines}",
            ledd.socket,
            user_lines(),
            password_file,
        );
        let path = dir.path().join("mqttd.toml");
        std::fs::write(&path, config).unwrap();
        chmod(&path, 0o644);
        let log = dir.path().join("mqttd.log");
        let mut cmd = Command::new(bin("mqttd"));
        cmd.arg("--config").arg(&path);
        if verbose {
            cmd.arg("--verbose");
        }
        cmd.stdout(Stdio::null())
            .stderr(File::create(&log).unwrap());
        Mqttd {
            daemon: Daemon::spawn("mqttd", &mut cmd),
            log,
            _dir: dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log holds `needle`.
    fn wait_log(&self, needle: &str) {
        wait_for(LIMIT, || self.log().contains(needle).then_some(()))
            .unwrap_or_else(|| panic!("mqttd did not log {needle:?}:\n{}", self.log()));
    }
}

fn state_topic() -> String {
    format!("tinsel/{NODE}/state")
}

fn playing(ledd: &Ledd) -> Value {
    ledd.status()["playing"]["animation"].clone()
}

#[test]
#[cfg_attr(
    target_arch = "arm",
    ignore = "needs the Mosquitto broker, which the emulated Pi Zero does not have"
)]
fn mqtt_discovery_commands_state_group_topic_and_the_will() {
    let broker = Broker::start(false);
    let ledd = ledd();
    let mut mqttd = Mqttd::start(
        &broker,
        &ledd,
        "group_topic = \"tinsel/all/set\"\n",
        "",
        PASSWORD,
        false,
    );
    mqttd.wait_log("mqtt: connected to localhost");
    // Started as root, mqttd reaches ledd as the user it dropped to, with
    // the hooks role only (as root it would be admin: it connects after
    // the drop). An ordinary user running ledd and mqttd both is ledd's
    // owner, which ledd makes admin.
    mqttd.wait_log("connected to ledd");
    if is_root() {
        assert!(mqttd.log().contains("role=\"hooks\""), "{}", mqttd.log());
    }
    // A client that subscribes later gets the retained config and state.
    let config = broker.retained(&format!("homeassistant/light/{NODE}/config"), |_| true);
    broker.retained(&format!("tinsel/{NODE}/availability"), |m| {
        m.payload == "online"
    });
    let w = broker.watch("#");
    let config: Value = serde_json::from_str(&config.payload).unwrap();
    assert_eq!(config["schema"], "json");
    assert_eq!(config["command_topic"], format!("tinsel/{NODE}/set"));
    assert_eq!(config["device"]["name"], NAME);
    assert_eq!(config["device"]["model"], "tinsel");
    assert_eq!(config["icon"], "mdi:pine-tree");
    assert!(config["device"]["sw_version"].is_string(), "{config}");
    let effects = config["effect_list"].as_array().unwrap();
    assert!(effects.contains(&"fire".into()), "{config}");
    // The wiring test is offered only when the config names it.
    assert!(!effects.contains(&"selftest".into()), "{config}");
    w.wait_latest(&state_topic(), |s| {
        s["state"] == "OFF" || s["state"] == "ON"
    });

    // ON + effect: ledd plays it, and the state says so.
    w.publish(
        &format!("tinsel/{NODE}/set"),
        r#"{"state":"ON","effect":"fire"}"#,
    );
    wait_for(LIMIT, || (playing(&ledd) == "fire").then_some(())).unwrap_or_else(|| {
        panic!(
            "ledd does not play fire: {}\n{}",
            ledd.status(),
            mqttd.log()
        )
    });
    let s = w.wait_latest(&state_topic(), |s| {
        s["state"] == "ON" && s["effect"] == "fire"
    });
    // Fire has no colour of its own: no colour mode without a colour
    // (Home Assistant warns about one).
    assert!(
        s.get("color_mode").is_none() && s.get("color").is_none(),
        "{s}"
    );

    // Another client (ledctl, a webhook) changes ledd: ledd pushes the
    // change and the state follows at once, long before mqttd's slow
    // status read (every 15 s by default) would have seen it.
    let changed = Instant::now();
    ledd.ok(&["play", "comet", "--color", "blue"]);
    let s = w.wait_latest(&state_topic(), |s| s["effect"] == "comet");
    assert!(
        changed.elapsed() < Duration::from_secs(3),
        "published {:?} after ledctl: not pushed",
        changed.elapsed()
    );
    assert_eq!(s["color"], serde_json::json!({"r":0,"g":0,"b":255}));

    // Home Assistant restarts and says so: the discovery config comes again.
    let discovery = format!("homeassistant/light/{NODE}/config");
    let configs = |w: &Watcher| {
        w.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.topic == discovery)
            .count()
    };
    let before = configs(&w);
    w.publish("homeassistant/status", "online");
    wait_for(LIMIT, || (configs(&w) > before).then_some(()))
        .unwrap_or_else(|| panic!("no discovery config after HA's birth message"));

    // The group topic switches this tree too.
    w.publish("tinsel/all/set", r#"{"state":"OFF"}"#);
    w.wait_latest(&state_topic(), |s| s["state"] == "OFF");
    assert!(ledd.status()["playing"].is_null(), "{}", ledd.status());

    // mqttd dies: the broker publishes its last will.
    mqttd.daemon.signal("KILL");
    mqttd.daemon.wait_timeout(LIMIT);
    let w2 = broker.watch(&format!("tinsel/{NODE}/availability"));
    w2.wait("the retained last will", |m| {
        m.payload == "offline" && m.retain
    });
}

#[test]
#[cfg_attr(
    target_arch = "arm",
    ignore = "needs the Mosquitto broker, which the emulated Pi Zero does not have"
)]
fn mqtt_over_tls_with_a_test_ca_and_a_clear_error_with_the_wrong_ca() {
    let broker = Broker::start(true);
    let ledd = ledd();
    let tls_port = broker.tls_port.unwrap();
    let good = Mqttd::start(
        &broker,
        &ledd,
        "",
        &format!(
            "port = {tls_port}\ntls = true\nca_file = {:?}\n",
            broker.ca()
        ),
        PASSWORD,
        false,
    );
    good.wait_log("mqtt: connected to localhost");
    let w = broker.watch(&format!("tinsel/{NODE}/availability"));
    w.wait("online over TLS", |m| m.payload == "online");

    // Another CA: the certificate is refused, said once, with the fix.
    let other = tempfile::tempdir().unwrap();
    chmod(other.path(), 0o755);
    let wrong_ca = other.path().join("other-ca.pem");
    std::fs::write(&wrong_ca, test_pki().ca_pem).unwrap();
    chmod(&wrong_ca, 0o644);
    let mut bad = Mqttd::start(
        &broker,
        &ledd,
        "",
        &format!("port = {tls_port}\ntls = true\nca_file = {wrong_ca:?}\nclient_id = \"other\"\n"),
        PASSWORD,
        false,
    );
    bad.wait_log(&format!("TLS with localhost:{tls_port}"));
    std::thread::sleep(Duration::from_secs(2));
    let log = bad.log();
    assert!(log.contains("broker.ca_file"), "{log}");
    assert_eq!(
        log.matches("TLS with").count(),
        1,
        "one line per cause:\n{log}"
    );
    assert!(bad.daemon.is_running(), "no exit, no crash loop:\n{log}");
}

#[test]
#[cfg_attr(
    target_arch = "arm",
    ignore = "needs the Mosquitto broker, which the emulated Pi Zero does not have"
)]
fn mqtt_a_wrong_password_is_one_clear_line_and_no_crash_loop() {
    let broker = Broker::start(false);
    let ledd = ledd();
    let mut mqttd = Mqttd::start(&broker, &ledd, "", "", "hunter2", false);
    mqttd.wait_log("refused the login");
    // Several retries later (0.5, 1, 2 s...): still one line, still running.
    std::thread::sleep(Duration::from_secs(4));
    let log = mqttd.log();
    let line = log
        .lines()
        .find(|l| l.contains("refused the login"))
        .unwrap();
    assert!(
        line.contains(&format!("localhost:{}", broker.port)),
        "{line}"
    );
    assert!(line.contains("\"tree\""), "{line}");
    assert!(line.contains("mosquitto_passwd"), "{line}");
    assert_eq!(log.matches("refused the login").count(), 1, "{log}");
    assert!(!log.contains(PASSWORD) && !log.contains("hunter2"), "{log}");
    assert!(mqttd.daemon.is_running(), "{log}");
}

#[test]
#[cfg_attr(
    target_arch = "arm",
    ignore = "needs the Mosquitto broker, which the emulated Pi Zero does not have; a load test"
)]
fn mqtt_a_command_flood_is_rate_limited_and_ledd_keeps_time() {
    let broker = Broker::start(false);
    let ledd = ledd();
    let mqttd = Mqttd::start(&broker, &ledd, "", "", PASSWORD, true);
    mqttd.wait_log("mqtt: connected to localhost");
    let w = broker.watch(&state_topic());
    w.wait_latest(&state_topic(), |_| true);
    let before = ledd.status();
    let start = Instant::now();
    let effects = ["fire", "snowfall", "comet", "aurora"];
    for i in 0..1000 {
        let effect = effects[i % effects.len()];
        w.publish(
            &format!("tinsel/{NODE}/set"),
            &format!(r#"{{"state":"ON","effect":"{effect}"}}"#),
        );
    }
    // The last command may be dropped; ledd settles on one of the effects.
    mqttd.wait_log("faster than limits.commands_per_second");
    std::thread::sleep(Duration::from_secs(2));
    let elapsed = start.elapsed();
    let after = ledd.status();
    let log = mqttd.log();
    let passed = log.matches("mqtt: command on").count() as u64;
    // The bucket holds 10 and refills at 10/s.
    let allowed = 10 + 10 * (elapsed.as_secs() + 1);
    assert!(
        (1..=allowed).contains(&passed),
        "{passed} commands reached ledd in {elapsed:?} (at most {allowed})"
    );
    let count = |v: &Value, k: &str| v["stats"][k].as_u64().expect("a stats counter");
    let late = count(&after, "late_frames") - count(&before, "late_frames");
    let frames = count(&after, "frames") - count(&before, "frames");
    eprintln!(
        "flood: {passed} of 1000 commands reached ledd in {elapsed:?}; {late} of {frames} frames late"
    );
    assert!(frames >= 60, "the loop kept running: {frames} frames");
    let realtime = ledd.log().contains("frame loop runs SCHED_FIFO");
    let allowed_late = if realtime {
        3 + frames / 20
    } else {
        frames / 2
    };
    assert!(
        late <= allowed_late,
        "{late} of {frames} frames late during the flood (real-time: {realtime}): {after}"
    );
    assert!(
        log.matches("faster than limits.commands_per_second")
            .count()
            <= 2,
        "the flood's log line is rate-limited:\n{log}"
    );
}

#[test]
#[cfg_attr(
    target_arch = "arm",
    ignore = "needs the Mosquitto broker, which the emulated Pi Zero does not have"
)]
fn mqtt_ledd_and_broker_restarts_are_survived() {
    let mut broker = Broker::start(false);
    let dir = tempfile::tempdir().unwrap();
    let ledd = ledd_builder().start_in(dir.path());
    let mut mqttd = Mqttd::start(&broker, &ledd, "", "", PASSWORD, false);
    mqttd.wait_log("mqtt: connected to localhost");
    let availability = format!("tinsel/{NODE}/availability");
    let w = broker.watch(&availability);
    w.wait_latest_text(&availability, "online");

    // ledd goes away: offline; it comes back: online, and commands work.
    drop(ledd);
    w.wait_latest_text(&availability, "offline");
    let ledd = ledd_builder().start_in(dir.path());
    w.wait_latest_text(&availability, "online");
    w.publish(
        &format!("tinsel/{NODE}/set"),
        r#"{"state":"ON","effect":"aurora"}"#,
    );
    wait_for(LIMIT, || (playing(&ledd) == "aurora").then_some(()))
        .unwrap_or_else(|| panic!("ledd does not play aurora: {}", mqttd.log()));

    // The broker restarts and forgets everything (no persistence): mqttd
    // reconnects by itself and publishes its config, state and
    // availability again.
    broker.restart();
    wait_for(Duration::from_secs(20), || {
        (mqttd.log().matches("mqtt: connected to").count() >= 2).then_some(())
    })
    .unwrap_or_else(|| panic!("mqttd did not reconnect:\n{}", mqttd.log()));
    broker.retained(&format!("homeassistant/light/{NODE}/config"), |_| true);
    let w2 = broker.watch("#");
    w2.wait_latest_text(&availability, "online");
    w2.wait_latest(&state_topic(), |s| s["effect"] == "aurora");
    assert!(mqttd.daemon.is_running(), "{}", mqttd.log());

    // A clean stop says offline itself (a DISCONNECT suppresses the will)
    // and exits 0.
    mqttd.daemon.signal("TERM");
    let status = mqttd.daemon.wait_timeout(LIMIT);
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", mqttd.log());
    w2.wait_latest_text(&availability, "offline");
    let log = mqttd.log();
    // One line for the lost broker, naming it.
    let lost = format!("lost the connection to localhost:{}", broker.port);
    assert_eq!(log.matches(&lost).count(), 1, "{log}");
}

/// Home Assistant's brightness slider: refused by ledd (and the slider set
/// back by the state) without `[access] hooks_max_brightness`, lowered to
/// it with one. Root only: as an ordinary user mqttd and ledd share a uid,
/// which ledd makes admin.
#[test]
#[cfg_attr(
    target_arch = "arm",
    ignore = "needs the Mosquitto broker, which the emulated Pi Zero does not have"
)]
#[cfg_attr(
    tinsel_unprivileged,
    ignore = "needs root: mqttd drops to another user, which ledd gives the hooks role"
)]
fn as_root_mqtt_brightness_goes_through_ledds_hooks_ceiling() {
    let broker = Broker::start(false);
    for (ceiling, asked, want) in [(None, 80, 50), (Some(40), 80, 40), (Some(40), 30, 30)] {
        let mut b = ledd_builder();
        if let Some(c) = ceiling {
            b = b.access(&format!("hooks_max_brightness = {c}"));
        }
        let ledd = b.start();
        ledd.ok(&["brightness", "50"]);
        let mqttd = Mqttd::start(&broker, &ledd, "", "", PASSWORD, false);
        mqttd.wait_log("connected to ledd");
        let w = broker.watch(&state_topic());
        w.wait_latest(&state_topic(), |s| s["brightness"] == 50);
        w.publish(
            &format!("tinsel/{NODE}/set"),
            &format!(r#"{{"state":"ON","brightness":{asked}}}"#),
        );
        let s = w.wait_latest(&state_topic(), |s| {
            s["brightness"] == want && s["state"] == "ON"
        });
        assert_eq!(
            ledd.status()["brightness"],
            want,
            "{ceiling:?} {asked}: {s}"
        );
        if ceiling.is_none() {
            let said = |l: &str| l.contains("brightness 80") && l.contains("hooks_max_brightness");
            wait_for(LIMIT, || said(&mqttd.log()).then_some(()))
                .unwrap_or_else(|| panic!("no line naming the ceiling:\n{}", mqttd.log()));
            assert_eq!(ledd.status()["brightness"], 50);
        }
    }
}

/// The package's ledd.toml as installed, with its names swapped for this
/// machine's: the socket group root's, mqttd's user `nobody` (what mqttd
/// drops to here) and the socket open to it.
fn packaged_ledd() -> Ledd {
    const PACKAGED: &str = include_str!("../../packaging/ledd.toml");
    let local: String = PACKAGED
        .lines()
        .map(|line| match line.split_once('=').map(|(k, _)| k.trim()) {
            Some("socket_group") => "socket_group = \"\"",
            Some("socket_mode") => "socket_mode = \"0666\"",
            Some("hooks_users") => "hooks_users = [\"nobody\"]",
            _ => line,
        })
        .map(|line| format!("{line}\n"))
        .collect();
    assert!(
        local.contains("\nhooks_max_brightness = "),
        "the package's ledd.toml sets no hooks ceiling: {PACKAGED}"
    );
    Ledd::builder().text(&local).start()
}

/// Home Assistant's slider with the packaged configs: the package's
/// ledd.toml lets mqttd (a hooks peer) set any brightness, and the current
/// budget, not the ceiling, bounds what the strip draws. Root only, as
/// above.
#[test]
#[cfg_attr(
    target_arch = "arm",
    ignore = "needs the Mosquitto broker, which the emulated Pi Zero does not have"
)]
#[cfg_attr(
    tinsel_unprivileged,
    ignore = "needs root: mqttd drops to another user, which ledd gives the hooks role"
)]
fn as_root_mqtt_brightness_works_with_the_packaged_ledd_toml() {
    let broker = Broker::start(false);
    let ledd = packaged_ledd();
    let mqttd = Mqttd::start(&broker, &ledd, "", "", PASSWORD, false);
    mqttd.wait_log("connected to ledd");
    assert!(mqttd.log().contains("role=\"hooks\""), "{}", mqttd.log());
    let w = broker.watch(&state_topic());
    w.wait_latest(&state_topic(), |s| s["brightness"] == 50);
    let set = format!("tinsel/{NODE}/set");
    w.publish(
        &set,
        r#"{"state":"ON","effect":"solid","color":{"r":255,"g":255,"b":255},"brightness":80}"#,
    );
    w.wait_latest(&state_topic(), |s| {
        s["brightness"] == 80 && s["effect"] == "solid"
    });
    assert_eq!(ledd.status()["brightness"], 80);
    // The slider at the top: full white on 150 LEDs would draw 9 A.
    w.publish(&set, r#"{"brightness":100}"#);
    w.wait_latest(&state_topic(), |s| s["brightness"] == 100);
    let power = wait_for(LIMIT, || {
        let p = ledd.status()["power"].clone();
        (p["limited"] == true).then_some(p)
    })
    .unwrap_or_else(|| panic!("the limiter never acted: {}", ledd.status()));
    let budget = power["budget_milliamps"].as_u64().unwrap();
    assert!(budget > 0, "{power}");
    assert!(power["milliamps"].as_u64().unwrap() <= budget, "{power}");
    assert!(!mqttd.log().contains("not set"), "{}", mqttd.log());
}

/// The diagnostic sensors: announced on the light's device, values as
/// bare numbers that follow ledd, and cleared (empty retained configs,
/// which make Home Assistant delete them) when the config turns them off.
#[test]
#[cfg_attr(
    target_arch = "arm",
    ignore = "needs the Mosquitto broker, which the emulated Pi Zero does not have"
)]
fn mqtt_diagnostic_sensors_follow_ledd_and_go_when_turned_off() {
    let broker = Broker::start(false);
    let ledd = ledd();
    let fast = "\n[sensors]\ninterval_secs = 1\n";
    let mut mqttd = Mqttd::start(&broker, &ledd, "", fast, PASSWORD, false);
    mqttd.wait_log("connected to ledd");
    let w = broker.watch("#");
    let config_topic = |id: &str| format!("homeassistant/sensor/{NODE}/{id}/config");
    let light = w.wait("the light's config", |m| {
        m.topic == format!("homeassistant/light/{NODE}/config")
    });
    let light: Value = serde_json::from_str(&light.payload).unwrap();
    for (id, class, state_class) in [
        ("milliamps", Some("current"), "measurement"),
        ("fps", None, "measurement"),
        ("late_frames", None, "total_increasing"),
    ] {
        let m = w.wait("a sensor config", |m| {
            m.topic == config_topic(id) && !m.payload.is_empty()
        });
        let d: Value = serde_json::from_str(&m.payload).unwrap();
        assert_eq!(d["entity_category"], "diagnostic", "{d}");
        assert_eq!(d["state_class"], state_class, "{d}");
        assert_eq!(d["device_class"].as_str(), class, "{d}");
        assert_eq!(d["device"]["identifiers"], light["device"]["identifiers"]);
        assert_eq!(d["availability_topic"], light["availability_topic"]);
        assert_eq!(d["unique_id"], format!("tinsel_{NODE}_{id}"));
        assert_eq!(d["state_topic"], format!("tinsel/{NODE}/{id}"));
        let v = w.wait("a sensor value", |m| {
            m.topic == format!("tinsel/{NODE}/{id}")
        });
        let n: f64 = v.payload.parse().unwrap_or_else(|_| panic!("{v:?}"));
        assert!(n >= 0.0, "{v:?}");
    }
    // Retained: a client that comes later (Home Assistant) gets them.
    let later = broker.watch("#");
    for id in ["milliamps", "fps", "late_frames"] {
        later.wait("a retained value", |m| {
            m.topic == format!("tinsel/{NODE}/{id}") && m.retain
        });
        later.wait("a retained config", |m| {
            m.topic == config_topic(id) && m.retain && !m.payload.is_empty()
        });
    }
    assert_eq!(
        w.wait("the draw", |m| m.topic
            == format!("tinsel/{NODE}/milliamps"))
            .payload,
        "0",
        "a dark tree draws nothing"
    );
    // White: the published draw comes to what ledd reports, above zero.
    ledd.ok(&["play", "solid", "--color", "white"]);
    let draw_topic = format!("tinsel/{NODE}/milliamps");
    let draws = || -> Vec<String> {
        let seen = w.seen.lock().unwrap();
        seen.iter()
            .filter(|m| m.topic == draw_topic)
            .map(|m| m.payload.clone())
            .collect()
    };
    wait_for(LIMIT, || {
        let now = ledd.status()["power"]["milliamps"].to_string();
        (draws().last() == Some(&now) && now != "0").then_some(())
    })
    .unwrap_or_else(|| panic!("draws {:?}, ledd {}", draws(), ledd.status()));
    // An unchanged value is not sent again (one round a second here).
    let before = draws().len();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(draws().len(), before, "{:?}", draws());

    // Off: empty retained configs (and values) take them away.
    mqttd.daemon.signal("TERM");
    mqttd.daemon.wait_timeout(LIMIT);
    let off = "\n[sensors]\nenabled = false\n";
    let mqttd = Mqttd::start(&broker, &ledd, "", off, PASSWORD, false);
    mqttd.wait_log("connected to ledd");
    for id in ["milliamps", "fps", "late_frames"] {
        w.wait("an empty config", |m| {
            m.topic == config_topic(id) && m.payload.is_empty()
        });
    }
    // A client that comes later (Home Assistant restarting) finds none.
    std::thread::sleep(Duration::from_millis(500));
    let later = broker.watch("#");
    later.wait_latest_text(&format!("tinsel/{NODE}/availability"), "online");
    let seen = later.seen.lock().unwrap();
    assert!(
        !seen.iter().any(
            |m| m.topic.starts_with("homeassistant/sensor/") || m.topic.ends_with("/milliamps")
        ),
        "{seen:#?}"
    );
}

/// Home Assistant's flash (`"flash": 2`, the seconds of
/// `flash_time_short`): the tree breathes in its colour for that long, then
/// shows what it showed before.
#[test]
#[cfg_attr(
    target_arch = "arm",
    ignore = "needs the Mosquitto broker, which the emulated Pi Zero does not have"
)]
fn mqtt_flash_blinks_then_returns_to_what_played() {
    let broker = Broker::start(false);
    let ledd = ledd();
    let mqttd = Mqttd::start(&broker, &ledd, "", "", PASSWORD, false);
    mqttd.wait_log("connected to ledd");
    let w = broker.watch(&state_topic());
    ledd.ok(&["play", "comet", "--color", "blue"]);
    w.wait_latest(&state_topic(), |s| s["effect"] == "comet");
    w.publish(&format!("tinsel/{NODE}/set"), r#"{"state":"ON","flash":2}"#);
    let status = wait_for(LIMIT, || {
        let s = ledd.status();
        (s["playing"]["animation"] == "breathe").then_some(s)
    })
    .unwrap_or_else(|| panic!("no flash: {}\n{}", ledd.status(), mqttd.log()));
    assert_eq!(status["playing"]["color"], "#0000ff", "{status}");
    assert_eq!(status["playing"]["duration_secs"], 2, "{status}");
    w.wait_latest(&state_topic(), |s| s["effect"] == "breathe");
    let back = w.wait_latest(&state_topic(), |s| s["effect"] == "comet");
    assert_eq!(back["color"], serde_json::json!({"r":0,"g":0,"b":255}));
    assert_eq!(playing(&ledd), "comet");
    // A dark tree flashes and goes dark again.
    ledd.ok(&["off"]);
    w.wait_latest(&state_topic(), |s| s["state"] == "OFF");
    w.publish(
        &format!("tinsel/{NODE}/set"),
        r#"{"state":"ON","flash":"short"}"#,
    );
    wait_for(LIMIT, || (playing(&ledd) == "breathe").then_some(()))
        .unwrap_or_else(|| panic!("no flash from dark: {}", mqttd.log()));
    // The state shows the flash, then the dark tree again.
    w.wait_latest(&state_topic(), |s| s["effect"] == "breathe");
    w.wait_latest(&state_topic(), |s| s["state"] == "OFF");
    assert_eq!(ledd.status()["playing"], Value::Null);
}

/// Home Assistant's `transition` becomes ledd's crossfade (`fade_ms` in
/// `ledctl status --json`) and, with OFF, a fade to dark; an RGBW strip
/// (ledd restarted under the running mqttd) turns the light into an `rgbw`
/// light, and a white reaches ledd as `(r + w, g + w, b + w)`, which ledd
/// puts on the white die.
#[test]
#[cfg_attr(
    target_arch = "arm",
    ignore = "needs the Mosquitto broker, which the emulated Pi Zero does not have"
)]
fn mqtt_transition_is_the_crossfade_and_an_rgbw_strip_takes_white() {
    let broker = Broker::start(false);
    let dir = tempfile::tempdir().unwrap();
    let ledd = ledd_builder().start_in(dir.path());
    let mqttd = Mqttd::start(&broker, &ledd, "", "", PASSWORD, false);
    mqttd.wait_log("connected to ledd");
    let discovery = format!("homeassistant/light/{NODE}/config");
    let set = format!("tinsel/{NODE}/set");
    let w = broker.watch("#");
    let d = w.wait_latest(&discovery, |d| d.is_object());
    assert_eq!(d["supported_color_modes"], serde_json::json!(["rgb"]));

    w.publish(
        &set,
        r#"{"state":"ON","effect":"rainbow","transition":2.5}"#,
    );
    // ledd may start with rainbow already: the fade says the command came.
    let status = wait_for(LIMIT, || {
        let s = ledd.status();
        (s["playing"]["fade_ms"] == 2500).then_some(s)
    })
    .unwrap_or_else(|| panic!("no 2.5 s fade: {}\n{}", ledd.status(), mqttd.log()));
    assert_eq!(status["playing"]["animation"], "rainbow", "{status}");
    w.wait_latest(&state_topic(), |s| s["effect"] == "rainbow");
    // Out of ledd's range: dropped with its reason, the effect played.
    w.publish(&set, r#"{"state":"ON","effect":"fire","transition":600}"#);
    wait_for(LIMIT, || (playing(&ledd) == "fire").then_some(()))
        .unwrap_or_else(|| panic!("no fire: {}", mqttd.log()));
    assert_eq!(ledd.status()["playing"]["fade_ms"], Value::Null);
    mqttd.wait_log("dropped transition 600 s: not within 0-60 s");
    w.publish(&set, r#"{"state":"OFF","transition":1}"#);
    w.wait_latest(&state_topic(), |s| s["state"] == "OFF");
    assert_eq!(ledd.status()["playing"], Value::Null);

    // The same socket, now an RGBW strip: the discovery config again, rgbw.
    drop(ledd);
    let ledd = ledd_builder().strip_type("sk6812rgbw").start_in(dir.path());
    let d = w.wait_latest(&discovery, |d| {
        d["supported_color_modes"] == serde_json::json!(["rgbw"])
    });
    assert_eq!(d["unique_id"], format!("tinsel_{NODE}"));
    for (command, ledd_color, shown) in [
        (
            r#"{"state":"ON","color":{"r":0,"g":0,"b":0,"w":200}}"#,
            "#c8c8c8",
            serde_json::json!({"r":0,"g":0,"b":0,"w":200}),
        ),
        (
            r#"{"state":"ON","color":{"r":200,"g":0,"b":100,"w":55}}"#,
            "#ff379b",
            serde_json::json!({"r":200,"g":0,"b":100,"w":55}),
        ),
    ] {
        w.publish(&set, command);
        let status = wait_for(LIMIT, || {
            let s = ledd.status();
            (s["playing"]["color"] == ledd_color).then_some(s)
        })
        .unwrap_or_else(|| panic!("{command}: {}\n{}", ledd.status(), mqttd.log()));
        assert_eq!(status["playing"]["animation"], "solid", "{status}");
        let s = w.wait_latest(&state_topic(), |s| s["color"] == shown);
        assert_eq!(s["color_mode"], "rgbw", "{s}");
    }
    // ledctl's colour, as Home Assistant's rgbw shows it: the common part
    // is the white.
    ledd.ok(&["play", "solid", "--color", "#ff9329"]);
    w.wait_latest(&state_topic(), |s| {
        s["color"] == serde_json::json!({"r":214,"g":106,"b":0,"w":41})
    });
}

/// Publishes `payload` with the real `mosquitto_pub` (the test's own
/// client caps its packets at 10 KiB), retained when `retain`.
fn mosquitto_pub(broker: &Broker, topic: &str, payload: &str, retain: bool) {
    // From a file: an argument is capped at 128 KiB.
    let file = broker.dir.path().join("payload");
    std::fs::write(&file, payload).unwrap();
    let mut cmd = Command::new("mosquitto_pub");
    cmd.args(["-h", "127.0.0.1", "-q", "1", "-u", USER, "-P", PASSWORD])
        .args(["-p", &broker.port.to_string(), "-t", topic])
        .arg("-f")
        .arg(&file);
    if retain {
        cmd.arg("-r");
    }
    let out = run(&mut cmd);
    assert!(out.status.success(), "mosquitto_pub: {out:?}");
}

/// A retained message over mqttd's old 16 KiB packet cap, on every topic
/// mqttd subscribes to, waiting for mqttd when it connects (the broker
/// sends it again at each subscribe), is read and dropped: no reconnect
/// loop, commands still obeyed, one line.
#[test]
#[cfg_attr(
    target_arch = "arm",
    ignore = "needs the Mosquitto broker, which the emulated Pi Zero does not have"
)]
fn mqtt_an_oversized_retained_message_is_dropped_without_a_reconnect_loop() {
    let broker = Broker::start(false);
    let big = format!(
        r#"{{"state":"ON","effect":"fire","pad":"{}"}}"#,
        "x".repeat(20 * 1024)
    );
    let command = format!("tinsel/{NODE}/set");
    for topic in [command.as_str(), "tinsel/all/set", "homeassistant/status"] {
        mosquitto_pub(&broker, topic, &big, true);
    }
    let ledd = ledd();
    let mut mqttd = Mqttd::start(
        &broker,
        &ledd,
        "group_topic = \"tinsel/all/set\"\n",
        "",
        PASSWORD,
        false,
    );
    mqttd.wait_log("mqtt: connected to localhost");
    std::thread::sleep(Duration::from_secs(3));
    let log = mqttd.log();
    assert_eq!(
        log.matches("mqtt: connected to").count(),
        1,
        "mqttd stays connected:\n{log}"
    );
    assert!(!log.contains("lost the connection"), "{log}");
    assert_eq!(
        log.matches("ignoring a retained command").count(),
        1,
        "one line for the retained commands:\n{log}"
    );
    assert!(playing(&ledd).is_null(), "{}", ledd.status());

    // A normal command is still obeyed.
    let w = broker.watch(&state_topic());
    w.publish(&command, r#"{"state":"ON","effect":"aurora"}"#);
    wait_for(LIMIT, || (playing(&ledd) == "aurora").then_some(()))
        .unwrap_or_else(|| panic!("ledd does not play aurora:\n{}", mqttd.log()));
    assert!(mqttd.daemon.is_running(), "{}", mqttd.log());
}

/// A retained message over even mqttd's 1 MiB cap closes the connection at
/// every subscribe: its cause is logged once, and the retries back off
/// instead of reconnecting every 0.5 s.
#[test]
#[cfg_attr(
    target_arch = "arm",
    ignore = "needs the Mosquitto broker, which the emulated Pi Zero does not have"
)]
fn mqtt_a_retained_message_over_the_cap_is_logged_once_and_backed_off() {
    let broker = Broker::start(false);
    let huge = "x".repeat(1024 * 1024 + 1);
    mosquitto_pub(&broker, &format!("tinsel/{NODE}/set"), &huge, true);
    let ledd = ledd();
    let mut mqttd = Mqttd::start(&broker, &ledd, "", "", PASSWORD, false);
    mqttd.wait_log("over mqttd's limit");
    std::thread::sleep(Duration::from_secs(4));
    let log = mqttd.log();
    assert_eq!(log.matches("over mqttd's limit").count(), 1, "{log}");
    assert!(log.contains("mosquitto_pub -r -n"), "{log}");
    // Backoff 0.5, 1, 2 s: at most four connections in these 4 s, not 9.
    let connects = log.matches("mqtt: connected to").count();
    assert!(
        (2..=4).contains(&connects),
        "{connects} connections:\n{log}"
    );
    assert!(mqttd.daemon.is_running(), "{log}");
}

/// A flood of `online` on Home Assistant's status topic: the discovery
/// config is published again once at once and once after the burst (never
/// missing the last), not once per message, and the line is rate-limited.
#[test]
#[cfg_attr(
    target_arch = "arm",
    ignore = "needs the Mosquitto broker, which the emulated Pi Zero does not have"
)]
fn mqtt_a_flood_of_home_assistant_online_is_paced() {
    let broker = Broker::start(false);
    let ledd = ledd();
    let mqttd = Mqttd::start(&broker, &ledd, "", "", PASSWORD, false);
    mqttd.wait_log("mqtt: connected to localhost");
    let discovery = format!("homeassistant/light/{NODE}/config");
    broker.retained(&discovery, |_| true);
    let w = broker.watch(&discovery);
    w.wait("the retained discovery config", |m| m.retain);
    let configs = || {
        w.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.topic == discovery && !m.retain)
            .count()
    };
    let start = Instant::now();
    for _ in 0..500 {
        w.publish("homeassistant/status", "online");
    }
    wait_for(LIMIT, || (configs() >= 2).then_some(()))
        .unwrap_or_else(|| panic!("no republication after the burst:\n{}", mqttd.log()));
    std::thread::sleep(Duration::from_secs(2));
    let elapsed = start.elapsed();
    let n = configs();
    // One at once, then at most one a second; the burst itself is short.
    let allowed = 2 + elapsed.as_secs() as usize;
    assert!(
        (2..=allowed).contains(&n),
        "{n} republications for 500 messages in {elapsed:?}"
    );
    let log = mqttd.log();
    assert!(
        log.matches("Home Assistant came online").count() <= 2,
        "the line is rate-limited:\n{log}"
    );
}
