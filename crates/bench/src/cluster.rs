//! Cluster mode: one target made of several servers, each request sent to the server
//! its key maps to on the ketama continuum, as libmemcached and twemproxy place keys.

use crate::error::BenchError;
use crate::ketama::{key_hash_parts, point_name, Continuum, Node, MAX_WEIGHT};
use crate::target::resolve_loopback;
use serde::Serialize;
use std::net::SocketAddr;

/// Most servers in one cluster.
pub const MAX_SERVERS: usize = 64;

/// One server of a cluster.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClusterServer {
    /// HOST:PORT as given: its name in reports.
    pub label: String,
    /// Where it listens (loopback).
    pub addr: SocketAddr,
    /// Relative share of the keys: 1 unless given as HOST:PORT:WEIGHT.
    pub weight: u32,
    /// What its ketama points are hashed from: HOST:PORT, or HOST alone on port 11211.
    pub point_name: String,
}

/// Servers that share one load by key.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cluster {
    /// The servers in the order given; a server's index in this list names it everywhere.
    pub servers: Vec<ClusterServer>,
}

impl Cluster {
    /// Parses `HOST:PORT[:WEIGHT],...` (IPv6 as `[::1]:PORT`); every server must resolve
    /// to loopback, none may be given twice, and each must get points on the ring.
    pub fn parse(spec: &str) -> Result<Self, BenchError> {
        let bad = |why: String| BenchError::BadArgument(format!("--cluster {spec:?}: {why}"));
        let servers = spec
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| parse_server(s.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        if servers.is_empty() || servers.len() > MAX_SERVERS {
            return Err(bad(format!("give 1..={MAX_SERVERS} servers")));
        }
        for (i, s) in servers.iter().enumerate() {
            if servers[..i].iter().any(|o| o.addr == s.addr) {
                return Err(bad(format!("{} is given twice", s.label)));
            }
        }
        let cluster = Self { servers };
        Continuum::new(&cluster.nodes()).map_err(bad)?;
        Ok(cluster)
    }

    fn nodes(&self) -> Vec<Node> {
        self.servers
            .iter()
            .map(|s| Node {
                name: s.point_name.clone(),
                weight: s.weight,
            })
            .collect()
    }

    /// The ketama continuum of these servers.
    pub fn continuum(&self) -> Continuum {
        Continuum::new(&self.nodes()).expect("a parsed cluster has a valid continuum")
    }

    /// The servers' addresses, in order.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.servers.iter().map(|s| s.addr).collect()
    }
}

/// `HOST:PORT` or `HOST:PORT:WEIGHT`, host possibly a bracketed IPv6 address.
fn parse_server(text: &str) -> Result<ClusterServer, BenchError> {
    let bad = |why: &str| BenchError::BadArgument(format!("--cluster server {text:?}: {why}"));
    let (host, rest, bracketed) = match text.strip_prefix('[') {
        Some(inner) => {
            let (host, rest) = inner.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
            (host, rest, true)
        }
        None => {
            let colon = text
                .find(':')
                .ok_or_else(|| bad("want HOST:PORT[:WEIGHT]"))?;
            (&text[..colon], &text[colon..], false)
        }
    };
    let fields: Vec<&str> = rest
        .strip_prefix(':')
        .ok_or_else(|| bad("want HOST:PORT[:WEIGHT]"))?
        .split(':')
        .collect();
    let (port, weight) = match fields[..] {
        [port] => (port, None),
        [port, weight] => (port, Some(weight)),
        _ => return Err(bad("want HOST:PORT[:WEIGHT]")),
    };
    let port: u16 = port.parse().map_err(|_| bad("bad port"))?;
    let weight = match weight {
        None => 1,
        Some(w) => w
            .parse()
            .ok()
            .filter(|w| (1..=MAX_WEIGHT).contains(w))
            .ok_or_else(|| bad(&format!("weight must be in 1..={MAX_WEIGHT}")))?,
    };
    let label = if bracketed {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    Ok(ClusterServer {
        addr: resolve_loopback(&label)?,
        point_name: point_name(host, port),
        label,
        weight,
    })
}

/// Which server each key goes to: the only one for a single target, by ketama in a
/// cluster.
#[derive(Clone, Debug)]
pub struct Router {
    continuum: Option<Continuum>,
}

impl Router {
    /// The router of `cluster`, or of a single target when `None`.
    pub fn new(cluster: Option<&Cluster>) -> Self {
        Self {
            continuum: cluster.map(Cluster::continuum),
        }
    }

    /// The server (an index into the cluster) of the key `prefix` + decimal `index`.
    pub fn server_of(&self, prefix: &[u8], index: u64) -> usize {
        let Some(continuum) = &self.continuum else {
            return 0;
        };
        // The key is hashed in two parts, so no buffer is allocated per request.
        let mut buf = [0u8; 20];
        let digits = crate::protocol::decimal_digits(index, &mut buf);
        continuum.server_of_hash(key_hash_parts(&[prefix, digits]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_parse_with_weights_and_ipv6() {
        let c = Cluster::parse("127.0.0.1:11311,localhost:11211:3, [::1]:5000").unwrap();
        let got: Vec<(&str, u32, &str)> = c
            .servers
            .iter()
            .map(|s| (s.label.as_str(), s.weight, s.point_name.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("127.0.0.1:11311", 1, "127.0.0.1:11311"),
                ("localhost:11211", 3, "localhost"),
                ("[::1]:5000", 1, "::1:5000"),
            ]
        );
    }

    #[test]
    fn bad_clusters_are_refused() {
        for spec in [
            "",
            "127.0.0.1",
            "127.0.0.1:x",
            "127.0.0.1:1:0",
            "127.0.0.1:1:2:3",
            "[::1:5",
            "127.0.0.1:1,127.0.0.1:1",
            "127.0.0.1:1:1,127.0.0.1:2:1000000",
        ] {
            assert!(
                matches!(Cluster::parse(spec), Err(BenchError::BadArgument(_))),
                "{spec:?}"
            );
        }
        assert!(matches!(
            Cluster::parse("127.0.0.1:1,10.0.0.1:2"),
            Err(BenchError::NotLoopback(_))
        ));
    }

    #[test]
    fn the_router_hashes_the_whole_key() {
        let c = Cluster::parse("127.0.0.1:11311,127.0.0.1:11312,127.0.0.1:11313").unwrap();
        let ring = c.continuum();
        let router = Router::new(Some(&c));
        for k in [0u64, 7, 12345, u64::MAX] {
            let key = format!("key:{k}");
            assert_eq!(
                router.server_of(b"key:", k),
                ring.server_of_key(key.as_bytes())
            );
        }
        assert_eq!(Router::new(None).server_of(b"key:", 1), 0);
    }
}
