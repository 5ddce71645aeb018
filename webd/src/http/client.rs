//! Who a client is: the TCP peer, or the address a trusted proxy vouches
//! for ([`client_ip`]), read from the one header the config names. The
//! networks (`trusted_proxies`, [`IpNet`]) and the header choice
//! ([`ClientHeader`]) are [`crate::domain::net`]'s; every address is made
//! [`canonical`] first, so a dual-stack socket's `::ffff:1.2.3.4` and
//! `1.2.3.4` are one client for bans, admission and proxy checks.

use std::net::{IpAddr, SocketAddr};

use axum::http::{HeaderMap, HeaderValue};

use crate::domain::net::{CF_CONNECTING_IP, ClientHeader, IpNet, X_FORWARDED_FOR, canonical};

/// The TCP peer of a connection, put into each request's extensions by the
/// connection loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// Who sent a request, as far as webd can tell: what failures are counted
/// against and what bans apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Client {
    /// A client with a known address: the TCP peer, or the address a
    /// trusted proxy vouches for.
    Addr(IpAddr),
    /// A request from the trusted proxy `via` that does not say who the
    /// client is (no forwarding header, or a right-most untrusted entry
    /// that is not an address). Counted under a key of its own, so
    /// guessing through it bans neither the proxy nor the clients the
    /// proxy does identify.
    Unidentified {
        /// The proxy the request came from.
        via: IpAddr,
    },
}

impl std::fmt::Display for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Client::Addr(ip) => write!(f, "{ip}"),
            Client::Unidentified { via } => write!(f, "unidentified-client-via-{via}"),
        }
    }
}

/// The client of a request. The socket's peer, unless the peer is a
/// trusted proxy; then what the proxy says in the one header `from` names,
/// never another: with [`ClientHeader::CfConnectingIp`], its single address
/// if that is not a trusted proxy's; with [`ClientHeader::XForwardedFor`],
/// the right-most entry that is not itself a trusted proxy. Entries to the
/// left of that were written by the client and prove nothing, so a bad one
/// there is skipped, never held against the proxy. If the header does not
/// name a client (absent, repeated `CF-Connecting-IP`, or a right-most
/// untrusted entry that is not an address), the client is
/// [`Client::Unidentified`]: a trusted proxy's own address is never what a
/// failure is counted against.
pub fn client_ip(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &[IpNet],
    from: ClientHeader,
) -> Client {
    let peer = canonical(peer);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return Client::Addr(peer);
    }
    if from == ClientHeader::CfConnectingIp {
        let mut cf = headers.get_all(CF_CONNECTING_IP).iter();
        if let (Some(one), None) = (cf.next(), cf.next())
            && let Some(ip) = one.to_str().ok().and_then(parse_forwarded_addr)
            && !is_trusted(ip)
        {
            return Client::Addr(ip);
        }
        return Client::Unidentified { via: peer };
    }
    // Several header lines form one list, in order (RFC 9110, 5.3).
    let lines: Vec<&HeaderValue> = headers.get_all(X_FORWARDED_FOR).iter().collect();
    let entries = lines
        .iter()
        .rev()
        .flat_map(|v| v.as_bytes().rsplit(|b| *b == b','))
        .map(<[u8]>::trim_ascii)
        // Empty list elements are allowed and mean nothing (RFC 9110, 5.6.1).
        .filter(|e| !e.is_empty());
    for entry in entries {
        let Some(ip) = std::str::from_utf8(entry)
            .ok()
            .and_then(parse_forwarded_addr)
        else {
            return Client::Unidentified { via: peer };
        };
        if !is_trusted(ip) {
            return Client::Addr(ip);
        }
    }
    Client::Unidentified { via: peer }
}

/// One forwarded address: `ip`, `ipv4:port`, `[ipv6]` or `[ipv6]:port`,
/// blanks around it ignored; IPv4-mapped IPv6 counts as IPv4.
fn parse_forwarded_addr(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let port_ok = after.is_empty() || after.strip_prefix(':').is_some_and(valid_port);
        return port_ok
            .then(|| inside.parse::<std::net::Ipv6Addr>().ok())
            .flatten()
            .map(|v6| canonical(IpAddr::V6(v6)));
    }
    let (host, port) = s.rsplit_once(':')?;
    if !valid_port(port) {
        return None;
    }
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

