//! Normalising memcache replies for differential tests against real memcached.
//!
//! What legitimately differs between the two servers is rewritten; everything else is
//! compared byte for byte:
//!
//! - CAS values (`VALUE <key> <flags> <bytes> <cas>`, meta `c<cas>`): each server
//!   numbers its own writes. Each distinct CAS becomes `<cas#N>`, N its order of first
//!   appearance in the transcript, so equality between CAS values is still compared
//!   (two replies naming the same version must agree on both servers). `c0` (memcached's
//!   "nothing stored") is kept as it is.
//! - `VERSION <v>`: tailcache reports `1.6.18-tailcache-<its version>`.
//! - `STAT` lines: values and the set of names differ; only the framing is compared.
//! - `ME <key> ...`: item internals (slab class, sizes) differ by design.
//!
//! Data blocks (after `VALUE` and `VA`) are skipped by their length, never rewritten:
//! values compare exactly (a shorter incr/decr result is space-padded to the old
//! length on both servers).

use std::collections::HashMap;

/// Meta return codes whose flags are rewritten.
const META_CODES: [&str; 6] = ["HD", "VA", "EN", "NF", "NS", "EX"];

/// Rewrites CAS values in order of appearance; one per transcript (per server).
#[derive(Debug, Default)]
pub struct CasOrder {
    seen: HashMap<u64, usize>,
    /// Every CAS in order of appearance (repeats included).
    pub appearances: Vec<u64>,
}

impl CasOrder {
    /// The name of `cas` in this transcript: `0`, or `<cas#N>` by first appearance.
    pub fn name(&mut self, cas: u64) -> String {
        if cas == 0 {
            return "0".to_owned();
        }
        self.appearances.push(cas);
        let next = self.seen.len() + 1;
        let n = *self.seen.entry(cas).or_insert(next);
        format!("<cas#{n}>")
    }
}

fn is_meta_line(line: &str) -> bool {
    META_CODES
        .iter()
        .any(|code| line == *code || line.starts_with(&format!("{code} ")))
}

/// Normalises one reply stream (see the module comment), appending to `out`.
pub fn normalize_into(reply: &[u8], cas: &mut CasOrder, out: &mut String) {
    let mut at = 0;
    while at < reply.len() {
        let Some(end) = find_crlf(&reply[at..]) else {
            out.push_str(&format!(
                "{:?}<no CRLF>",
                String::from_utf8_lossy(&reply[at..])
            ));
            return;
        };
        let line = String::from_utf8_lossy(&reply[at..at + end]).into_owned();
        at += end + 2;
        let mut data_len = None;
        let normalized = if line.starts_with("STAT ") {
            continue;
        } else if line.starts_with("VERSION ") {
            "VERSION <version>".to_owned()
        } else if let Some(rest) = line.strip_prefix("ME ") {
            format!("ME {} <debug>", rest.split(' ').next().unwrap_or_default())
        } else if line.starts_with("VALUE ") {
            let mut parts: Vec<String> = line.split(' ').map(str::to_owned).collect();
            data_len = parts.get(3).and_then(|n| n.parse::<usize>().ok());
            if parts.len() == 5 {
                if let Ok(value) = parts[4].parse::<u64>() {
                    parts[4] = cas.name(value);
                }
            }
            parts.join(" ")
        } else if is_meta_line(&line) {
            if line.starts_with("VA ") {
                data_len = line.split(' ').nth(1).and_then(|n| n.parse::<usize>().ok());
            }
            line.split(' ')
                .map(|token| match token.strip_prefix('c') {
                    Some(digits)
                        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
                    {
                        match digits.parse::<u64>() {
                            Ok(value) => format!("c{}", cas.name(value)),
                            Err(_) => token.to_owned(),
                        }
                    }
                    _ => token.to_owned(),
                })
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            line
        };
        let Some(len) = data_len else {
            out.push_str(&normalized);
            out.push_str("\r\n");
            continue;
        };
        let data_end = (at + len + 2).min(reply.len());
        let data = String::from_utf8_lossy(&reply[at..data_end]).into_owned();
        at = data_end;
        out.push_str(&normalized);
        out.push_str(&format!("\r\n{data:?}\r\n"));
    }
}

fn find_crlf(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|pair| pair == b"\r\n")
}

/// Whether two normalised transcripts agree, allowing `t<secs>` and `l<secs>` in meta
/// replies to differ by up to [`CLOCK_SKEW_SECS`]: each server's clock ticks on its
/// own, and memcached turns an absolute exptime into its relative clock, which it
/// starts two seconds before its start time, so an absolute TTL can read 2 s apart
/// (seen once in CI: `t3599` against `t3597` for `N<now + 3600>`).
pub const CLOCK_SKEW_SECS: i64 = 2;

/// See [`CLOCK_SKEW_SECS`].
pub fn agree(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (lines_a, lines_b): (Vec<&str>, Vec<&str>) =
        (a.split("\r\n").collect(), b.split("\r\n").collect());
    lines_a.len() == lines_b.len()
        && lines_a
            .iter()
            .zip(&lines_b)
            .all(|(x, y)| x == y || (is_meta_line(x) && tokens_agree(x, y)))
}

fn tokens_agree(x: &str, y: &str) -> bool {
    let (tx, ty): (Vec<&str>, Vec<&str>) = (x.split(' ').collect(), y.split(' ').collect());
    tx.len() == ty.len()
        && tx.iter().zip(&ty).all(|(p, q)| {
            p == q || {
                let seconds = |t: &str| {
                    t.strip_prefix('t')
                        .or_else(|| t.strip_prefix('l'))
                        .and_then(|n| n.parse::<i64>().ok())
                };
                p.as_bytes().first() == q.as_bytes().first()
                    && matches!((seconds(p), seconds(q)), (Some(m), Some(n)) if (m - n).abs() <= CLOCK_SKEW_SECS)
            }
        })
}
