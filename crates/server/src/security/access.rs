//! Access control settings: who may use each protocol and how they prove it
//! (memcached's `-Y` auth file, Redis's `requirepass` and a small ACL file,
//! bearer tokens for HTTP and the admin endpoint), the start-up warning of an
//! open, unprotected listener, and the constant-time comparison every check
//! uses. The files are read once at start; docs/security.md says what this
//! protects and what it does not.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::security::access_files::{self, MemcacheUsers, RespUsers};
use crate::startup::config::ConfigError;

/// Default for `auth_timeout_secs`: long enough for a client on a slow link
/// to send its credentials, short enough that unauthenticated sockets cannot
/// pile up.
pub const DEFAULT_AUTH_TIMEOUT_SECS: u64 = 10;
/// Longest accepted `auth_timeout_secs` (an hour).
const MAX_AUTH_TIMEOUT_SECS: u64 = 3600;
/// Largest token file read; a token is one line.
const MAX_TOKEN_FILE_BYTES: u64 = 4096;
/// Shortest accepted bearer token, so that a typo like `--http-token ""` or a
/// one-character token cannot pass for protection.
const MIN_TOKEN_BYTES: usize = 8;

/// Access-control flags, flattened into the command line.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct AccessFlags {
    /// RESP: password of the default user (Redis's requirepass); prefer --aclfile or the config file, as flags show in `ps`
    #[arg(long = "requirepass", value_name = "PASSWORD")]
    pub requirepass: Option<String>,

    /// RESP: users file in Redis ACL syntax (subset: docs/security.md)
    #[arg(long = "aclfile", value_name = "FILE")]
    pub aclfile: Option<PathBuf>,

    /// HTTP data API: bearer token every request must carry
    #[arg(long = "http-token", value_name = "TOKEN")]
    pub http_token: Option<String>,

    /// HTTP data API: read the bearer token from this file (first line)
    #[arg(long = "http-token-file", value_name = "FILE")]
    pub http_token_file: Option<PathBuf>,

    /// Admin endpoint: bearer token every request must carry
    #[arg(long = "admin-token", value_name = "TOKEN")]
    pub admin_token: Option<String>,

    /// Admin endpoint: read the bearer token from this file (first line)
    #[arg(long = "admin-token-file", value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,

    /// Seconds a connection may stay unauthenticated before it is closed [default: 10]
    #[arg(long = "auth-timeout", value_name = "SECS")]
    pub auth_timeout_secs: Option<u64>,
}

/// A password or token: compared in constant time, never shown by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The secret's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Whether `given` equals `expected`, in time that depends only on their
/// lengths (a length mismatch is known at once, as in memcached and Redis).
pub fn secret_eq(given: &[u8], expected: &[u8]) -> bool {
    bool::from(given.ct_eq(expected))
}

/// The `[access]` table of the config file. Field names are the TOML keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccessConfig {
    /// memcached's ascii authentication file (-Y): `user:password` lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_file: Option<PathBuf>,
    /// RESP default user's password (--requirepass).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requirepass: Option<Secret>,
    /// RESP users in Redis ACL syntax (--aclfile).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aclfile: Option<PathBuf>,
    /// Bearer token of the HTTP data API (--http-token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_token: Option<Secret>,
    /// File holding the HTTP data API token (--http-token-file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_token_file: Option<PathBuf>,
    /// Bearer token of the admin endpoint (--admin-token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_token: Option<Secret>,
    /// File holding the admin endpoint token (--admin-token-file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_token_file: Option<PathBuf>,
    /// Seconds a connection may stay unauthenticated (--auth-timeout).
    pub auth_timeout_secs: u64,
    /// What the files and settings above say, read by [`AccessConfig::load`].
    #[serde(skip)]
    pub credentials: Credentials,
}

impl Default for AccessConfig {
    fn default() -> Self {
        Self {
            auth_file: None,
            requirepass: None,
            aclfile: None,
            http_token: None,
            http_token_file: None,
            admin_token: None,
            admin_token_file: None,
            auth_timeout_secs: DEFAULT_AUTH_TIMEOUT_SECS,
            credentials: Credentials::default(),
        }
    }
}

/// The credentials each protocol checks; `None` where nothing is required.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Credentials {
    /// memcache users (-Y).
    pub memcache: Option<MemcacheUsers>,
    /// RESP users (--requirepass or --aclfile).
    pub resp: Option<RespUsers>,
    /// HTTP data API token.
    pub http_token: Option<Secret>,
    /// Admin endpoint token.
    pub admin_token: Option<Secret>,
}

