//! Who the client is, behind trusted proxies: the first byte picks the
//! peer and the header webd believes, the rest is header lines
//! (`X-Forwarded-For`, `CF-Connecting-IP`, ...). Any panic is a bug; so is
//! a client address inside a trusted network.
#![no_main]

mod common;

use std::net::IpAddr;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use webd::domain::net::{ClientHeader, IpNet};
use webd::http::client::{Client, client_ip};

static TRUSTED: LazyLock<Vec<IpNet>> = LazyLock::new(|| {
    ["127.0.0.1/32", "10.0.0.0/8", "::1/128", "fd00::/8"]
        .iter()
        .filter_map(|s| IpNet::parse(s))
        .collect()
});

const PEERS: [&str; 4] = ["127.0.0.1", "10.1.2.3", "::1", "203.0.113.7"];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(peer) = PEERS[usize::from(pick & 3)].parse::<IpAddr>() else {
        return;
    };
    let from = if pick & 4 == 0 {
        ClientHeader::XForwardedFor
    } else {
        ClientHeader::CfConnectingIp
    };
    // A CIDR from the input too: the config's parser of `trusted_proxies`.
    let (first, head) = match rest.iter().position(|b| *b == b'\n') {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &[][..]),
    };
    let mut trusted = TRUSTED.clone();
    if let Some(net) = std::str::from_utf8(first).ok().and_then(IpNet::parse) {
        trusted.push(net);
    }
    let headers = common::headers(head);
    match client_ip(peer, &headers, &trusted, from) {
        Client::Addr(ip) => assert!(
            !trusted.iter().any(|n| n.contains(ip)),
            "{ip} is a trusted proxy's address"
        ),
        Client::Unidentified { via } => assert!(trusted.iter().any(|n| n.contains(via))),
    }
});
