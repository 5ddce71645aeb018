//! Where webd listens and whom it believes: `listen` (when not
//! socket-activated), `trusted_proxies`, whose networks are
//! [`crate::domain::net::IpNet`], and `client_address_header`, next to
//! the client-address code that uses them.

use std::net::SocketAddr;

use super::ConfigError;
use super::validate::Validator;
use crate::domain::net::{ClientHeader, IpNet};
use tinsel_daemon::config::Validate;

/// The default TCP address, used when neither `listen` nor systemd socket
/// activation gives one.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:8443";

impl Validator<'_> {
    pub(super) fn listen(&self, listen: Option<&str>) -> Result<SocketAddr, ConfigError> {
        let listen_text = listen.unwrap_or(DEFAULT_LISTEN);
        listen_text.parse::<SocketAddr>().map_err(|_| {
            self.err(
                "listen",
                format!("`{listen_text}` is not an address: write IP:PORT, e.g. \"0.0.0.0:8443\" or \"[::]:8443\""),
            )
        })
    }

    pub(super) fn trusted_proxies(&self, raw: &[String]) -> Result<Vec<IpNet>, ConfigError> {
        raw.iter()
            .enumerate()
            .map(|(i, s)| {
                IpNet::parse(s).ok_or_else(|| {
                    self.err(
                        format!("trusted_proxies[{i}]"),
                        format!("`{s}` is not an IP address or network (e.g. \"127.0.0.1\", \"10.0.0.0/8\")"),
                    )
                })
            })
            .collect()
    }

    pub(super) fn client_header(&self, raw: Option<&str>) -> Result<ClientHeader, ConfigError> {
        raw.map_or(Ok(ClientHeader::default()), |text| {
            ClientHeader::parse(text).ok_or_else(|| {
                self.err(
                    "client_address_header",
                    format!(
                        "`{text}` is not a header webd reads the client from: write {} (the one your proxy sets)",
                        ClientHeader::NAMES
                    ),
                )
            })
        })
    }
}
