//! Storing every key once before the measured run, with plain blocking sockets:
//! speed does not matter here, only that it finishes, and within a bound.

use super::stream::BlockingStream;
use crate::config::RunConfig;
use crate::error::BenchError;
use crate::protocol::{self, RequestContext};
use crate::workload::{Op, OpKind};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// Sets sent per batch before the replies are read.
const BATCH: u64 = 64;
/// Longest a prefill may take.
pub const PREFILL_TIMEOUT: Duration = Duration::from_secs(120);

/// Stores keys `0..keys` over `config.threads` connections in parallel.
pub fn prefill(config: &RunConfig) -> Result<u64, BenchError> {
    let deadline = Instant::now() + PREFILL_TIMEOUT;
    let workers = config.threads as u64;
    let keys = config.workload.keys;
    let results: Vec<Result<u64, BenchError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let range = (keys * w / workers)..(keys * (w + 1) / workers);
                scope.spawn(move || fill_range(config, range, deadline))
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
    let mut stored = 0;
    for r in results {
        stored += r?;
    }
    Ok(stored)
}

fn fill_range(
    config: &RunConfig,
    range: std::ops::Range<u64>,
    deadline: Instant,
) -> Result<u64, BenchError> {
    let addr = config.target;
    let tls = config.tls.as_ref();
    let mut stream = BlockingStream::connect(addr, Duration::from_secs(1), config.timeout, tls)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::ConnectionRefused => BenchError::ConnectionRefused(addr),
            _ if tls.is_some() => BenchError::Tls(addr, e.to_string()),
            _ => BenchError::Connect(addr, e),
        })?;
    let value_bytes = vec![b'v'; config.workload.value_sizes.max()];
    let ctx = RequestContext {
        key_prefix: config.workload.key_prefix.as_bytes(),
        ttl_s: config.workload.ttl_s,
        value_bytes: &value_bytes,
    };
    let mut rng = SmallRng::seed_from_u64(config.seed ^ range.start);
    let mut out = Vec::new();
    let mut input = Vec::new();
    let mut stored = 0;
    let mut key = range.start;
    while key < range.end {
        if Instant::now() >= deadline {
            return Err(BenchError::PrefillTimeout {
                stored,
                wanted: range.end - range.start,
            });
        }
        let batch_end = (key + BATCH).min(range.end);
        out.clear();
        let mut expects = Vec::new();
        for k in key..batch_end {
            let op = Op {
                kind: OpKind::Set,
                keys: vec![k],
                value_len: config.workload.value_sizes.pick(&mut rng),
            };
            expects.push(protocol::encode(config.protocol, &op, &ctx, &mut out));
        }
        stream.write_all(&out)?;
        for (k, expect) in (key..batch_end).zip(expects) {
            let parse = |buf: &[u8]| protocol::parse(config.protocol, expect, buf);
            let (outcome, reply) = read_reply(&mut stream, &mut input, parse)?;
            if outcome.server_error {
                return Err(BenchError::PrefillFailed(format!(
                    "{addr} answered {reply:?} to the set of key {}{k}",
                    config.workload.key_prefix
                )));
            }
            stored += 1;
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
