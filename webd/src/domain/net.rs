//! Networks and addresses: the CIDR networks of `trusted_proxies` and
//! `allow_from` ([`IpNet`]), the one canonical form of an address
//! ([`canonical`]: IPv4-mapped IPv6 is IPv4), and which header a trusted
//! proxy names the client in ([`ClientHeader`]).

use std::net::IpAddr;

/// An IP network (`10.0.0.0/8`, `::1`), for `trusted_proxies`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Parses `ADDR` or `ADDR/PREFIX`.
    pub fn parse(s: &str) -> Option<IpNet> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (s.parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(IpNet { addr, prefix })
    }

    /// Whether `ip` is in the network. IPv4-mapped IPv6 addresses count as
    /// IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Maps IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`, seen on dual-stack
/// sockets) to IPv4, so bans and proxy checks see one address per client.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// Cloudflare's header with the original client address.
pub(crate) const CF_CONNECTING_IP: &str = "cf-connecting-ip";
/// The de facto standard list of the addresses a request came through.
pub(crate) const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// Which header a trusted proxy names the client in (config key
/// `client_address_header`). Only that one is read: a proxy passes on
/// headers it does not set itself, so believing a second one would let a
/// client behind it pick its own address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientHeader {
    /// `X-Forwarded-For`, walked from the right (nginx, Caddy, Traefik,
    /// HAProxy, and Cloudflare, which appends to it too).
    #[default]
    XForwardedFor,
    /// `CF-Connecting-IP`, which Cloudflare (and cloudflared) overwrite on
    /// every request; `X-Forwarded-For` is then not read.
    CfConnectingIp,
}

impl ClientHeader {
    /// The config spellings, for error messages.
    pub const NAMES: &str = "\"x-forwarded-for\" or \"cf-connecting-ip\"";

    /// Parses the config value (case-insensitive, like header names).
    pub fn parse(s: &str) -> Option<ClientHeader> {
        match s.to_ascii_lowercase().as_str() {
            X_FORWARDED_FOR => Some(ClientHeader::XForwardedFor),
            CF_CONNECTING_IP => Some(ClientHeader::CfConnectingIp),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const XFF: ClientHeader = ClientHeader::XForwardedFor;
    const CF: ClientHeader = ClientHeader::CfConnectingIp;

    #[test]
    fn client_header_names_parse() {
        assert_eq!(ClientHeader::parse("X-Forwarded-For"), Some(XFF));
        assert_eq!(ClientHeader::parse("cf-connecting-ip"), Some(CF));
        assert_eq!(ClientHeader::parse("forwarded"), None);
        assert_eq!(ClientHeader::default(), XFF);
    }

    #[test]
    fn ip_networks_match() {
        let net = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(net.contains("10.200.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        let one = IpNet::parse("::1").unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        assert!(!one.contains("::2".parse().unwrap()));
        let all = IpNet::parse("0.0.0.0/0").unwrap();
        assert!(all.contains("1.2.3.4".parse().unwrap()));
        assert!(IpNet::parse("1.2.3.4/40").is_none());
        assert!(IpNet::parse("localhost").is_none());
    }
}
