//! `--check-config FILE`: every check a start makes before it binds, without
//! binding, reserving memory or touching a heap file, so a deploy can validate a
//! configuration before it restarts a running cache. (The heap file's directory
//! is not checked: a service manager may create it only at start.)

use crate::startup::config::Config;

/// Checks what loading the configuration did not: the storage sizes, every
/// listen and admin address, and the TLS certificates and keys (read and parsed).
/// The first problem, named by its setting, is the error.
pub fn check(config: &Config) -> Result<(), String> {
    crate::startup::engine::check_engine(config).map_err(|e| e.to_string())?;
    config.data_addrs().map_err(|e| e.to_string())?;
    config.admin_socket_addr().map_err(|e| e.to_string())?;
    if config.tls.any_listener() {
        crate::security::tls::TlsState::load(&config.tls)
            .map_err(|e| format!("--tls-cert/--tls-key/--tls-ca: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn config_of(args: &[&str]) -> Config {
        let flags = crate::startup::cli::Flags::try_parse_from(args).unwrap();
        Config::load(&flags).unwrap()
    }

    #[test]
    fn a_default_config_is_valid() {
        assert_eq!(check(&config_of(&["tailcache"])), Ok(()));
    }

    #[test]
    fn problems_a_start_would_meet_are_named() {
        let tls = [
            "tailcache",
            "--tls-cert",
            "/no/such/cert.pem",
            "--tls-key",
            "/no/such/key.pem",
            "--tls-port",
            "0",
        ];
        let tls = check(&config_of(&tls)).unwrap_err();
        assert!(tls.contains("--tls-cert"), "{tls}");
    }
}
