//! TLS to the targets: the client configuration the `--tls*` flags describe (rustls
//! with the ring provider, certificates read from PEM files) and the blocking
//! handshake every connection makes before it is used, so no handshake is measured.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore};
use serde::Serialize;
use std::fmt;
use std::io;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Longest a handshake may wait for the server at each step (loopback answers at once).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(1);
/// Server name used when the target is an address, not a name.
pub const DEFAULT_SERVER_NAME: &str = "localhost";

/// What the `--tls*` flags ask for, before any file is read.
#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    /// PEM file of the CA certificates that verify the server.
    pub ca_file: Option<PathBuf>,
    /// Accept any server certificate (explicitly asked for; never the default).
    pub insecure: bool,
    /// Name sent as SNI and checked against the server's certificate.
    pub server_name: String,
    /// PEM certificate chain presented to the server (mutual TLS).
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`.
    pub key_file: Option<PathBuf>,
}

/// A ready client configuration: every connection of a run handshakes with it.
#[derive(Clone)]
pub struct TlsClient {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
    /// The name as given, for reports.
    name_text: String,
    verifies_server: bool,
    presents_cert: bool,
}

impl fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClient")
            .field("server_name", &self.name_text)
            .field("verifies_server", &self.verifies_server)
            .field("presents_cert", &self.presents_cert)
            .finish()
    }
}

/// How a run's TLS appears in report.json (no key material, no paths).
#[derive(Serialize)]
struct TlsReport<'a> {
    server_name: &'a str,
    verifies_server: bool,
    client_certificate: bool,
}

impl Serialize for TlsClient {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        TlsReport {
            server_name: &self.name_text,
            verifies_server: self.verifies_server,
            client_certificate: self.presents_cert,
        }
        .serialize(s)
    }
}

/// The server name to use for target `HOST:PORT` when none is given: the host when it
/// is a name, [`DEFAULT_SERVER_NAME`] when it is an address.
pub fn default_server_name(target: &str) -> String {
    let host = target.rsplit_once(':').map_or(target, |(host, _)| host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.parse::<std::net::IpAddr>().is_ok() {
        DEFAULT_SERVER_NAME.to_string()
    } else {
        host.to_string()
    }
}

impl TlsClient {
    /// Reads the files and builds the configuration; the error says what is missing or
    /// which file is wrong.
    pub fn new(options: &TlsOptions) -> Result<Self, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS versions: {e}"))?;
        let builder = match (&options.ca_file, options.insecure) {
            (Some(_), true) => {
                return Err("--tls-ca and --tls-insecure contradict each other: give one".into())
            }
            (None, false) => {
                return Err(
                    "--tls needs --tls-ca FILE to verify the server's certificate, \
                            or --tls-insecure to skip verification explicitly"
                        .into(),
                )
            }
            (Some(ca), false) => builder.with_root_certificates(read_roots(ca)?),
            (None, true) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert { provider })),
        };
        let config = match (&options.cert_file, &options.key_file) {
            (Some(cert), Some(key)) => builder
                .with_client_auth_cert(read_certs(cert)?, read_key(key)?)
                .map_err(|e| {
                    format!(
                        "--tls-cert {} and --tls-key {} do not make a client identity: {e}",
                        cert.display(),
                        key.display()
                    )
                })?,
            (None, None) => builder.with_no_client_auth(),
            _ => return Err("--tls-cert and --tls-key go together: give both or neither".into()),
        };
        let server_name = ServerName::try_from(options.server_name.clone()).map_err(|_| {
            format!(
                "--tls-server-name {:?} is not a valid name",
                options.server_name
            )
        })?;
        Ok(Self {
            config: Arc::new(config),
            server_name,
            name_text: options.server_name.clone(),
            verifies_server: !options.insecure,
            presents_cert: options.cert_file.is_some(),
        })
    }

    /// Handshakes over the connected blocking `socket` (each step bounded by
    /// [`HANDSHAKE_TIMEOUT`]) and leaves it without timeouts; the session is ready for
    /// application data.
    pub fn handshake(&self, socket: &mut TcpStream) -> io::Result<ClientConnection> {
        let mut session = ClientConnection::new(self.config.clone(), self.server_name.clone())
            .map_err(io::Error::other)?;
        socket.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
        socket.set_write_timeout(Some(HANDSHAKE_TIMEOUT))?;
        while session.is_handshaking() {
            session.complete_io(socket)?;
        }
        // complete_io returns once the handshake is done, possibly with our last flight
        // still buffered; it must leave before the socket changes mode.
        while session.wants_write() {
            session.write_tls(socket)?;
        }
        socket.set_read_timeout(None)?;
        socket.set_write_timeout(None)?;
        Ok(session)
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bad =
        |e: &dyn fmt::Display| format!("cannot read certificates from {}: {e}", path.display());
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(&e))?;
    if certs.is_empty() {
        return Err(bad(&"no CERTIFICATE block in the file"));
    }
    Ok(certs)
}

fn read_roots(path: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(path)? {
        roots.add(cert).map_err(|e| {
            format!(
                "--tls-ca {}: not a usable CA certificate: {e}",
                path.display()
            )
        })?;
    }
    Ok(roots)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| format!("cannot read a private key from {}: {e}", path.display()))
}

/// `--tls-insecure`: any certificate is accepted, but the handshake's signatures are
/// still checked, so the session is at least consistent with the certificate sent.
#[derive(Debug)]
struct AcceptAnyServerCert {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_target_host_or_default_to_localhost() {
        assert_eq!(default_server_name("localhost:11211"), "localhost");
        assert_eq!(default_server_name("cache.local:1"), "cache.local");
        assert_eq!(default_server_name("127.0.0.1:11211"), "localhost");
        assert_eq!(default_server_name("[::1]:11211"), "localhost");
    }

    #[test]
    fn verification_is_never_skipped_silently() {
        let e = TlsClient::new(&TlsOptions {
            server_name: "localhost".into(),
            ..TlsOptions::default()
        })
        .unwrap_err();
        assert!(
            e.contains("--tls-ca") && e.contains("--tls-insecure"),
            "{e}"
        );
        let e = TlsClient::new(&TlsOptions {
            server_name: "localhost".into(),
            insecure: true,
            cert_file: Some("c.pem".into()),
            ..TlsOptions::default()
        })
        .unwrap_err();
        assert!(e.contains("go together"), "{e}");
        let e = TlsClient::new(&TlsOptions {
            server_name: "localhost".into(),
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..TlsOptions::default()
        })
        .unwrap_err();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
    }
}
