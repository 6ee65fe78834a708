//! TLS settings: our flags, memcached's `-Z` and `-o ssl_*` options, and the
//! `[tls]` table of the TOML file, checked before anything is bound.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};

use crate::startup::config::ConfigError;

/// Client certificate checking (memcached's `ssl_verify_mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum TlsVerifyMode {
    /// No client certificate is asked for (memcached 0).
    #[default]
    None,
    /// A client certificate is asked for and, when given, verified against
    /// the CA (memcached 1).
    Request,
    /// A client certificate verified against the CA is required (memcached 2 and 3).
    Require,
}

/// Lowest TLS version accepted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
pub enum TlsMinVersion {
    /// TLS 1.2 and 1.3 (memcached's default).
    #[default]
    #[serde(rename = "tlsv1.2")]
    #[value(name = "tlsv1.2")]
    Tls12,
    /// TLS 1.3 only.
    #[serde(rename = "tlsv1.3")]
    #[value(name = "tlsv1.3")]
    Tls13,
}

/// The `[tls]` table. Field names are the TOML keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSettings {
    /// memcached's `-Z`: every data TCP port (-p, --resp-port, --http-port)
    /// speaks TLS only.
    pub data_ports_tls_only: bool,
    /// Certificate chain, PEM (`--tls-cert`, `-o ssl_chain_cert`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert: Option<PathBuf>,
    /// Private key, PEM (`--tls-key`, `-o ssl_key`); absent: read from `cert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// CA certificates that client certificates must chain to, PEM
    /// (`--tls-ca`, `-o ssl_ca_cert`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca: Option<PathBuf>,
    /// Client certificate checking (`--tls-verify`, `-o ssl_verify_mode`).
    pub verify_mode: TlsVerifyMode,
    /// Lowest version accepted (`--tls-min-version`, `-o ssl_min_version`).
    pub min_version: TlsMinVersion,
    /// memcache protocol over TLS on this port, beside the plain one (`--tls-port`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// RESP over TLS on this port (`--resp-tls-port`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resp_port: Option<u16>,
    /// HTTP over TLS on this port (`--http-tls-port`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_port: Option<u16>,
    /// The admin endpoint speaks TLS only (`--admin-tls`).
    pub admin: bool,
    /// Keep TLS sessions so that clients can resume them (`-o ssl_session_cache`).
    pub session_cache: bool,
    /// Plaintext a connection's TLS layer holds before it must be sent, in
    /// KiB (`-o ssl_wbuf_size`, memcached's default 16).
    pub write_buffer_kib: u32,
}

/// memcached's `ssl_wbuf_size` default, in KiB.
const DEFAULT_WRITE_BUFFER_KIB: u32 = 16;
/// Largest `ssl_wbuf_size`: a bound on what one connection's TLS layer holds.
const MAX_WRITE_BUFFER_KIB: u32 = 1024;

impl Default for TlsSettings {
    fn default() -> Self {
        Self {
            data_ports_tls_only: false,
            cert: None,
            key: None,
            ca: None,
            verify_mode: TlsVerifyMode::None,
            min_version: TlsMinVersion::Tls12,
            port: None,
            resp_port: None,
            http_port: None,
            admin: false,
            session_cache: false,
            write_buffer_kib: DEFAULT_WRITE_BUFFER_KIB,
        }
    }
}

/// The TLS flags of the command line.
#[derive(Args, Clone, Debug, Default)]
pub struct TlsFlags {
    /// TLS on every data TCP port (memcached's -Z); needs a certificate and key
    #[arg(short = 'Z', long = "enable-ssl")]
    pub enable_ssl: bool,

    /// TLS certificate chain, PEM (or -o ssl_chain_cert=FILE)
    #[arg(long = "tls-cert", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// TLS private key, PEM (or -o ssl_key=FILE) [default: read from --tls-cert]
    #[arg(long = "tls-key", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,

    /// CA certificates client certificates must chain to, PEM (or -o ssl_ca_cert=FILE)
    #[arg(long = "tls-ca", value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,

    /// Client certificates: none, request or require (or -o ssl_verify_mode=0|1|2|3) [default: none]
    #[arg(long = "tls-verify", value_name = "MODE")]
    pub tls_verify: Option<TlsVerifyMode>,