impl AccessConfig {
    /// Overlays the flags (and memcached's `-Y`) on the file's values.
    pub fn apply_flags(&mut self, flags: &AccessFlags, auth_file: Option<&Path>) {
        if let Some(path) = auth_file {
            self.auth_file = Some(path.to_owned());
        }
        if let Some(pass) = &flags.requirepass {
            self.requirepass = Some(Secret::new(pass.clone()));
        }
        overlay(&mut self.aclfile, &flags.aclfile);
        if let Some(token) = &flags.http_token {
            self.http_token = Some(Secret::new(token.clone()));
        }
        overlay(&mut self.http_token_file, &flags.http_token_file);
        if let Some(token) = &flags.admin_token {
            self.admin_token = Some(Secret::new(token.clone()));
        }
        overlay(&mut self.admin_token_file, &flags.admin_token_file);
        if let Some(secs) = flags.auth_timeout_secs {
            self.auth_timeout_secs = secs;
        }
    }

    /// Checks the settings and reads the files they name into `credentials`.
    pub fn load(&mut self) -> Result<(), ConfigError> {
        if !(1..=MAX_AUTH_TIMEOUT_SECS).contains(&self.auth_timeout_secs) {
            return Err(ConfigError::invalid(
                "--auth-timeout (access.auth_timeout_secs)",
                format!("must be 1 to {MAX_AUTH_TIMEOUT_SECS} seconds"),
            ));
        }
        let memcache = match &self.auth_file {
            Some(path) => Some(access_files::read_memcache_auth_file(path)?),
            None => None,
        };
        let resp = match (&self.requirepass, &self.aclfile) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::conflict(
                    "--requirepass (access.requirepass)",
                    "give either requirepass or an aclfile (which can set the default user's password), not both",
                ))
            }
            (Some(pass), None) => Some(RespUsers::with_default_password(
                pass.clone(),
                "--requirepass (access.requirepass)",
            )?),
            (None, Some(path)) => Some(access_files::read_acl_file(path)?),
            (None, None) => None,
        };
        let http_token = token(
            &self.http_token,
            &self.http_token_file,
            "--http-token (access.http_token)",
        )?;
        let admin_token = token(
            &self.admin_token,
            &self.admin_token_file,
            "--admin-token (access.admin_token)",
        )?;
        self.credentials = Credentials {
            memcache,
            resp,
            http_token,
            admin_token,
        };
        Ok(())
    }
}

fn overlay(value: &mut Option<PathBuf>, flag: &Option<PathBuf>) {
    if flag.is_some() {
        value.clone_from(flag);
    }
}

/// The token given inline or in a file (not both), checked for length.
fn token(
    inline: &Option<Secret>,
    file: &Option<PathBuf>,
    setting: &str,
) -> Result<Option<Secret>, ConfigError> {
    let token = match (inline, file) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::conflict(
                setting,
                "give the token or a file holding it, not both",
            ))
        }
        (Some(token), None) => token.clone(),
        (None, Some(path)) => read_token_file(path, setting)?,
        (None, None) => return Ok(None),
    };
    let bytes = token.as_bytes();
    if bytes.len() < MIN_TOKEN_BYTES || !bytes.iter().all(|&b| b.is_ascii_graphic()) {
        return Err(ConfigError::invalid(
            setting,
            format!("a token is at least {MIN_TOKEN_BYTES} printable characters without spaces"),
        ));
    }
    Ok(Some(token))
}

fn read_token_file(path: &Path, setting: &str) -> Result<Secret, ConfigError> {
    let setting = format!("{setting} file {}", path.display());
    let text = access_files::read_bounded(path, MAX_TOKEN_FILE_BYTES, &setting)?;
    let first_line = text.lines().next().unwrap_or_default().trim();
    Ok(Secret::new(first_line))
}

/// Whether clients can reach these listeners from other hosts with no
/// authentication at all, as Redis's protected mode warns: some address is
/// not loopback (nor a unix socket) and speaks plain text, and no protocol
/// asks for credentials.
pub fn exposed_without_auth(
    credentials: &Credentials,
    data_addrs: &[crate::startup::config::DataAddr],
) -> bool {
    use crate::context::DataListenAddr;
    let any_auth = credentials.memcache.is_some()
        || credentials.resp.is_some()
        || credentials.http_token.is_some();
    let exposed = data_addrs.iter().any(|addr| match &addr.addr {
        DataListenAddr::Tcp(socket) => !socket.ip().is_loopback() && !addr.tls,
        DataListenAddr::Udp(socket) => !socket.ip().is_loopback(),
        DataListenAddr::Unix { .. } => false,
    });
    exposed && !any_auth
}

