//! The broker side: its addresses (resolved once, before the sandbox),
//! the TLS client configuration (rustls with the ring provider, the CA from
//! `broker.ca_file` or the system's store), the MQTT options, and why a
//! connection failed, worded once per cause with the fix.
//!
//! mqttd connects to the resolved *address* (the sandbox has no DNS), and
//! checks the broker's certificate against the configured *name*
//! (`PinnedName`). Because the TLS library is handed an address, no SNI
//! is sent: a broker that needs SNI to pick its certificate is not
//! supported. If the broker's address changes, mqttd exits after
//! [`RERESOLVE_AFTER`] without reaching it, and systemd
//! restarts it (a fresh resolution).

use std::fs::File;
use std::io::BufReader;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{ConnectReturnCode, ConnectionError, LastWill, MqttOptions, QoS, Transport};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::config::{Config, ConfigError};
use crate::publish::OFFLINE;

/// The largest packet mqttd reads from the broker. MQTT 3.1.1 has no way
/// to tell the broker a limit, and the MQTT client cannot skip a packet it
/// refuses: it drops the connection, and a *retained* message comes back at
/// every subscribe, a reconnect loop. So the cap is far above anything a
/// command needs: a message up to it is read whole and dropped by mqttd
/// before any parsing (commands over `limits.max_payload_bytes`, retained
/// commands, anything but `online` on Home Assistant's status topic).
/// Memory stays bounded by it: one packet of at most 1 MiB in the read
/// buffer, against the unit's `MemoryMax=64M` on a 512 MB Pi. Mosquitto's
/// own default (`message_size_limit` / `max_packet_size` 0) is the
/// protocol's 256 MiB, which no Pi can hold; a bigger message costs a
/// reconnect with backoff and one log line (see [`explain`]).
pub const MAX_INCOMING_PACKET: usize = 1024 * 1024;
/// The largest packet mqttd sends (the discovery config is ~1.5 KiB).
pub const MAX_OUTGOING_PACKET: usize = 64 * 1024;
/// How long a TCP connect plus the MQTT handshake may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The broker's addresses, resolved before the sandbox.
pub fn resolve(config: &Config) -> Result<Vec<SocketAddr>, ConfigError> {
    let b = &config.broker;
    let err = |message: String| ConfigError::Invalid {
        path: config.path.clone(),
        key: "broker.host".to_owned(),
        message,
    };
    let addrs: Vec<SocketAddr> = (b.host.as_str(), b.port)
        .to_socket_addrs()
        .map_err(|e| {
            err(format!(
                "cannot resolve {:?}: {e}; check the name (or give the broker's address), and that DNS works when mqttd starts (After=network-online.target)",
                b.host
            ))
        })?
        .collect();
    if addrs.is_empty() {
        return Err(err(format!("{:?} resolves to no address", b.host)));
    }
    Ok(addrs)
}

/// The TLS client configuration: the CA file's certificates (or the
/// system's), TLS 1.2 and 1.3 with the ring provider, names checked
/// against `broker.host`. `None` without TLS.
pub fn tls(config: &Config) -> Result<Option<Arc<ClientConfig>>, ConfigError> {
    let b = &config.broker;
    if !b.tls {
        return Ok(None);
    }
    let invalid = |key: &str, message: String| ConfigError::Invalid {
        path: config.path.clone(),
        key: key.to_owned(),
        message,
    };
    let mut roots = RootCertStore::empty();
    match &b.ca_file {
        Some(ca) => {
            for cert in read_certs(ca).map_err(|m| invalid("broker.ca_file", m))? {
                roots.add(cert).map_err(|e| {
                    invalid(
                        "broker.ca_file",
                        format!("{}: a certificate is not a usable CA: {e}", ca.display()),
                    )
                })?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(invalid(
                    "broker.ca_file",
                    "tls = true without ca_file, and the system has no CA certificates (apt-get install ca-certificates): give the CA that signed the broker's certificate".into(),
                ));
            }
        }
    }
    let name = ServerName::try_from(b.host.clone()).map_err(|e| {
        invalid(
            "broker.host",
            format!("{:?} is not a name a certificate can be for: {e}", b.host),
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| invalid("broker.ca_file", e.to_string()))?;
    let tls = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid("broker.tls", e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedName { inner, name }))
        .with_no_client_auth();
    Ok(Some(Arc::new(tls)))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let file = File::open(path).map_err(|e| {
        format!(
            "cannot read {}: {e}; give the PEM file of the CA that signed the broker's certificate",
            path.display()
        )
    })?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut BufReader::new(file))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: not PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{} holds no CERTIFICATE block: give the CA's PEM file",
            path.display()
        ));
    }
    Ok(certs)
}