    /// Lowest TLS version accepted (or -o ssl_min_version=) [default: tlsv1.2]
    #[arg(long = "tls-min-version", value_name = "VERSION")]
    pub tls_min_version: Option<TlsMinVersion>,

    /// memcache protocol over TLS on this port, beside the plain -p [default: off]
    #[arg(long = "tls-port", value_name = "PORT")]
    pub tls_port: Option<u16>,

    /// RESP over TLS on this port, beside --resp-port [default: off]
    #[arg(long = "resp-tls-port", value_name = "PORT")]
    pub resp_tls_port: Option<u16>,

    /// HTTP over TLS on this port, beside --http-port [default: off]
    #[arg(long = "http-tls-port", value_name = "PORT")]
    pub http_tls_port: Option<u16>,

    /// The admin endpoint speaks TLS only
    #[arg(long = "admin-tls")]
    pub admin_tls: bool,
}

/// memcached `-o ssl_*` options that tune OpenSSL itself: accepted, no effect.
/// (rustls has its own fixed set of safe cipher suites, and no kernel TLS here.)
const IGNORED_SSL_OPTIONS: &[&str] = &["ssl_ciphers", "ssl_kernel_tls"];

impl TlsSettings {
    /// Overlays the command line's TLS flags.
    pub fn apply_flags(&mut self, flags: &TlsFlags) {
        self.data_ports_tls_only |= flags.enable_ssl;
        let paths = [
            (&mut self.cert, &flags.tls_cert),
            (&mut self.key, &flags.tls_key),
            (&mut self.ca, &flags.tls_ca),
        ];
        for (slot, flag) in paths {
            if flag.is_some() {
                slot.clone_from(flag);
            }
        }
        if let Some(mode) = flags.tls_verify {
            self.verify_mode = mode;
        }
        if let Some(version) = flags.tls_min_version {
            self.min_version = version;
        }
        for (slot, flag) in [
            (&mut self.port, flags.tls_port),
            (&mut self.resp_port, flags.resp_tls_port),
            (&mut self.http_port, flags.http_tls_port),
        ] {
            if flag.is_some() {
                *slot = flag;
            }
        }
        self.admin |= flags.admin_tls;
    }

    /// Applies memcached's `-o ssl_*` option `name=value`; `None` when
    /// `name` is not a TLS option.
    pub fn apply_memcached_option(
        &mut self,
        name: &str,
        value: &str,
        warnings: &mut Vec<String>,
    ) -> Option<Result<(), ConfigError>> {
        let refuse = |reason: String| Some(Err(ConfigError::invalid(format!("-o {name}"), reason)));
        let path = (!value.is_empty()).then(|| PathBuf::from(value));
        let path_slot = match name {
            "ssl_chain_cert" => Some(&mut self.cert),
            "ssl_key" => Some(&mut self.key),
            "ssl_ca_cert" => Some(&mut self.ca),
            _ => None,
        };
        if let Some(slot) = path_slot {
            return match path {
                Some(path) => {
                    *slot = Some(path);
                    Some(Ok(()))
                }
                None => refuse(format!("missing {name} argument")),
            };
        }
        match name {
            "ssl_verify_mode" => {
                self.verify_mode = match value {
                    "0" => TlsVerifyMode::None,
                    "1" => TlsVerifyMode::Request,
                    // 3 is "verify once per connection", which a TLS session is.
                    "2" | "3" => TlsVerifyMode::Require,
                    _ => {
                        return refuse(format!(
                            "'{value}' is not 0 (none), 1 (request), 2 (require) or 3 (once)"
                        ))
                    }
                }
            }
            // memcached's numbers (0 TLS 1.0 … 3 TLS 1.3), or our names.
            "ssl_min_version" => {
                self.min_version = match value {
                    "2" | "tlsv1.2" => TlsMinVersion::Tls12,
                    "3" | "tlsv1.3" => TlsMinVersion::Tls13,
                    "0" | "1" | "tlsv1" | "tlsv1.1" => {
                        warnings.push(format!(
                            "-o ssl_min_version ({value}): TLS 1.0 and 1.1 are not served; the minimum is TLS 1.2"
                        ));
                        TlsMinVersion::Tls12
                    }
                    _ => return refuse(format!("'{value}' is not 2 (TLS 1.2) or 3 (TLS 1.3)")),
                }
            }
            "ssl_session_cache" => self.session_cache = true,
            "ssl_wbuf_size" => match value.parse::<u32>() {
                Ok(kib) if (1..=MAX_WRITE_BUFFER_KIB).contains(&kib) => {
                    self.write_buffer_kib = kib;
                }
                _ => {
                    return refuse(format!(
                        "'{value}' is not a size in KiB from 1 to {MAX_WRITE_BUFFER_KIB}"
                    ))
                }
            },
            // 1 is SSL_FILETYPE_PEM, memcached's default and the only one read here.
            "ssl_keyformat" if value.is_empty() || value == "1" => {}
            "ssl_keyformat" => {
                warnings.push(format!(
                    "-o ssl_keyformat ({value}) has no effect: keys are read as PEM"
                ));
            }
            _ if IGNORED_SSL_OPTIONS.contains(&name) => {
                warnings.push(format!("-o {name} has no effect in tailcache; ignored"));
            }
            _ => return None,
        }
        Some(Ok(()))
    }

