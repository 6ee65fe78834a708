//! TLS sessions end to end: handshake, large replies under backpressure,
//! certificate reload with open connections, and hostile bytes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

mod support;

use rcgen::{CertificateParams, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, StreamOwned};
use support::{bind_loopback, LinesFactory, Replies};
use tailcache_runtime::{ConnStats, Runtime, RuntimeConfig, TlsAcceptor};

/// A self-signed certificate for "localhost" and the server config using it.
fn server_config(common_name: &str) -> (Arc<ServerConfig>, CertificateDer<'static>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    let cert = params.self_signed(&key).unwrap();
    let cert_der = cert.der().clone();
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert_der.clone()], key_der)
            .unwrap();
    (Arc::new(config), cert_der)
}

fn client(
    addr: SocketAddr,
    trusted: &CertificateDer<'static>,
) -> StreamOwned<ClientConnection, TcpStream> {
    let mut roots = RootCertStore::empty();
    roots.add(trusted.clone()).unwrap();
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    let name = ServerName::try_from("localhost").unwrap();
    let conn = ClientConnection::new(Arc::new(config), name).unwrap();
    let socket = TcpStream::connect(addr).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    StreamOwned::new(conn, socket)
}

struct Harness {
    runtime: Option<Runtime>,
    addr: SocketAddr,
    acceptor: Arc<TlsAcceptor>,
}

impl Harness {
    fn start(config: Arc<ServerConfig>) -> Self {
        Self::start_with(config, RuntimeConfig::default())
    }

    fn start_with(config: Arc<ServerConfig>, runtime_config: RuntimeConfig) -> Self {
        let acceptor = Arc::new(TlsAcceptor::new(config));
        let runtime_config = RuntimeConfig {
            workers: 1,
            write_buffer_high_water_bytes: 256 * 1024,
            ..runtime_config
        };
        let replies = Replies {
            reject: b"ERROR\r\n",
            overflow: b"TOO BIG\r\n",
        };
        let (bound, addr) = bind_loopback(
            1,
            runtime_config.accept_mode,
            replies,
            Some(acceptor.clone()),
        );
        let stats = Arc::new(ConnStats::default());
        let runtime = Runtime::start(
            runtime_config,
            vec![bound],
            Arc::new(LinesFactory {
                panic_on_start: false,
            }),
            stats,
        )
        .unwrap();
        Self {
            runtime: Some(runtime),
            addr,
            acceptor,
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.stopper().stop();
            runtime.join();
        }
    }
}

fn read_line(stream: &mut impl BufRead) -> String {
    let mut line = String::new();
    stream.read_line(&mut line).unwrap();
    line
}

#[test]
fn lines_echo_over_tls() {
    let (config, cert) = server_config("first");
    let harness = Harness::start(config);
    let mut stream = BufReader::new(client(harness.addr, &cert));
    stream.get_mut().write_all(b"hello\nworld\n").unwrap();
    assert_eq!(read_line(&mut stream), "hello\n");
    assert_eq!(read_line(&mut stream), "world\n");
}

#[test]
fn large_replies_to_a_slow_reader_arrive_whole() {
    let (config, cert) = server_config("first");
    let harness = Harness::start(config);
    let mut stream = client(harness.addr, &cert);
    // 16 replies of 1 MiB pipelined: far above the socket buffer, the TLS
    // buffer and the high-water mark, so output waits on writability often.
    let reply_bytes = 1 << 20;
    for _ in 0..16 {
        stream
            .write_all(format!("big {reply_bytes}\n").as_bytes())
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let mut received = vec![0u8; 16 * reply_bytes];
    stream.read_exact(&mut received).unwrap();
    assert!(received.iter().all(|&b| b == b'x'));
    stream.write_all(b"after\n").unwrap();
    let mut stream = BufReader::new(stream);
    assert_eq!(read_line(&mut stream), "after\n");
}

#[test]
fn a_replaced_certificate_serves_new_connections_and_open_ones_stay() {
    let (first, first_cert) = server_config("first");
    let (second, second_cert) = server_config("second");
    let harness = Harness::start(first);
    let mut open = BufReader::new(client(harness.addr, &first_cert));
    open.get_mut().write_all(b"one\n").unwrap();
    assert_eq!(read_line(&mut open), "one\n");

    harness.acceptor.replace(second);

    open.get_mut().write_all(b"still\n").unwrap();
    assert_eq!(read_line(&mut open), "still\n");
    let mut renewed = BufReader::new(client(harness.addr, &second_cert));
    renewed.get_mut().write_all(b"two\n").unwrap();
    assert_eq!(read_line(&mut renewed), "two\n");
    // A client that trusts only the old certificate is refused now.
    let mut stale = client(harness.addr, &first_cert);
    assert!(
        stale
            .write_all(b"three\n")
            .and_then(|_| stale.flush())
            .is_err()
            || {
                let mut buf = [0u8; 8];
                stale.read(&mut buf).is_err()
            }
    );
}

#[test]
fn plaintext_and_garbage_on_a_tls_port_close_only_that_connection() {
    let (config, cert) = server_config("first");
    let harness = Harness::start(config);
    let mut plain = TcpStream::connect(harness.addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    plain.write_all(b"get foo\r\n").unwrap();
    let mut reply = Vec::new();
    // The server sends an alert at most, then closes.
    let _ = plain.read_to_end(&mut reply);
    assert!(!reply.windows(3).any(|w| w == b"foo"), "no plaintext echo");

    let mut garbage = TcpStream::connect(harness.addr).unwrap();
    garbage
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let noise: Vec<u8> = (0..64 * 1024u32)
        .map(|i| i.wrapping_mul(2_654_435_761) as u8)
        .collect();
    let _ = garbage.write_all(&noise);
    let _ = garbage.read_to_end(&mut Vec::new());

    let mut good = BufReader::new(client(harness.addr, &cert));
    good.get_mut().write_all(b"fine\n").unwrap();
    assert_eq!(read_line(&mut good), "fine\n");
    let counters = harness.acceptor.counters();
    assert_eq!(counters.handshake_errors(), 2, "plaintext and garbage");
    assert_eq!(counters.handshakes(), 1);
}

#[test]
fn a_handshake_that_never_finishes_is_closed_at_the_request_timeout() {
    let (config, cert) = server_config("first");
    let harness = Harness::start_with(
        config,
        RuntimeConfig {
            request_timeout: Some(Duration::from_millis(500)),
            ..RuntimeConfig::default()
        },
    );
    // One silent, one that sends the first bytes of a ClientHello and stops.
    let mut silent = TcpStream::connect(harness.addr).unwrap();
    let mut partial = TcpStream::connect(harness.addr).unwrap();
    partial
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .unwrap();
    for stream in [&mut silent, &mut partial] {
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let started = std::time::Instant::now();
        let mut buf = [0u8; 64];
        // Closed: end of stream (or a reset), well before the read timeout.
        let _ = stream.read(&mut buf);
        assert!(started.elapsed() < Duration::from_secs(10));
    }
    // A client that completes its handshake is served meanwhile and after.
    let mut good = BufReader::new(client(harness.addr, &cert));
    good.get_mut().write_all(b"still here\n").unwrap();
    assert_eq!(read_line(&mut good), "still here\n");
}
