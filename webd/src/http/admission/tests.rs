//! Unit tests of admission: which connection is kept when clients compete
//! for the slots.

use super::*;

const CLIENT: Allowance = Allowance {
    connections: 3,
    handshakes: 2,
};
const PROXY: Allowance = Allowance {
    connections: 6,
    handshakes: 6,
};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

struct Clock(Instant);

impl Clock {
    fn at(&self, ms: u64) -> Instant {
        self.0 + Duration::from_millis(ms)
    }
}

fn clock() -> Clock {
    Clock(Instant::now())
}

#[test]
fn a_client_is_capped_and_others_still_get_in() {
    let t = clock();
    let mut a: Admission<u32> = Admission::new(10, 10);
    let x = ip("192.0.2.1");
    let ids: Vec<ConnId> = (0..2)
        .map(|n| a.admit(x, CLIENT, t.at(n), n as u32).unwrap().id)
        .collect();
    // Two handshakes in progress: the third is refused...
    assert_eq!(
        a.admit(x, CLIENT, t.at(3), 9).unwrap_err(),
        Refused::Handshakes { limit: 2 }
    );
    // ...until one finishes; then the connection cap bites.
    a.handshake_done(ids[0], t.at(0));
    a.admit(x, CLIENT, t.at(4), 3).unwrap();
    assert_eq!(
        a.admit(x, CLIENT, t.at(5), 4).unwrap_err(),
        Refused::Connections { limit: 3 }
    );
    assert!(a.admit(ip("192.0.2.2"), CLIENT, t.at(6), 5).is_ok());
    // Closing one gives the client room again.
    a.release(ids[1]);
    assert_eq!(a.client_connections(x), 2);
    assert!(a.admit(x, CLIENT, t.at(7), 6).is_ok());
}

#[test]
fn a_client_back_from_sleep_replaces_its_own_idle_connections() {
    let t = clock();
    let mut a: Admission<u32> = Admission::new(10, 10);
    let (phone, other) = (ip("192.0.2.1"), ip("192.0.2.2"));
    let o = a.admit(other, CLIENT, t.at(0), 100).unwrap().id;
    a.handshake_done(o, t.at(0));
    a.request_started(o);
    a.request_finished(o, t.at(1));
    // The phone loaded the page on three connections, then slept.
    let mut ids = Vec::new();
    for n in 0..3 {
        let id = a.admit(phone, CLIENT, t.at(n), n as u32).unwrap().id;
        a.handshake_done(id, t.at(n));
        a.request_started(id);
        a.request_finished(id, t.at(10 + n));
        ids.push(id);
    }
    // Back: each new connection takes the place of its own longest idle.
    for n in 0..3 {
        let got = a
            .admit(phone, CLIENT, t.at(100 + n), 10 + n as u32)
            .unwrap();
        assert_eq!(got.evicted, Some(n as u32));
        a.handshake_done(got.id, t.at(100 + n));
    }
    assert_eq!(a.client_connections(phone), 3);
    // Never another client's: theirs stays.
    assert_eq!(a.client_connections(other), 1);
    // Connections that were never served (a flood) displace nothing: the
    // cap still refuses.
    let x = ip("192.0.2.9");
    for n in 0..3 {
        let id = a.admit(x, CLIENT, t.at(200 + n), 50).unwrap().id;
        a.handshake_done(id, t.at(200 + n));
    }
    assert_eq!(
        a.admit(x, CLIENT, t.at(210), 60).unwrap_err(),
        Refused::Connections { limit: 3 }
    );
}

#[test]
fn ipv6_clients_are_counted_per_64() {
    let t = clock();
    let mut a: Admission<()> = Admission::new(10, 10);
    for (n, addr) in ["2001:db8::1", "2001:db8::2", "2001:db8:0:0:ffff::9"]
        .into_iter()
        .enumerate()
    {
        let id = a.admit(ip(addr), CLIENT, t.at(n as u64), ()).unwrap().id;
        a.handshake_done(id, t.at(0));
    }
    assert_eq!(
        a.admit(ip("2001:db8::7"), CLIENT, t.at(9), ()).unwrap_err(),
        Refused::Connections { limit: 3 }
    );
    // The next /64 is another client.
    assert!(a.admit(ip("2001:db8:0:1::1"), CLIENT, t.at(9), ()).is_ok());
    assert_eq!(a.client_connections(ip("2001:db8::ffff")), 3);
}