/// Verifies the broker's certificate chain with webpki, for the configured
/// host name rather than the address mqttd connected to.
#[derive(Debug)]
struct PinnedName {
    inner: Arc<WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for PinnedName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _connected_to: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The MQTT options for one connection attempt to `addr`: client id,
/// keep-alive, login, the retained `offline` last will, packet limits and
/// TLS.
pub fn options(
    config: &Config,
    addr: SocketAddr,
    password: Option<&str>,
    tls: Option<&Arc<ClientConfig>>,
) -> MqttOptions {
    let b = &config.broker;
    // The address as text the client neither resolves (no DNS in the
    // sandbox) nor needs to: "[v6]" parses as a socket address with its
    // port; with TLS the bare address is what a server name accepts.
    let host = match (addr, tls.is_some()) {
        (SocketAddr::V6(v6), false) => format!("[{}]", v6.ip()),
        _ => addr.ip().to_string(),
    };
    let mut o = MqttOptions::new(b.client_id.clone(), host, addr.port());
    o.set_keep_alive(b.keep_alive)
        .set_clean_session(true)
        .set_max_packet_size(MAX_INCOMING_PACKET, MAX_OUTGOING_PACKET)
        .set_last_will(LastWill::new(
            config.availability_topic(),
            OFFLINE,
            QoS::AtLeastOnce,
            true,
        ));
    if let Some(user) = &b.username {
        o.set_credentials(user.clone(), password.unwrap_or_default());
    }
    if let Some(tls) = tls {
        o.set_transport(Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(tls.clone()),
        ));
    }
    o
}

/// Why the broker connection failed, as a comparable key (a cause is logged
/// once until it changes) and a line that names the broker and the fix.
pub fn explain(e: &ConnectionError, config: &Config, addr: SocketAddr) -> (String, String) {
    let b = &config.broker;
    let at = format!("{}:{} ({addr})", b.host, b.port);
    let io_kind = |e: &std::io::Error| match e.kind() {
        std::io::ErrorKind::ConnectionRefused => (
            "refused".to_owned(),
            format!(
                "nothing listens on {at}: start the broker, or fix broker.host and broker.port"
            ),
        ),
        std::io::ErrorKind::PermissionDenied => (
            "denied".to_owned(),
            format!(
                "connecting to {at} is not allowed: IPAddressAllow= in mqttd.service must list the broker's address; if the broker's address changed, restart mqttd"
            ),
        ),
        std::io::ErrorKind::TimedOut => (
            "timeout".to_owned(),
            format!(
                "no answer from {at}: check the network and a firewall between this tree and the broker"
            ),
        ),
        _ => (
            format!("io:{:?}", e.kind()),
            format!("cannot reach {at}: {e}; check the network and broker.host"),
        ),
    };
    match e {
        ConnectionError::Io(io) => io_kind(io),
        ConnectionError::NetworkTimeout => (
            "timeout".to_owned(),
            format!(
                "no MQTT answer from {at} within {CONNECT_TIMEOUT:?}: is it an MQTT broker? does it speak TLS (broker.tls)?"
            ),
        ),
        ConnectionError::Tls(t) => (
            "tls".to_owned(),
            format!(
                "TLS with {at} failed: {t}; check that broker.ca_file holds the CA that signed the broker's certificate, that the certificate is for {:?}, and that the port speaks TLS",
                b.host
            ),
        ),
        ConnectionError::ConnectionRefused(code) => match code {
            ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized => (
                "login".to_owned(),
                format!(
                    "the broker at {at} refused the login ({code:?}) for user {:?}: check broker.username and the password (broker.password_file or the mqtt.password credential) against the broker's password file (mosquitto_passwd)",
                    b.username.as_deref().unwrap_or("")
                ),
            ),
            ConnectReturnCode::BadClientId => (
                "client-id".to_owned(),
                format!(
                    "the broker at {at} refused client id {:?}: set another broker.client_id",
                    b.client_id
                ),
            ),
            other => (
                format!("refused:{other:?}"),
                format!(
                    "the broker at {at} refused the connection ({other:?}); see the broker's log"
                ),
            ),
        },
        ConnectionError::MqttState(rumqttc::StateError::Deserialization(
            rumqttc::Error::PayloadSizeLimitExceeded(size),
        )) => (
            "too-big".to_owned(),
            format!(
                "{at} sent a message of {size} bytes, over mqttd's limit of {MAX_INCOMING_PACKET}: most likely a retained message on {}, which the broker sends again at every connection; clear it with mosquitto_pub -r -n -t TOPIC (or cap messages in the broker: max_packet_size in mosquitto.conf); reconnecting",
                subscribed(config)
            ),
        ),
        ConnectionError::MqttState(s) => (
            "state".to_owned(),
            format!("lost the connection to {at}: {s}; reconnecting"),
        ),
        other => (
            "other".to_owned(),
            format!("connection to {at} failed: {other}; reconnecting"),
        ),
    }
}

/// The topics mqttd subscribes to, for a log line.
fn subscribed(config: &Config) -> String {
    let mut topics = vec![config.command_topic(), config.ha_status_topic()];
    topics.extend(config.group_topic.clone());
    topics.join(", ")
}

