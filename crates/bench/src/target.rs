//! Resolving targets and refusing anything that is not loopback.

use crate::error::BenchError;
use std::net::{SocketAddr, ToSocketAddrs};

/// True for 127.0.0.0/8 and ::1 (and IPv4-mapped loopback).
pub fn is_loopback(addr: &SocketAddr) -> bool {
    match addr {
        SocketAddr::V4(a) => a.ip().is_loopback(),
        SocketAddr::V6(a) => {
            a.ip().is_loopback() || a.ip().to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Resolves `HOST:PORT` and returns it only when every resolved address is loopback.
pub fn resolve_loopback(text: &str) -> Result<SocketAddr, BenchError> {
    let addrs: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|_| BenchError::BadTarget(text.to_string()))?
        .collect();
    let first = *addrs
        .first()
        .ok_or_else(|| BenchError::BadTarget(text.to_string()))?;
    // A name that resolves to loopback and elsewhere is refused: we never guess.
    if addrs.iter().all(is_loopback) {
        Ok(first)
    } else {
        Err(BenchError::NotLoopback(text.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_targets_are_accepted() {
        assert!(resolve_loopback("127.0.0.1:11211").is_ok());
        assert!(resolve_loopback("127.8.9.10:1").is_ok());
        assert!(resolve_loopback("[::1]:11211").is_ok());
    }

    #[test]
    fn other_targets_are_refused() {
        for t in [
            "10.0.0.1:11211",
            "192.168.1.1:80",
            "[2001:db8::1]:1",
            "0.0.0.0:11211",
        ] {
            match resolve_loopback(t) {
                Err(BenchError::NotLoopback(_)) => {}
                other => panic!("{t}: expected NotLoopback, got {other:?}"),
            }
        }
        assert!(matches!(
            resolve_loopback("nonsense"),
            Err(BenchError::BadTarget(_))
        ));
    }
}
