//! Errors a benchmark run can end with; each names what happened and where.

use std::fmt;
use std::net::SocketAddr;

/// Why a benchmark could not be configured or run.
#[derive(Debug)]
pub enum BenchError {
    /// The target is not a loopback address; only 127.0.0.0/8 and ::1 may be loaded.
    NotLoopback(String),
    /// The target string could not be resolved to an address.
    BadTarget(String),
    /// A flag value could not be parsed or is out of its limits.
    BadArgument(String),
    /// The server refused the connection (nothing listening on that port).
    ConnectionRefused(SocketAddr),
    /// Connecting failed for another reason.
    Connect(SocketAddr, std::io::Error),
    /// The TLS handshake with the target failed (certificate, name, protocol).
    Tls(SocketAddr, String),
    /// The prefill phase did not finish in its time limit.
    PrefillTimeout {
        /// Keys stored before the limit.
        stored: u64,
        /// Keys that should have been stored.
        wanted: u64,
    },
    /// The prefill phase saw error replies or broken connections.
    PrefillFailed(String),
    /// Writing a report file failed.
    Output(String, std::io::Error),
    /// Any other I/O failure of the generator itself (poll, timer, threads).
    Io(std::io::Error),
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotLoopback(t) => write!(
                f,
                "refusing target {t}: only loopback addresses (127.0.0.0/8, ::1) may be loaded"
            ),
            Self::BadTarget(t) => write!(f, "cannot resolve target {t:?} (want HOST:PORT)"),
            Self::BadArgument(why) => write!(f, "bad argument: {why}"),
            Self::ConnectionRefused(a) => {
                write!(f, "connection refused by {a}: is the server running?")
            }
            Self::Connect(a, e) => write!(f, "cannot connect to {a}: {e}"),
            Self::Tls(a, why) => write!(
                f,
                "TLS handshake with {a} failed: {why} (check --tls-ca, --tls-server-name, \
                 --tls-cert/--tls-key, and that the port speaks TLS)"
            ),
            Self::PrefillTimeout { stored, wanted } => {
                write!(
                    f,
                    "prefill timed out after storing {stored} of {wanted} keys"
                )
            }
            Self::PrefillFailed(why) => write!(f, "prefill failed: {why}"),
            Self::Output(path, e) => write!(f, "cannot write {path}: {e}"),
            Self::Io(e) => write!(f, "I/O error in the generator: {e}"),
        }
    }
}

impl std::error::Error for BenchError {}

impl From<std::io::Error> for BenchError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_says_what_happened() {
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let io = || std::io::Error::other("boom");
        let cases = [
            (
                BenchError::NotLoopback("10.0.0.1:1".into()),
                "only loopback",
            ),
            (BenchError::BadTarget("x".into()), "cannot resolve"),
            (
                BenchError::BadArgument("--rate".into()),
                "bad argument: --rate",
            ),
            (
                BenchError::ConnectionRefused(addr),
                "connection refused by 127.0.0.1:1",
            ),
            (
                BenchError::Connect(addr, io()),
                "cannot connect to 127.0.0.1:1: boom",
            ),
            (
                BenchError::Tls(addr, "UnknownIssuer".into()),
                "TLS handshake with 127.0.0.1:1 failed: UnknownIssuer",
            ),
            (
                BenchError::PrefillTimeout {
                    stored: 3,
                    wanted: 9,
                },
                "storing 3 of 9",
            ),
            (
                BenchError::PrefillFailed("why".into()),
                "prefill failed: why",
            ),
            (BenchError::Output("f".into(), io()), "cannot write f: boom"),
            (BenchError::Io(io()), "generator: boom"),
        ];
        for (e, text) in cases {
            assert!(e.to_string().contains(text), "{e} lacks {text:?}");
        }
    }
}