/// Whether the admin endpoint (whose `/lru_crawler/metadump` lists every
/// key) listens beyond loopback with no token and no TLS.
pub fn admin_exposed_without_token(
    credentials: &Credentials,
    admin_addr: Option<std::net::SocketAddr>,
    tls_enabled: bool,
) -> bool {
    let exposed = admin_addr.is_some_and(|addr| !addr.ip().is_loopback());
    exposed && credentials.admin_token.is_none() && !tls_enabled
}

/// The start-up warning for [`admin_exposed_without_token`].
pub const ADMIN_EXPOSED_WARNING: &str = "the admin endpoint listens on a non-loopback address \
    with no --admin-token and no TLS: anyone who can reach it can read metrics and dump every \
    key (docs/security.md)";

/// The start-up warning for [`exposed_without_auth`].
pub const EXPOSED_WARNING: &str = "listening on a non-loopback address with no authentication \
    (-Y, --requirepass/--aclfile, --http-token) and no TLS: anyone who can reach this host can \
    read and write every key (docs/security.md)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_eq_is_exact() {
        assert!(secret_eq(b"hunter22", b"hunter22"));
        assert!(!secret_eq(b"hunter22", b"hunter2"));
        assert!(!secret_eq(b"hunter23", b"hunter22"));
        assert!(!secret_eq(b"", b"x"));
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let config = AccessConfig {
            requirepass: Some(Secret::new("topsecret")),
            ..AccessConfig::default()
        };
        assert!(!format!("{config:?}").contains("topsecret"));
    }

    #[test]
    fn short_or_spaced_tokens_are_refused() {
        for bad in ["short", "has space in it", ""] {
            let result = token(&Some(Secret::new(bad)), &None, "--http-token");
            assert!(result.is_err(), "{bad:?} accepted");
        }
        let good = token(
            &Some(Secret::new("0123456789abcdef")),
            &None,
            "--http-token",
        );
        assert_eq!(good.unwrap(), Some(Secret::new("0123456789abcdef")));
    }

    #[test]
    fn exposure_needs_a_non_loopback_address_and_no_protection() {
        use crate::context::{DataListenAddr, Protocol};
        use crate::startup::config::DataAddr;
        let listener = |addr: &str, tls: bool| DataAddr {
            protocol: Protocol::Memcache,
            addr: DataListenAddr::Tcp(addr.parse().unwrap()),
            tls,
        };
        let tcp = |addr: &str| listener(addr, false);
        let open = Credentials::default();
        let loopback = [tcp("127.0.0.1:11211"), tcp("[::1]:11211")];
        assert!(!exposed_without_auth(&open, &loopback));
        let any = [tcp("127.0.0.1:11211"), tcp("0.0.0.0:11211")];
        assert!(exposed_without_auth(&open, &any));
        let any_over_tls = [tcp("127.0.0.1:11211"), listener("0.0.0.0:11212", true)];
        assert!(!exposed_without_auth(&open, &any_over_tls));
        // A plain listener beside a TLS one is still exposed.
        let mixed = [listener("0.0.0.0:11212", true), tcp("0.0.0.0:11211")];
        assert!(exposed_without_auth(&open, &mixed));
        let with_token = Credentials {
            http_token: Some(Secret::new("0123456789")),
            ..Credentials::default()
        };
        assert!(!exposed_without_auth(&with_token, &any));
        let admin = Some("0.0.0.0:9911".parse().unwrap());
        assert!(admin_exposed_without_token(&open, admin, false));
        assert!(!admin_exposed_without_token(&open, admin, true));
        let admin_token = Credentials {
            admin_token: Some(Secret::new("0123456789")),
            ..Credentials::default()
        };
        assert!(!admin_exposed_without_token(&admin_token, admin, false));
        let local_admin = Some("127.0.0.1:9911".parse().unwrap());
        assert!(!admin_exposed_without_token(&open, local_admin, false));
    }

    #[test]
    fn timeout_out_of_range_is_refused() {
        let mut config = AccessConfig {
            auth_timeout_secs: 0,
            ..AccessConfig::default()
        };
        assert!(config.load().is_err());
        config.auth_timeout_secs = 10;
        assert!(config.load().is_ok());
    }
}
