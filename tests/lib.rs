//! What the end-to-end tests (`e2e/`) and the load example
//! (`examples/admission_load.rs`) share: a raw HTTPS client for webd that
//! can pick its loopback source address, hold a connection open, or send
//! bytes no ordinary client would.

// Test support: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod https {
    //! A raw TLS client on std sockets: the tests that hold connections,
    //! misbehave, or come from many loopback addresses cannot use an HTTP
    //! client library.

    use std::io::{ErrorKind, Read};
    use std::net::{Ipv4Addr, SocketAddr, TcpStream};
    use std::sync::Arc;
    use std::time::Duration;

    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, ServerName};
    use socket2::{Domain, Socket, Type};

    /// A TLS connection to webd.
    pub type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

    /// The longest response head read before giving up (webd's own limit is
    /// far lower).
    const MAX_HEAD: usize = 16 * 1024;

    /// A client config that trusts only the certificates in `cert_pem` and
    /// offers `alpn` (e.g. `b"h2"`, `b"http/1.1"`), in that order.
    ///
    /// # Panics
    /// If `cert_pem` holds no usable certificate: test material is broken.
    pub fn client_config(cert_pem: &[u8], alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(cert_pem) {
            roots.add(c.expect("PEM cert")).expect("root");
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        cfg.alpn_protocols = alpn.iter().map(|a| a.to_vec()).collect();
        Arc::new(cfg)
    }

    /// As [`client_config`], presenting the client certificate chain in
    /// `client_cert_pem` with the key in `client_key_pem` when the server
    /// asks for one.
    ///
    /// # Panics
    /// If the PEM material is unusable: test material is broken.
    pub fn client_config_with_cert(
        cert_pem: &[u8],
        alpn: &[&[u8]],
        client_cert_pem: &[u8],
        client_key_pem: &[u8],
    ) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(cert_pem) {
            roots.add(c.expect("PEM cert")).expect("root");
        }
        let chain = CertificateDer::pem_slice_iter(client_cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .expect("client PEM cert");
        let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(client_key_pem)
            .expect("client PEM key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .expect("client certificate and key");
        cfg.alpn_protocols = alpn.iter().map(|a| a.to_vec()).collect();
        Arc::new(cfg)
    }

    /// A socket bound to `src` (an address in 127.0.0.0/8), not connected.
    pub fn socket_from(src: Ipv4Addr) -> std::io::Result<Socket> {
        let s = Socket::new(Domain::IPV4, Type::STREAM, None)?;
        s.bind(&SocketAddr::from((src, 0)).into())?;
        Ok(s)
    }

    /// A TCP connection from `src` to webd on 127.0.0.1:`port`; connecting,
    /// reading and writing each give up after `patience`.
    pub fn tcp_from(src: Ipv4Addr, port: u16, patience: Duration) -> std::io::Result<TcpStream> {
        let s = socket_from(src)?;
        s.connect_timeout(
            &SocketAddr::from((Ipv4Addr::LOCALHOST, port)).into(),
            patience,
        )?;
        let tcp: TcpStream = s.into();
        // As curl and browsers do: a request is not held back waiting
        // for the ACK of the handshake's last flight.
        tcp.set_nodelay(true)?;
        tcp.set_read_timeout(Some(patience))?;
        tcp.set_write_timeout(Some(patience))?;
        Ok(tcp)
    }

    /// Completes the TLS handshake (server name `localhost`) on `tcp`.
    pub fn handshake(tcp: TcpStream, cfg: Arc<rustls::ClientConfig>) -> std::io::Result<Tls> {
        let name = ServerName::try_from("localhost").map_err(std::io::Error::other)?;
        let conn = rustls::ClientConnection::new(cfg, name).map_err(std::io::Error::other)?;
        let mut s = rustls::StreamOwned::new(conn, tcp);
        while s.conn.is_handshaking() {
            s.conn.complete_io(&mut s.sock)?;
        }
        Ok(s)
    }

    /// A TLS connection from `src` to webd, handshake done.
    pub fn tls_from(
        src: Ipv4Addr,
        port: u16,
        cfg: Arc<rustls::ClientConfig>,
        patience: Duration,
    ) -> std::io::Result<Tls> {
        handshake(tcp_from(src, port, patience)?, cfg)
    }

    /// Reads a response head, through the blank line, one byte at a time so
    /// the body stays in the stream.
    pub fn read_head(s: &mut impl Read) -> std::io::Result<String> {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if s.read(&mut byte)? == 0 || head.len() > MAX_HEAD {
                return Err(ErrorKind::UnexpectedEof.into());
            }
            head.push(byte[0]);
        }
        Ok(String::from_utf8_lossy(&head).into_owned())
    }

    /// Byte `n` of a request head that never ends: a request line, a
    /// header name, then `a`s for ever. A connection that sends it a byte at
    /// a time talks and never asks (the slowloris of webd's admission tests).
    pub fn trickled_byte(n: usize) -> u8 {
        const HEAD: &[u8] = b"POST /hooks/fire HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";
        HEAD.get(n).copied().unwrap_or(b'a')
    }

    /// The status code of a response head (`None` if it has none).
    pub fn status_of(head: &str) -> Option<u16> {
        head.split(' ').nth(1).and_then(|s| s.parse().ok())
    }
}