fn valid_port(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 5
        && p.bytes().all(|b| b.is_ascii_digit())
        && p.parse::<u16>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn addr(s: &str) -> Client {
        Client::Addr(s.parse().unwrap())
    }

    const XFF: ClientHeader = ClientHeader::XForwardedFor;
    const CF: ClientHeader = ClientHeader::CfConnectingIp;

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let stranger: IpAddr = "203.0.113.7".parse().unwrap();
        let trusted = [IpNet::parse("10.0.0.0/8").unwrap()];
        let h = headers(&[("x-forwarded-for", "198.51.100.1, 10.0.0.2")]);
        // A direct client cannot pick its address.
        assert_eq!(
            client_ip(stranger, &h, &trusted, XFF),
            Client::Addr(stranger)
        );
        // Via the proxy: the right-most untrusted entry.
        assert_eq!(client_ip(proxy, &h, &trusted, XFF), addr("198.51.100.1"));
        // A client-written left part does not win.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 198.51.100.1")]);
        assert_eq!(client_ip(proxy, &h, &trusted, XFF), addr("198.51.100.1"));
        let h = headers(&[("cf-connecting-ip", "2001:db8::5")]);
        assert_eq!(client_ip(proxy, &h, &trusted, CF), addr("2001:db8::5"));
        assert_eq!(
            client_ip(proxy, &HeaderMap::new(), &[], XFF),
            Client::Addr(proxy)
        );
    }

    #[test]
    fn a_bad_forwarded_entry_never_makes_the_proxy_the_client() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let trusted = [IpNet::parse("10.0.0.0/8").unwrap()];
        let unidentified = Client::Unidentified { via: proxy };
        for (xff, want) in [
            // Client-written garbage on the left is skipped.
            ("garbage, 198.51.100.30", addr("198.51.100.30")),
            ("unknown, 198.51.100.30", addr("198.51.100.30")),
            ("198.51.100.40:4711, 198.51.100.30", addr("198.51.100.30")),
            // Port forms, blanks and empty elements.
            ("198.51.100.40:4711", addr("198.51.100.40")),
            ("[2001:db8::1]:443", addr("2001:db8::1")),
            ("[2001:db8::1]", addr("2001:db8::1")),
            ("  198.51.100.1 ,, ", addr("198.51.100.1")),
            ("::ffff:198.51.100.2", addr("198.51.100.2")),
            ("198.51.100.3, 10.0.0.9:80, 10.0.0.2", addr("198.51.100.3")),
            // The right-most untrusted entry is not an address.
            ("198.51.100.1, garbage", unidentified),
            ("198.51.100.1, unknown, 10.0.0.2", unidentified),
            ("198.51.100.1:99999", unidentified),
            ("[2001:db8::1]:x", unidentified),
            ("2001:db8::1]:443", unidentified),
            ("", unidentified),
            // Only trusted proxies: the request names no client.
            ("10.0.0.2", unidentified),
        ] {
            let h = headers(&[("x-forwarded-for", xff)]);
            assert_eq!(client_ip(proxy, &h, &trusted, XFF), want, "{xff:?}");
        }
        // No forwarding header at all.
        assert_eq!(
            client_ip(proxy, &HeaderMap::new(), &trusted, XFF),
            unidentified
        );
        // Several header lines are one list, the last line right-most.
        let h = headers(&[
            ("x-forwarded-for", "198.51.100.7"),
            ("x-forwarded-for", "garbage, 198.51.100.8"),
        ]);
        assert_eq!(client_ip(proxy, &h, &trusted, XFF), addr("198.51.100.8"));
        let h = headers(&[
            ("x-forwarded-for", "198.51.100.7"),
            ("x-forwarded-for", "garbage"),
        ]);
        assert_eq!(client_ip(proxy, &h, &trusted, XFF), unidentified);
        // With CF-Connecting-IP chosen, a bad or repeated one names no
        // client, and the list is not read instead.
        let xff = ("x-forwarded-for", "198.51.100.9");
        for cf in [
            vec![("cf-connecting-ip", "nonsense")],
            vec![
                ("cf-connecting-ip", "198.51.100.1"),
                ("cf-connecting-ip", "198.51.100.2"),
            ],
        ] {
            let mut pairs = cf.clone();
            pairs.push(xff);
            assert_eq!(
                client_ip(proxy, &headers(&pairs), &trusted, CF),
                unidentified,
                "{cf:?}"
            );
        }
        let h = headers(&[("cf-connecting-ip", "10.0.0.2")]);
        assert_eq!(client_ip(proxy, &h, &trusted, CF), unidentified);
        let h = headers(&[("cf-connecting-ip", "198.51.100.5:1234")]);
        assert_eq!(client_ip(proxy, &h, &trusted, CF), addr("198.51.100.5"));
        // `Forwarded:` is not read.
        let h = headers(&[("forwarded", "for=198.51.100.6")]);
        assert_eq!(client_ip(proxy, &h, &trusted, XFF), unidentified);
    }

    /// nginx (and most proxies) pass on headers they do not set: a client
    /// behind one must not pick its address with the header the proxy
    /// does not own, in either direction.
    #[test]
    fn a_client_cannot_name_itself_through_the_header_the_proxy_does_not_set() {
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        let trusted = [IpNet::parse("127.0.0.1").unwrap()];
        // Behind nginx: the client sends CF-Connecting-IP, nginx appends
        // the real address to X-Forwarded-For.
        let h = headers(&[
            ("cf-connecting-ip", "10.1.2.3"),
            ("x-forwarded-for", "10.1.2.3, 203.0.113.50"),
        ]);
        assert_eq!(client_ip(proxy, &h, &trusted, XFF), addr("203.0.113.50"));
        // Behind Cloudflare: the edge overwrites CF-Connecting-IP; an
        // X-Forwarded-For the client wrote is not read.
        let h = headers(&[
            ("cf-connecting-ip", "203.0.113.60"),
            ("x-forwarded-for", "10.1.2.3"),
        ]);
        assert_eq!(client_ip(proxy, &h, &trusted, CF), addr("203.0.113.60"));
        assert_eq!(
            client_ip(
                proxy,
                &headers(&[("x-forwarded-for", "10.1.2.3")]),
                &trusted,
                CF
            ),
            Client::Unidentified { via: proxy }
        );
    }
}