#[test]
fn a_proxy_gets_its_larger_allowance() {
    let t = clock();
    let mut a: Admission<()> = Admission::new(10, 10);
    let p = ip("10.0.0.1");
    for n in 0..6 {
        assert!(a.admit(p, PROXY, t.at(n), ()).is_ok(), "{n}");
    }
    assert!(a.admit(p, PROXY, t.at(7), ()).is_err());
}

#[test]
fn when_full_the_oldest_unserved_connection_makes_room() {
    let t = clock();
    let mut a: Admission<&str> = Admission::new(4, 4);
    let wide = Allowance {
        connections: 10,
        handshakes: 10,
    };
    let served = a
        .admit(ip("192.0.2.1"), wide, t.at(0), "served")
        .unwrap()
        .id;
    a.handshake_done(served, t.at(0));
    a.request_started(served);
    a.request_finished(served, t.at(50));
    let busy = a.admit(ip("192.0.2.2"), wide, t.at(1), "busy").unwrap().id;
    a.handshake_done(busy, t.at(1));
    a.request_started(busy);
    let awaiting = a
        .admit(ip("192.0.2.3"), wide, t.at(2), "awaiting")
        .unwrap()
        .id;
    a.handshake_done(awaiting, t.at(2));
    let handshaking = a
        .admit(ip("192.0.2.4"), wide, t.at(3), "handshaking")
        .unwrap()
        .id;
    a.heard(handshaking);
    assert_eq!(a.live(), 4);

    // Newcomers that talk (each is heard at once). Never-served
    // connections go first, oldest first, however far their handshake
    // got; newcomers are the youngest, so they stay.
    let talk = |a: &mut Admission<&'static str>, from: &str, at: u64, name| {
        let got = a.admit(ip(from), wide, t.at(at), name).unwrap();
        a.heard(got.id);
        got.evicted
    };
    let order: Vec<&str> = (0..2)
        .map(|n| talk(&mut a, "198.51.100.1", 100 + n, "new").unwrap())
        .collect();
    assert_eq!(order, ["awaiting", "handshaking"]);
    assert_eq!(talk(&mut a, "198.51.100.2", 200, "third"), Some("new"));
    // With the served one the last idle left besides the busy one and
    // the newcomers, the newcomers still go before it.
    assert_eq!(talk(&mut a, "198.51.100.3", 300, "fourth"), Some("new"));
    assert_eq!(
        a.admit(ip("198.51.100.3"), wide, t.at(400), "fifth")
            .unwrap_err(),
        Refused::Full,
        "four evicted sockets are still being closed"
    );
    assert_eq!(a.live(), 4);
    assert_eq!(a.held(), 8);
    // Their clients' counts dropped when they were evicted.
    assert_eq!(a.client_connections(ip("192.0.2.4")), 0);
    assert_eq!(a.client_connections(ip("192.0.2.2")), 1);
    // As their tasks close them, room comes back.
    a.release(handshaking);
    assert_eq!(a.held(), 7);
    assert_eq!(
        a.admit(ip("198.51.100.4"), wide, t.at(500), "sixth")
            .unwrap()
            .evicted,
        Some("third")
    );
    let _ = served;
}