    /// Whether any listener speaks TLS.
    pub fn any_listener(&self) -> bool {
        self.data_ports_tls_only
            || self.port.is_some()
            || self.resp_port.is_some()
            || self.http_port.is_some()
            || self.admin
    }

    /// Checks the settings against each other (files are read later, at start).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.any_listener() {
            return Ok(());
        }
        if self.cert.is_none() {
            return Err(ConfigError::conflict(
                "--tls-cert (tls.cert, -o ssl_chain_cert)",
                "TLS is on but no certificate is given",
            ));
        }
        if self.verify_mode != TlsVerifyMode::None && self.ca.is_none() {
            return Err(ConfigError::conflict(
                "--tls-ca (tls.ca, -o ssl_ca_cert)",
                "client certificates are checked (--tls-verify) but no CA is given",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(settings: &mut TlsSettings, option: &str) -> Option<Result<(), ConfigError>> {
        let (name, value) = option.split_once('=').unwrap_or((option, ""));
        settings.apply_memcached_option(name, value, &mut Vec::new())
    }

    #[test]
    fn memcached_ssl_options_set_what_they_name() {
        let mut settings = TlsSettings::default();
        for option in [
            "ssl_chain_cert=/c.pem",
            "ssl_key=/k.pem",
            "ssl_ca_cert=/ca.pem",
            "ssl_verify_mode=3",
            "ssl_min_version=3",
        ] {
            apply(&mut settings, option).unwrap().unwrap();
        }
        assert_eq!(
            settings.cert.as_deref(),
            Some(std::path::Path::new("/c.pem"))
        );
        assert_eq!(
            settings.key.as_deref(),
            Some(std::path::Path::new("/k.pem"))
        );
        assert_eq!(
            settings.ca.as_deref(),
            Some(std::path::Path::new("/ca.pem"))
        );
        assert_eq!(settings.verify_mode, TlsVerifyMode::Require);
        assert_eq!(settings.min_version, TlsMinVersion::Tls13);
        // Nothing listens over TLS until -Z or a TLS port asks.
        assert!(!settings.any_listener());
        assert!(settings.validate().is_ok());
    }

    #[test]
    fn bad_or_unknown_ssl_options_are_errors_or_not_ours() {
        let mut settings = TlsSettings::default();
        assert!(apply(&mut settings, "ssl_chain_cert").unwrap().is_err());
        assert!(apply(&mut settings, "ssl_verify_mode=4").unwrap().is_err());
        assert!(apply(&mut settings, "ssl_min_version=x").unwrap().is_err());
        assert!(apply(&mut settings, "ssl_unknown=1").is_none());
    }

    #[test]
    fn tls_on_needs_a_certificate_and_checked_clients_need_a_ca() {
        let mut settings = TlsSettings {
            data_ports_tls_only: true,
            ..TlsSettings::default()
        };
        assert!(settings.validate().is_err());
        settings.cert = Some("/c.pem".into());
        assert!(settings.validate().is_ok());
        settings.verify_mode = TlsVerifyMode::Request;
        assert!(settings
            .validate()
            .unwrap_err()
            .setting()
            .contains("--tls-ca"));
    }
}
