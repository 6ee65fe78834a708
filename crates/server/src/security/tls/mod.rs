//! TLS: the server configuration built from the certificate files, and its
//! reload (SIGHUP, memcached's `refresh_certs`) without dropping connections.

mod session_cache;
mod settings;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tailcache_runtime::TlsAcceptor;

use session_cache::SessionCache;
pub use settings::{TlsFlags, TlsMinVersion, TlsSettings, TlsVerifyMode};

/// Largest PEM file read: a certificate chain or key is a few KiB; a wrong
/// path must not make us read gigabytes.
const MAX_PEM_FILE_BYTES: u64 = 1 << 20;

/// Builds the rustls configuration `settings` describe, reading the files.
/// The error names the file and what is wrong, as memcached's does.
pub fn load_server_config(
    settings: &TlsSettings,
    sessions: Option<Arc<SessionCache>>,
) -> Result<Arc<ServerConfig>, String> {
    let cert_path = settings.cert.as_deref().ok_or("Error TLS not enabled")?;
    let chain = read_pem(cert_path, "certificate chain", |bytes| {
        CertificateDer::pem_slice_iter(bytes).collect::<Result<Vec<_>, _>>()
    })?;
    if chain.is_empty() {
        return Err(format!(
            "Error loading the certificate chain: {} : no certificate in the file",
            cert_path.display()
        ));
    }
    let key_path = settings.key.as_deref().unwrap_or(cert_path);
    let key = read_pem(key_path, "key", PrivateKeyDer::from_pem_slice)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&'static rustls::SupportedProtocolVersion] = match settings.min_version {
        TlsMinVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsMinVersion::Tls13 => &[&rustls::version::TLS13],
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| format!("Error setting the TLS versions: {e}"))?;
    let builder = match (&settings.ca, settings.verify_mode) {
        (_, TlsVerifyMode::None) | (None, _) => builder.with_no_client_auth(),
        (Some(ca_path), mode) => {
            let mut roots = RootCertStore::empty();
            let cas = read_pem(ca_path, "CA certificate", |bytes| {
                CertificateDer::pem_slice_iter(bytes).collect::<Result<Vec<_>, _>>()
            })?;
            for ca in cas {
                roots.add(ca).map_err(|e| {
                    format!(
                        "Error loading the CA certificate: {} : {e}",
                        ca_path.display()
                    )
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if mode == TlsVerifyMode::Request {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier.build().map_err(|e| {
                format!(
                    "Error loading the CA certificate: {} : {e}",
                    ca_path.display()
                )
            })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("Error validating the certificate: {e}"))?;
    // As memcached: no resumption unless `-o ssl_session_cache` asks for it.
    config.session_storage = match sessions {
        Some(cache) => cache,
        None => {
            config.send_tls13_tickets = 0;
            Arc::new(rustls::server::NoServerSessionStorage {})
        }
    };
    // Every protocol here is a single byte stream; no ALPN is negotiated.
    config.alpn_protocols.clear();
    Ok(Arc::new(config))
}

fn read_pem<T, E: std::fmt::Display>(
    path: &Path,
    what: &str,
    parse: impl FnOnce(&[u8]) -> Result<T, E>,
) -> Result<T, String> {
    let fail = |reason: String| format!("Error loading the {what}: {} : {reason}", path.display());
    let meta = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
    if meta.len() > MAX_PEM_FILE_BYTES {
        return Err(fail("file is larger than 1 MiB".to_owned()));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    parse(&bytes).map_err(|e| fail(e.to_string()))
}

/// The TLS state every listener shares: what it was loaded from, the
/// acceptor connections take their configuration from, and reload figures.
pub struct TlsState {
    settings: TlsSettings,
    /// Resumable sessions, shared by every configuration a reload makes.
    sessions: Option<Arc<SessionCache>>,
    acceptor: Arc<TlsAcceptor>,
    /// Serializes reloads (a signal and a `refresh_certs` at once).
    reloading: Mutex<()>,
    last_refresh_unix_secs: AtomicU64,
    reload_failures: AtomicU64,
}

impl TlsState {
    /// Loads the files once; an error stops the start-up.
    pub fn load(settings: &TlsSettings) -> Result<Self, String> {
        let sessions = settings
            .session_cache
            .then(|| Arc::new(SessionCache::new()));
        let config = load_server_config(settings, sessions.clone())?;
        let write_buffer_bytes = settings.write_buffer_kib as usize * 1024;
        Ok(Self {
            settings: settings.clone(),
            sessions,
            acceptor: Arc::new(
                TlsAcceptor::new(config).with_write_buffer_bytes(write_buffer_bytes),
            ),
            reloading: Mutex::new(()),
            last_refresh_unix_secs: AtomicU64::new(unix_now_secs()),
            reload_failures: AtomicU64::new(0),
        })
    }

    /// Handshake counts over every TLS listener.
    pub fn counters(&self) -> &tailcache_runtime::TlsCounters {
        self.acceptor.counters()
    }

    /// The acceptor TLS listeners hand to the runtime.
    pub fn acceptor(&self) -> Arc<TlsAcceptor> {
        self.acceptor.clone()
    }

    /// Reads the files again; on success new connections use them, open
    /// ones keep their session. On failure the old certificates stay.
    pub fn reload(&self) -> Result<(), String> {
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        match load_server_config(&self.settings, self.sessions.clone()) {
            Ok(config) => {
                self.acceptor.replace(config);
                self.last_refresh_unix_secs
                    .store(unix_now_secs(), Ordering::Relaxed);
                tracing::info!("TLS certificates reloaded");
                Ok(())
            }
            Err(e) => {
                self.reload_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "TLS certificates not reloaded; the old ones stay");
                Err(e)
            }
        }
    }

    /// Seconds since the certificates were last loaded (memcached's
    /// `time_since_server_cert_refresh`).
    pub fn secs_since_refresh(&self) -> u64 {
        unix_now_secs().saturating_sub(self.last_refresh_unix_secs.load(Ordering::Relaxed))
    }

    /// TLS sessions stored for resumption (memcached's `ssl_new_sessions`);
    /// `None` without `-o ssl_session_cache`.
    pub fn new_sessions(&self) -> Option<u64> {
        self.sessions.as_ref().map(|cache| cache.stored())
    }

    /// Reloads that failed since start.
    pub fn reload_failures(&self) -> u64 {
        self.reload_failures.load(Ordering::Relaxed)
    }
}

fn unix_now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