#[test]
fn silent_connections_go_before_talking_ones_once_they_had_their_chance() {
    let t = clock();
    let wide = Allowance {
        connections: 10,
        handshakes: 10,
    };
    let newcomer = NEWCOMER_GRACE.as_millis() as u64;
    let mut a: Admission<&str> = Admission::new(3, 3);
    let talking = a
        .admit(ip("192.0.2.1"), wide, t.at(0), "talking")
        .unwrap()
        .id;
    a.heard(talking);
    a.admit(ip("192.0.2.2"), wide, t.at(10), "silent").unwrap();
    let late = a
        .admit(ip("192.0.2.3"), wide, t.at(11), "young")
        .unwrap()
        .id;
    // Within the newcomer's grace, a silent one is ranked by age with
    // the talking ones: the oldest goes.
    assert_eq!(
        a.admit(ip("192.0.2.4"), wide, t.at(12), "a")
            .unwrap()
            .evicted,
        Some("talking")
    );
    a.heard(late);
    // Past it, silent ones go before talking ones, the oldest first.
    assert_eq!(
        a.admit(ip("192.0.2.5"), wide, t.at(12 + newcomer), "b")
            .unwrap()
            .evicted,
        Some("silent")
    );
    assert_eq!(
        a.admit(ip("192.0.2.6"), wide, t.at(13 + newcomer), "c")
            .unwrap()
            .evicted,
        Some("a")
    );
    assert_eq!(a.client_connections(ip("192.0.2.3")), 1);
    // Past the silent grace, a silent one is dead weight, even before an
    // older silent one still within it.
    let grace = SILENT_GRACE.as_millis() as u64;
    let mut d: Admission<&str> = Admission::new(2, 2);
    d.admit(ip("192.0.2.1"), wide, t.at(0), "dead").unwrap();
    let q = d.admit(ip("192.0.2.2"), wide, t.at(1), "quiet").unwrap().id;
    d.heard(q);
    d.handshake_done(q, t.at(2));
    // At 250 ms "dead" is dead weight; "quiet" is within its request grace.
    let got = d.admit(ip("192.0.2.3"), wide, t.at(grace), "new").unwrap();
    assert_eq!(got.evicted, Some("dead"));
}

/// The bench's failure: a table full of connections that talk (TLS
/// handshakes from many addresses) must not make a newcomer, whose
/// ClientHello is on its way, the first victim.
#[test]
fn a_newcomer_is_not_the_first_victim_of_a_table_of_talkers() {
    let t = clock();
    let mut a: Admission<u32> = Admission::new(64, 64);
    for n in 0..63u32 {
        let ip = IpAddr::from([10, 0, (n >> 8) as u8, n as u8]);
        let id = a.admit(ip, CLIENT, t.at(u64::from(n)), n).unwrap().id;
        a.heard(id);
    }
    a.admit(ip("192.0.2.77"), CLIENT, t.at(100), u32::MAX)
        .unwrap();
    for n in 0..8u32 {
        let ip = IpAddr::from([10, 1, 0, n as u8]);
        let got = a.admit(ip, CLIENT, t.at(101), n).unwrap();
        assert_eq!(got.evicted, Some(n), "the oldest talker goes first");
    }
}

#[test]
fn tls_up_and_no_request_past_the_grace_goes_before_a_handshake() {
    let t = clock();
    let wide = Allowance {
        connections: 10,
        handshakes: 10,
    };
    let grace = REQUEST_GRACE.as_millis() as u64;
    // "shaking" is older than "quiet", which finished its handshake at 15.
    let table = || {
        let mut a: Admission<&str> = Admission::new(2, 2);
        for (from, at, name) in [("192.0.2.2", 0, "shaking"), ("192.0.2.1", 10, "quiet")] {
            let id = a.admit(ip(from), wide, t.at(at), name).unwrap().id;
            a.heard(id);
            if name == "quiet" {
                a.handshake_done(id, t.at(15));
            }
        }
        a
    };
    // Within the grace age decides: the older, still handshaking, goes.
    let early = table().admit(ip("192.0.2.3"), wide, t.at(14 + grace), "new");
    assert_eq!(early.unwrap().evicted, Some("shaking"));
    // Past the grace since its handshake, a connection that never began
    // a request is dead weight: it goes
    // before the older, still-handshaking one.
    let late = table().admit(ip("192.0.2.3"), wide, t.at(15 + grace), "new");
    assert_eq!(late.unwrap().evicted, Some("quiet"));
}