/// How long a broker configured by name may stay unreachable at the
/// addresses resolved at start before mqttd exits (69) for systemd to
/// restart it, which resolves the name again: the sandbox has no DNS, and
/// a broker's address can change (DHCP, a new container).
pub const RERESOLVE_AFTER: Duration = Duration::from_secs(300);

/// Whether an outage that began at `since` calls for a fresh resolution of
/// `host` at `now`: only for a name (an address never changes), only for
/// failures to reach it (a wrong password or certificate is not cured by
/// DNS), and only after [`RERESOLVE_AFTER`].
pub fn time_to_reresolve(
    host: &str,
    since: Option<tokio::time::Instant>,
    now: tokio::time::Instant,
) -> bool {
    host.parse::<std::net::IpAddr>().is_err()
        && since.is_some_and(|s| now.saturating_duration_since(s) >= RERESOLVE_AFTER)
}

/// Whether a failure cause (a key of `broker::explain`) means the broker
/// could not be reached at all.
pub fn unreachable_cause(key: &str) -> bool {
    matches!(key, "refused" | "denied" | "timeout") || key.starts_with("io:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_name_unreachable_for_long_is_resolved_again() {
        let t0 = tokio::time::Instant::now();
        let later = t0 + RERESOLVE_AFTER;
        assert!(time_to_reresolve("broker.lan", Some(t0), later));
        assert!(!time_to_reresolve(
            "broker.lan",
            Some(t0),
            later - Duration::from_secs(1)
        ));
        assert!(!time_to_reresolve("broker.lan", None, later));
        assert!(!time_to_reresolve("192.0.2.10", Some(t0), later));
        assert!(!time_to_reresolve("2001:db8::10", Some(t0), later));
        assert!(unreachable_cause("refused") && unreachable_cause("io:HostUnreachable"));
        assert!(
            !unreachable_cause("login")
                && !unreachable_cause("tls")
                && !unreachable_cause("refused:BadUserNamePassword")
        );
    }

    fn config(extra: &str) -> Config {
        Config::parse_with(
            &format!("ledd_socket = \"/s\"\nname = \"t\"\n[broker]\nhost = \"localhost\"\n{extra}"),
            Path::new("/etc/tinsel/mqttd.toml"),
            None,
        )
        .unwrap()
    }

    #[test]
    fn options_carry_the_will_the_login_and_an_address_not_a_name() {
        let c = config("username = \"tree\"\n");
        let o = options(&c, "127.0.0.1:1883".parse().unwrap(), Some("pw"), None);
        assert_eq!(o.broker_address(), ("127.0.0.1".to_owned(), 1883));
        let will = o.last_will().unwrap();
        assert_eq!(will.topic, "tinsel/t/availability");
        assert_eq!(&will.message[..], b"offline");
        assert!(will.retain);
        let login = o.credentials().unwrap();
        assert_eq!(
            (login.username.as_str(), login.password.as_str()),
            ("tree", "pw")
        );
        let o = options(&c, "[::1]:1883".parse().unwrap(), None, None);
        assert_eq!(o.broker_address().0, "[::1]");
    }

    #[test]
    fn a_missing_or_empty_ca_file_names_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("ca.pem");
        std::fs::write(&empty, "not pem\n").unwrap();
        for extra in [
            "tls = true\nca_file = \"/nonexistent/ca.pem\"\n".to_owned(),
            format!("tls = true\nca_file = {empty:?}\n"),
        ] {
            let err = tls(&config(&extra)).unwrap_err();
            assert_eq!(err.key(), Some("broker.ca_file"), "{err}");
        }
    }

    #[test]
    fn a_refused_login_names_the_user_and_the_fix() {
        let c = config("username = \"tree\"\n");
        let addr = "127.0.0.1:1883".parse().unwrap();
        let (key, line) = explain(
            &ConnectionError::ConnectionRefused(ConnectReturnCode::NotAuthorized),
            &c,
            addr,
        );
        assert_eq!(key, "login");
        assert!(line.contains("localhost:1883"), "{line}");
        assert!(line.contains("\"tree\""), "{line}");
        assert!(line.contains("mosquitto_passwd"), "{line}");
        let big = ConnectionError::MqttState(rumqttc::StateError::Deserialization(
            rumqttc::Error::PayloadSizeLimitExceeded(2 << 20),
        ));
        let (key, line) = explain(&big, &c, addr);
        assert_eq!(key, "too-big");
        assert!(line.contains("2097152 bytes"), "{line}");
        assert!(line.contains("tinsel/t/set"), "{line}");
        assert!(line.contains("mosquitto_pub -r -n"), "{line}");
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let (_, line) = explain(&ConnectionError::Io(refused), &c, addr);
        assert!(line.contains("start the broker"), "{line}");
    }
}
