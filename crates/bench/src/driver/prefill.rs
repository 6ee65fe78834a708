//! Storing every key once before the measured run, with plain blocking sockets:
//! speed does not matter here, only that it finishes, and within a bound.

use super::stream::BlockingStream;
use crate::cluster::Router;
use crate::config::RunConfig;
use crate::error::BenchError;
use crate::protocol::{self, Expect, RequestContext};
use crate::workload::{Op, OpKind};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Sets sent per batch before the replies are read.
const BATCH: u64 = 64;
/// Longest a prefill may take.
pub const PREFILL_TIMEOUT: Duration = Duration::from_secs(120);

/// Stores keys `0..keys` over `config.threads` threads in parallel, each key on the
/// server it maps to (each thread has one connection per server); returns the keys
/// stored on each server.
pub fn prefill(config: &RunConfig) -> Result<Vec<u64>, BenchError> {
    let deadline = Instant::now() + PREFILL_TIMEOUT;
    let workers = config.threads as u64;
    let keys = config.workload.keys;
    let router = Router::new(config.cluster.as_ref());
    let results: Vec<Result<Vec<u64>, BenchError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let range = (keys * w / workers)..(keys * (w + 1) / workers);
                let router = &router;
                scope.spawn(move || fill_range(config, router, range, deadline))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(BenchError::PrefillFailed("worker panicked".into())))
            })
            .collect()
    });
    let mut stored = vec![0; config.servers().len()];
    for r in results {
        for (total, part) in stored.iter_mut().zip(r?) {
            *total += part;
        }
    }
    Ok(stored)
}

fn connect(config: &RunConfig, addr: SocketAddr) -> Result<BlockingStream, BenchError> {
    let tls = config.tls.as_ref();
    BlockingStream::connect(addr, Duration::from_secs(1), config.timeout, tls).map_err(|e| match e
        .kind()
    {
        std::io::ErrorKind::ConnectionRefused => BenchError::ConnectionRefused(addr),
        _ if tls.is_some() => BenchError::Tls(addr, e.to_string()),
        _ => BenchError::Connect(addr, e),
    })
}

fn fill_range(
    config: &RunConfig,
    router: &Router,
    range: std::ops::Range<u64>,
    deadline: Instant,
) -> Result<Vec<u64>, BenchError> {
    let addrs = config.servers();
    let mut streams = addrs
        .iter()
        .map(|&addr| connect(config, addr))
        .collect::<Result<Vec<_>, _>>()?;
    let value_bytes = vec![b'v'; config.workload.value_sizes.max()];
    let prefix = config.workload.key_prefix.as_bytes();
    let ctx = RequestContext {
        key_prefix: prefix,
        ttl_s: config.workload.ttl_s,
        value_bytes: &value_bytes,
    };
    let mut rng = SmallRng::seed_from_u64(config.seed ^ range.start);
    // Per server: requests of the batch, the keys they carry, and unframed reply bytes.
    let mut out = vec![Vec::new(); addrs.len()];
    let mut expects: Vec<Vec<(u64, Expect)>> = vec![Vec::new(); addrs.len()];
    let mut input = vec![Vec::new(); addrs.len()];
    let mut stored = vec![0u64; addrs.len()];
    let mut key = range.start;
    while key < range.end {
        if Instant::now() >= deadline {
            return Err(BenchError::PrefillTimeout {
                stored: stored.iter().sum(),
                wanted: range.end - range.start,
            });
        }
        let batch_end = (key + BATCH).min(range.end);
        for k in key..batch_end {
            let op = Op {
                kind: OpKind::Set,
                keys: vec![k],
                value_len: config.workload.value_sizes.pick(&mut rng),
            };
            let server = router.server_of(prefix, k);
            let expect = protocol::encode(config.protocol, &op, &ctx, &mut out[server]);
            expects[server].push((k, expect));
        }
        for (stream, out) in streams.iter_mut().zip(&mut out) {
            stream.write_all(out)?;
            out.clear();
        }
        for server in 0..addrs.len() {
            for (k, expect) in expects[server].drain(..) {
                let parse = |buf: &[u8]| protocol::parse(config.protocol, expect, buf);
                let (outcome, reply) = read_reply(&mut streams[server], &mut input[server], parse)?;
                if outcome.server_error {
                    return Err(BenchError::PrefillFailed(format!(
                        "{} answered {reply:?} to the set of key {}{k}",
                        addrs[server], config.workload.key_prefix
                    )));
                }
                stored[server] += 1;
            }
        }
        key = batch_end;
    }
    Ok(stored)
}

fn read_reply(
    stream: &mut impl Read,
    input: &mut Vec<u8>,
    parse: impl Fn(&[u8]) -> Result<Option<(usize, protocol::Outcome)>, protocol::ProtocolError>,
) -> Result<(protocol::Outcome, String), BenchError> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match parse(input) {
            Ok(Some((used, outcome))) => {
                // The first line of the reply, for error messages.
                let line_end = input[..used]
                    .iter()
                    .position(|&b| b == b'\r' || b == b'\n')
                    .unwrap_or(used)
                    .min(80);
                let first_line = String::from_utf8_lossy(&input[..line_end]).into_owned();
                input.drain(..used);
                return Ok((outcome, first_line));
            }
            Ok(None) => {}
            Err(e) => return Err(BenchError::PrefillFailed(e.to_string())),
        }
        if input.len() > protocol::MAX_REPLY_VALUE_BYTES {
            return Err(BenchError::PrefillFailed("reply too large".into()));
        }
        let n = stream
            .read(&mut chunk)
            .map_err(|e| BenchError::PrefillFailed(format!("reading a reply: {e}")))?;
        if n == 0 {
            return Err(BenchError::PrefillFailed(
                "server closed the connection".into(),
            ));
        }
        input.extend_from_slice(&chunk[..n]);
    }
}