/// A connection that has said its first byte outlasts any number of
/// connections that never speak, from one address per connection.
#[test]
fn a_talking_newcomer_outlasts_a_flood_of_silent_ones_from_many_addresses() {
    let t = clock();
    let mut a: Admission<u32> = Admission::new(64, 64);
    for n in 0..63u32 {
        let ip = IpAddr::from([10, 0, (n >> 8) as u8, n as u8]);
        a.admit(ip, CLIENT, t.at(u64::from(n)), n).unwrap();
    }
    let legit = a
        .admit(ip("192.0.2.77"), CLIENT, t.at(100), u32::MAX)
        .unwrap()
        .id;
    a.heard(legit);
    for n in 0..5000u32 {
        let ip = IpAddr::from([10, 1, (n >> 8) as u8, n as u8]);
        let got = a.admit(ip, CLIENT, t.at(101 + u64::from(n)), n).unwrap();
        assert_ne!(got.evicted, Some(u32::MAX), "evicted after {n} arrivals");
        // Evicted sockets close at once.
        let gone: Vec<ConnId> = a
            .conns
            .iter()
            .filter(|(_, c)| !c.live())
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            a.release(id);
        }
    }
    // Once its handshake is done and it is within the request grace, the
    // same holds for 800 more silent arrivals in 400 ms.
    a.handshake_done(legit, t.at(5200));
    for n in 0..800u32 {
        let ip = IpAddr::from([10, 2, (n >> 8) as u8, n as u8]);
        let got = a
            .admit(ip, CLIENT, t.at(5200 + u64::from(n) / 2), n)
            .unwrap();
        assert_ne!(got.evicted, Some(u32::MAX), "evicted after {n} arrivals");
        let gone: Vec<ConnId> = a
            .conns
            .iter()
            .filter(|(_, c)| !c.live())
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            a.release(id);
        }
    }
}

#[test]
fn a_full_table_of_busy_connections_refuses() {
    let t = clock();
    let mut a: Admission<()> = Admission::new(2, 2);
    for n in 0..2 {
        let id = a
            .admit(ip(&format!("192.0.2.{n}")), CLIENT, t.at(n), ())
            .unwrap()
            .id;
        a.request_started(id);
    }
    assert_eq!(
        a.admit(ip("192.0.2.9"), CLIENT, t.at(5), ()).unwrap_err(),
        Refused::Full
    );
}

#[test]
fn idle_served_connections_go_least_recently_used_first() {
    let t = clock();
    let wide = Allowance {
        connections: 10,
        handshakes: 10,
    };
    let mut a: Admission<u8> = Admission::new(2, 2);
    let first = a.admit(ip("192.0.2.1"), wide, t.at(0), 1).unwrap().id;
    let second = a.admit(ip("192.0.2.2"), wide, t.at(1), 2).unwrap().id;
    for (id, done) in [(first, 500), (second, 100)] {
        a.handshake_done(id, t.at(0));
        a.request_started(id);
        a.request_finished(id, t.at(done));
    }
    assert_eq!(
        a.admit(ip("192.0.2.3"), wide, t.at(600), 3)
            .unwrap()
            .evicted,
        Some(2)
    );
}

#[test]
fn deadlines_count_requests_not_bytes() {
    let t = clock();
    let first = Duration::from_secs(10);
    let idle = Duration::from_secs(30);
    let mut a: Admission<()> = Admission::new(4, 4);
    let id = a.admit(ip("192.0.2.1"), CLIENT, t.at(0), ()).unwrap().id;
    a.handshake_done(id, t.at(0));
    // Whatever else happens on the wire, the first request is due
    // `first` after opening.
    assert_eq!(a.deadline(id, t.at(9_000), first, idle), Some(t.at(10_000)));
    a.request_started(id);
    assert_eq!(
        a.deadline(id, t.at(20_000), first, idle),
        Some(t.at(50_000))
    );
    a.request_finished(id, t.at(21_000));
    assert_eq!(
        a.deadline(id, t.at(22_000), first, idle),
        Some(t.at(51_000))
    );
    a.release(id);
    assert_eq!(a.deadline(id, t.at(22_000), first, idle), None);
    assert_eq!(a.held(), 0);
}
