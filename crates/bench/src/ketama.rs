//! The ketama continuum of libmemcached (`MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED`) and
//! twemproxy (`distribution: ketama`, `hash: md5`): which server of a cluster a key
//! lives on, so a cluster benchmark spreads keys exactly as those clients do.
//!
//! Each server gets 160 points at equal weights (fewer or more in proportion to its
//! weight, in multiples of 4): MD5 of `NAME-N` for N = 0, 1, ... gives four points, one
//! from each 4-byte word of the digest read little-endian. A key hashes to the first
//! word of its own MD5 digest and belongs to the first point at or above that hash,
//! wrapping to the lowest point.

use md5::{Digest, Md5};

/// Points per server when all weights are equal.
pub const POINTS_PER_SERVER: u32 = 160;
/// Points taken from one MD5 digest (its four 32-bit words).
const POINTS_PER_HASH: u32 = 4;
/// The port that libmemcached and twemproxy leave out of a server's point names, so
/// `10.0.1.1:11211` hashes as `10.0.1.1-N` while `10.0.1.1:11212` hashes as
/// `10.0.1.1:11212-N`.
pub const DEFAULT_PORT: u16 = 11211;
/// Largest weight one server may have.
pub const MAX_WEIGHT: u32 = 1_000_000;

/// One server as the continuum sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// What its points are hashed from (see [`point_name`]).
    pub name: String,
    /// Relative share of the points; 1 for all servers means equal shares.
    pub weight: u32,
}

/// The name a server's points are hashed from, as libmemcached and twemproxy (for
/// servers without a name in its configuration) form it: `HOST:PORT`, or `HOST` alone
/// on port 11211. `host` is as the user wrote it, without IPv6 brackets.
pub fn point_name(host: &str, port: u16) -> String {
    if port == DEFAULT_PORT {
        host.to_string()
    } else {
        format!("{host}:{port}")
    }
}

/// The four 32-bit words of the MD5 digest of `bytes`, each read little-endian.
fn md5_words(bytes: &[u8]) -> [u32; 4] {
    words(&Md5::digest(bytes))
}

fn words(digest: &[u8]) -> [u32; 4] {
    std::array::from_fn(|i| {
        u32::from_le_bytes([
            digest[4 * i],
            digest[4 * i + 1],
            digest[4 * i + 2],
            digest[4 * i + 3],
        ])
    })
}

/// The hash of a key: the first word of its MD5 digest, little-endian (libmemcached's
/// `MEMCACHED_HASH_MD5`, twemproxy's `hash: md5`).
pub fn key_hash(key: &[u8]) -> u32 {
    md5_words(key)[0]
}

/// [`key_hash`] of the concatenation of `parts`.
pub fn key_hash_parts(parts: &[&[u8]]) -> u32 {
    let mut md5 = Md5::new();
    for part in parts {
        md5.update(part);
    }
    words(&md5.finalize())[0]
}

/// Points of a server with `weight` out of `total_weight` among `servers` servers.
/// Computed in `f32` exactly as the C clients do, so rounding, and with it the ring,
/// is theirs: at equal weights 25 servers get 156 points each, not 160.
pub fn points_for(weight: u32, total_weight: u32, servers: usize) -> u32 {
    let share = weight as f32 / total_weight as f32;
    let hashes = share * POINTS_PER_SERVER as f32 / POINTS_PER_HASH as f32 * servers as f32;
    // The C code adds 1e-10 in double before truncating back to float; kept for fidelity.
    let hashes = (f64::from(hashes) + 0.000_000_000_1) as f32;
    hashes.floor() as u32 * POINTS_PER_HASH
}

/// A sorted ring of points, each owned by one server.
#[derive(Clone, Debug)]
pub struct Continuum {
    /// (point, server index), sorted by point; ties keep server order.
    points: Vec<(u32, u32)>,
    servers: usize,
}

impl Continuum {
    /// The ring of `nodes`, in the order given (a key's server is an index into it).
    /// Fails on no servers, a zero or too large weight, or a server left with no points.
    pub fn new(nodes: &[Node]) -> Result<Self, String> {
        if nodes.is_empty() {
            return Err("a continuum needs at least one server".into());
        }
        if let Some(n) = nodes
            .iter()
            .find(|n| n.weight == 0 || n.weight > MAX_WEIGHT)
        {
            return Err(format!(
                "server {} has weight {}; weights must be in 1..={MAX_WEIGHT}",
                n.name, n.weight
            ));
        }
        let total: u32 = nodes.iter().map(|n| n.weight).sum();
        let mut points = Vec::new();
        for (index, node) in nodes.iter().enumerate() {
            let count = points_for(node.weight, total, nodes.len());
            if count == 0 {
                return Err(format!(
                    "server {} gets no point on the ring: its weight {} is too small next to the total {total}",
                    node.name, node.weight
                ));
            }
            for n in 0..count / POINTS_PER_HASH {
                let words = md5_words(format!("{}-{n}", node.name).as_bytes());
                points.extend(words.iter().map(|&w| (w, index as u32)));
            }
        }
        // Stable, so equal points (vanishingly rare) resolve the same on every run.
        points.sort_by_key(|p| p.0);
        Ok(Self {
            points,
            servers: nodes.len(),
        })
    }

    /// The server owning `hash`: the first point at or above it, else the lowest point.
    pub fn server_of_hash(&self, hash: u32) -> usize {
        let i = self.points.partition_point(|p| p.0 < hash);
        let (_, server) = self.points.get(i).unwrap_or(&self.points[0]);
        *server as usize
    }

    /// The server owning `key`.
    pub fn server_of_key(&self, key: &[u8]) -> usize {
        self.server_of_hash(key_hash(key))
    }

    /// Number of servers.
    pub fn servers(&self) -> usize {
        self.servers
    }

    /// Every (point, server) in ring order.
    pub fn points(&self) -> &[(u32, u32)] {
        &self.points
    }
}
