//! memcached's binary protocol, differentially against real memcached 1.6.18.
//!
//! A seeded generator writes random sequences of binary requests over a few keys: every
//! opcode memcached serves in loud and quiet forms, CAS matches and mismatches (a CAS
//! sent is one this server returned earlier in the sequence), incr/decr on missing,
//! numeric and non-numeric values with and without creation, exptimes in the past, the
//! future and memcached's "do not create" marker, too-large values, unknown opcodes and
//! malformed packets that close the connection. Each batch is pipelined, split across
//! writes at random points, and ended by a `noop` whose opaque marks the end of its
//! replies. Both servers' response packets are decoded (by this file's own decoder, not
//! the server's encoder) and compared field by field, with each server's CAS values
//! renumbered in order of appearance and the version string masked.
//!
//! Environment: `DIFF_SEED`, `DIFF_SEQUENCES` (default 600), `DIFF_ONLY` (one sequence
//! by its index). Cases left out on purpose are marked `AVOID:`; one memcached 1.6.18 bug
//! is recognised and excused (`memcached_strchr_bug`). memcached must be installed: the
//! test fails (it never skips) without it.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use support::differential::CasOrder;
// The wire's opcode numbers: both servers are sent the same bytes, so sharing the
// constants hides nothing.
use support::rng::Rng;
use support::{start_memcached, start_tailcache};
use tailcache_protocol::memcache::binary::opcode as op;

const DEFAULT_SEED: u64 = 0xb1a4_cac4_e000_0001;
const DEFAULT_SEQUENCES: usize = 600;
const BATCH_TIMEOUT: Duration = Duration::from_secs(3);
/// The opaque of the `noop` that ends each batch.
const SENTINEL_OPAQUE: u32 = 0xfeed_f00d;
/// An incr/decr exptime that means "do not create a missing item".
const NO_CREATE: u32 = 0xffff_ffff;

/// Which CAS a request carries, resolved per server from its own replies.
#[derive(Clone, Copy, Debug)]
enum CasRef {
    None,
    /// The n-th most recent CAS this server returned (0: the latest).
    Seen(usize),
    /// A CAS no item has.
    Bogus,
}

/// One request; the key is a suffix of the sequence's prefix.
#[derive(Clone, Debug)]
struct Req {
    opcode: u8,
    extras: Vec<u8>,
    key: Vec<u8>,
    value: Vec<u8>,
    cas: CasRef,
    /// Overrides the body length field (malformed packets).
    body_len: Option<u32>,
    /// Sent as is: the key is not prefixed.
    raw_key: bool,
}

impl Req {
    fn new(opcode: u8) -> Req {
        Req {
            opcode,
            extras: Vec::new(),
            key: Vec::new(),
            value: Vec::new(),
            cas: CasRef::None,
            body_len: None,
            raw_key: false,
        }
    }

    fn render(&self, prefix: &str, opaque: u32, cas_seen: &[u64], out: &mut Vec<u8>) {
        let key: Vec<u8> = if self.key.is_empty() || self.raw_key {
            self.key.clone()
        } else {
            [prefix.as_bytes(), &self.key].concat()
        };
        let cas = match self.cas {
            CasRef::None => 0,
            CasRef::Seen(back) => cas_seen
                .len()
                .checked_sub(back + 1)
                .map_or(0, |i| cas_seen[i]),
            CasRef::Bogus => 0x7fff_ffff_0000_0001,
        };
        let body = self.extras.len() + key.len() + self.value.len();
        out.push(0x80);
        out.push(self.opcode);
        out.extend_from_slice(&(key.len() as u16).to_be_bytes());
        out.push(self.extras.len() as u8);
        out.extend_from_slice(&[0, 0, 0]);
        out.extend_from_slice(&self.body_len.unwrap_or(body as u32).to_be_bytes());
        out.extend_from_slice(&opaque.to_be_bytes());
        out.extend_from_slice(&cas.to_be_bytes());
        out.extend_from_slice(&self.extras);
        out.extend_from_slice(&key);
        out.extend_from_slice(&self.value);
    }
}

struct Generator {
    rng: Rng,
}

impl Generator {
    fn key(&mut self) -> Vec<u8> {
        format!("k{}", self.rng.below(4)).into_bytes()
    }

    fn value(&mut self) -> Vec<u8> {
        match self.rng.below(10) {
            0..=3 => self.rng.next().to_string().into_bytes(),
            4 => b"18446744073709551615".to_vec(),
            5 => Vec::new(),
            6 => vec![b'v'; 1 + self.rng.below(5000)],
            _ => format!("val{}", self.rng.below(100)).into_bytes(),
        }
    }

    /// AVOID: exptimes that expire within the test (1, 2 seconds) depend on when each
    /// server's clock ticks.
    fn exptime(&mut self) -> u32 {
        *self
            .rng
            .pick(&[0, 0, 0, 100, 3600, 1_000_000_000, 4_000_000_000])
    }

    fn cas(&mut self) -> CasRef {
        match self.rng.below(10) {
            0..=5 => CasRef::None,
            6..=8 => CasRef::Seen(self.rng.below(2)),
            _ => CasRef::Bogus,
        }
    }

    fn request(&mut self) -> Req {
        let pick = self.rng.below(100);
        let mut req;
        match pick {
            0..=19 => {
                let ops = [op::GET, op::GETQ, op::GETK, op::GETKQ];
                req = Req::new(*self.rng.pick(&ops));
                req.key = self.key();
            }
            20..=27 => {
                let ops = [op::GAT, op::GATQ, op::GATK, op::GATKQ, op::TOUCH];
                req = Req::new(*self.rng.pick(&ops));
                req.key = self.key();
                req.extras = self.exptime().to_be_bytes().to_vec();
            }
            28..=52 => {
                let ops = [
                    op::SET,
                    op::SETQ,
                    op::ADD,
                    op::ADDQ,
                    op::REPLACE,
                    op::REPLACEQ,
                ];
                req = Req::new(*self.rng.pick(&ops));
                req.key = self.key();
                let flags = *self.rng.pick(&[0u32, 1, 19, 0xffff_ffff]);
                req.extras = [flags.to_be_bytes(), self.exptime().to_be_bytes()].concat();
                req.value = self.value();
                req.cas = self.cas();
            }
            53..=60 => {
                let ops = [op::APPEND, op::APPENDQ, op::PREPEND, op::PREPENDQ];
                req = Req::new(*self.rng.pick(&ops));
                req.key = self.key();
                req.value = self.value();
                req.cas = self.cas();
            }
            61..=70 => {
                req = Req::new(*self.rng.pick(&[op::DELETE, op::DELETEQ]));
                req.key = self.key();
                req.cas = self.cas();
            }
            71..=86 => {
                let ops = [op::INCREMENT, op::INCREMENTQ, op::DECREMENT, op::DECREMENTQ];
                req = Req::new(*self.rng.pick(&ops));
                req.key = self.key();
                let delta = *self.rng.pick(&[0u64, 1, 7, 1 << 33, u64::MAX]);
                let initial = *self.rng.pick(&[0u64, 5, 1000, u64::MAX]);
                let exptime = *self.rng.pick(&[0u32, 100, NO_CREATE, NO_CREATE]);
                req.extras = [
                    delta.to_be_bytes().as_slice(),
                    &initial.to_be_bytes(),
                    &exptime.to_be_bytes(),
                ]
                .concat();
                req.cas = self.cas();
            }
            87..=90 => req = Req::new(op::NOOP),
            91..=92 => req = Req::new(op::VERSION),
            93 => {
                // AVOID: a delayed flush outlives the sequence and empties later ones.
                req = Req::new(*self.rng.pick(&[op::FLUSH, op::FLUSHQ]));
            }
            94..=96 => {
                // A too-large value (-I is 1 MiB on both): refused, swallowed, and the
                // connection goes on. AVOID: sizes near the limit, where memcached's
                // per-item overhead and tailcache's differ.
                req = Req::new(*self.rng.pick(&[op::SET, op::SETQ, op::APPEND]));
                req.key = self.key();
                if req.opcode != op::APPEND {
                    req.extras = vec![0; 8];
                }
                req.value = vec![b'x'; 2 << 20];
            }
            _ => {
                // AVOID: an unknown opcode with a key or extras (memcached misframes
                // what follows, see the binary module's docs).
                req = Req::new(*self.rng.pick(&[0x1b, 0x30, 0x20, 0xfe]));
            }
        }
        req
    }

    /// A request that ends the connection: kept for a sequence's last batch.
    fn ending(&mut self) -> Req {
        let mut req;
        match self.rng.below(6) {
            0 => req = Req::new(*self.rng.pick(&[op::QUIT, op::QUITQ])),
            1 => {
                req = Req::new(op::GET);
                req.key = vec![b'k'; 251];
                req.raw_key = true;
            }
            2 => {
                // A get with extras: invalid arguments, then close.
                req = Req::new(op::GET);
                req.key = self.key();
                req.extras = vec![0; 4];
            }
            3 => {
                // A key longer than the body: unknown command, then close.
                req = Req::new(op::GET);
                req.key = self.key();
                req.body_len = Some(1);
            }
            4 => {
                // An increment without its extras.
                req = Req::new(op::INCREMENT);
                req.key = self.key();
            }
            _ => {
                // A set without a key.
                req = Req::new(op::SET);
                req.extras = vec![0; 8];
                req.value = b"v".to_vec();
            }
        }
        req
    }

    fn sequence(&mut self) -> Sequence {
        let batches = 1 + self.rng.below(4);
        let mut out = Vec::new();
        for b in 0..batches {
            let mut batch: Vec<Req> = (0..1 + self.rng.below(8)).map(|_| self.request()).collect();
            if b == batches - 1 && self.rng.percent(15) {
                batch.push(self.ending());
            }
            out.push(batch);
        }
        Sequence {
            batches: out,
            split_seed: self.rng.next(),
        }
    }
}

#[derive(Clone, Debug)]
struct Sequence {
    batches: Vec<Vec<Req>>,
    split_seed: u64,
}

/// A value without the spaces that pad counters. memcached changes an incr/decr result
/// in place, padded with spaces to the old length, only while no reply still holds the
/// item (a read earlier in the same or the previous batch may): otherwise it writes a
/// new, unpadded item. Which one happens depends on when its replies finished writing,
/// so the padding is not compared, in the counter itself or in what an append or
/// prepend later made of it. tailcache always pads, as memcached does in place. The
/// generator's values hold no spaces, so every space is padding.
fn without_padding(value: &[u8]) -> Vec<u8> {
    value.iter().copied().filter(|&b| b != b' ').collect()
}

/// One decoded response packet, CAS renumbered for this server.
fn describe(packet: &[u8], cas: &mut CasOrder, cas_seen: &mut Vec<u64>) -> String {
    let opcode = packet[1];
    let key_len = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
    let extras_len = usize::from(packet[4]);
    let status = u16::from_be_bytes([packet[6], packet[7]]);
    let opaque = u32::from_be_bytes(packet[12..16].try_into().unwrap());
    let cas_value = u64::from_be_bytes(packet[16..24].try_into().unwrap());
    if cas_value != 0 {
        cas_seen.push(cas_value);
    }
    let body = &packet[24..];
    let extras = &body[..extras_len.min(body.len())];
    let key = &body[extras_len.min(body.len())..(extras_len + key_len).min(body.len())];
    let value = &body[(extras_len + key_len).min(body.len())..];
    let value = if opcode == op::VERSION && status == 0 {
        "<version>".to_owned()
    } else {
        format!("{:?}", String::from_utf8_lossy(&without_padding(value)))
    };
    format!(
        "magic={:#x} op={opcode:#04x} status={status:#06x} opaque={opaque:#x} cas={} \
         extras={extras:02x?} key={:?} value={value} datatype={}",
        packet[0],
        cas.name(cas_value),
        String::from_utf8_lossy(key),
        packet[5],
    )
}

/// Reads response packets until the sentinel noop's reply, EOF or a timeout.
fn read_batch(
    stream: &mut TcpStream,
    cas: &mut CasOrder,
    cas_seen: &mut Vec<u64>,
    transcript: &mut Vec<String>,
) -> bool {
    let deadline = Instant::now() + BATCH_TIMEOUT;
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    loop {
        while buffer.len() >= 24 {
            let body = u32::from_be_bytes(buffer[8..12].try_into().unwrap()) as usize;
            if buffer.len() < 24 + body {
                break;
            }
            let packet: Vec<u8> = buffer.drain(..24 + body).collect();
            let sentinel = packet[1] == op::NOOP
                && u32::from_be_bytes(packet[12..16].try_into().unwrap()) == SENTINEL_OPAQUE;
            transcript.push(describe(&packet, cas, cas_seen));
            if sentinel {
                return true;
            }
        }
        if Instant::now() > deadline {
            transcript.push(format!("<timeout with {} bytes>", buffer.len()));
            return false;
        }
        match stream.read(&mut chunk) {
            Ok(n) if n > 0 => buffer.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            // A server that closes with requests still unread sends a reset instead of
            // an end of stream; which one depends on how much of the batch had arrived.
            Ok(_) => return closed(transcript, &buffer),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return closed(transcript, &buffer),
            Err(e) => panic!("read: {e}"),
        }
    }
}

fn closed(transcript: &mut Vec<String>, buffer: &[u8]) -> bool {
    transcript.push(format!("<closed with {} bytes of a packet>", buffer.len()));
    false
}

/// Runs `sequence` on a fresh connection; the transcript of decoded replies.
fn run(addr: SocketAddr, sequence: &Sequence, prefix: &str) -> Vec<String> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    stream.set_nodelay(true).unwrap();
    let mut rng = Rng::new(sequence.split_seed);
    let mut cas = CasOrder::default();
    let mut cas_seen = Vec::new();
    let mut transcript = Vec::new();
    for (b, batch) in sequence.batches.iter().enumerate() {
        let mut bytes = Vec::new();
        for (i, req) in batch.iter().enumerate() {
            req.render(prefix, (b * 100 + i) as u32, &cas_seen, &mut bytes);
        }
        Req::new(op::NOOP).render(prefix, SENTINEL_OPAQUE, &cas_seen, &mut bytes);
        // Split across writes at random points, as a client's packets may arrive.
        let mut at = 0;
        while at < bytes.len() {
            let piece = if rng.percent(50) {
                bytes.len() - at
            } else {
                1 + rng.below(bytes.len() - at)
            };
            if stream.write_all(&bytes[at..at + piece]).is_err() {
                break;
            }
            at += piece;
            if rng.percent(30) {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        if !read_batch(&mut stream, &mut cas, &mut cas_seen, &mut transcript) {
            break;
        }
    }
    transcript
}

/// The opaque of a described reply (`opaque=0x…`).
fn opaque_of(line: &str) -> Option<u32> {
    let hex = line.split(" opaque=0x").nth(1)?.split(' ').next()?;
    u32::from_str_radix(hex, 16).ok()
}

/// Whether the first difference between the transcripts is memcached 1.6.18 answering
/// "Non-numeric" to an incr/decr of a number of 2^63 or more.
///
/// memcached's `safe_strtoull` looks for a minus sign in such a number with `strchr`,
/// but an item's value is not NUL-terminated, so the search runs on into the memory
/// after the item and fails the request when it meets a `-` before a NUL byte. Whether
/// it does depends on what happens to lie there, so one run of a seed can show it and
/// the next not. memcached fixed it in 1.6.22 (commit ea92c6c01, "core: fix
/// incr/decr/ma failing in some conditions"); tailcache answers as the fixed version.
/// The check replays the sequence on memcached, under a new prefix, up to the request
/// that failed, then reads the key: the excuse holds only if its value is such a number.
fn memcached_strchr_bug(
    memcached: SocketAddr,
    sequence: &Sequence,
    prefix: &str,
    expected: &[String],
    actual: &[String],
) -> bool {
    let Some(at) = (0..expected.len()).find(|&i| actual.get(i) != Some(&expected[i])) else {
        return false;
    };
    let line = &expected[at];
    let arithmetic = [op::INCREMENT, op::INCREMENTQ, op::DECREMENT, op::DECREMENTQ]
        .iter()
        .any(|code| line.contains(&format!(" op={code:#04x} status=0x0006 ")));
    let Some(opaque) = opaque_of(line).filter(|_| arithmetic) else {
        return false;
    };
    let (batch, position) = (opaque as usize / 100, opaque as usize % 100);
    let Some(request) = sequence.batches.get(batch).and_then(|b| b.get(position)) else {
        return false;
    };
    let mut get = Req::new(op::GET);
    get.key = request.key.clone();
    let mut batches = sequence.batches[..batch].to_vec();
    batches.push(sequence.batches[batch][..position].to_vec());
    batches.push(vec![get]);
    let replay = Sequence {
        batches,
        split_seed: sequence.split_seed,
    };
    let replies = run(memcached, &replay, &format!("{prefix}replay:"));
    let get_reply = format!(" op={:#04x} status=0x0000 ", op::GET);
    let Some(value) = replies
        .iter()
        .rev()
        .find(|line| line.contains(&get_reply))
        .and_then(|line| line.split(" value=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
    else {
        return false;
    };
    value.bytes().all(|b| b.is_ascii_digit())
        && value.parse::<u64>().is_ok_and(|number| number >= 1 << 63)
}

fn env_number(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    let text = text.trim();
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

#[test]
fn random_binary_sequences_match_memcached() {
    let seed = env_number("DIFF_SEED").unwrap_or(DEFAULT_SEED);
    let count = env_number("DIFF_SEQUENCES").map_or(DEFAULT_SEQUENCES, |n| n as usize);
    let only = env_number("DIFF_ONLY").map(|n| n as usize);
    let (_memcached, memcached) = start_memcached(&["-m", "64"]);
    let tailcache = start_tailcache(&["-m", "64"]);
    let mut generator = Generator {
        rng: Rng::new(seed),
    };
    let mut differing = Vec::new();
    let mut excused = Vec::new();
    for index in 0..count {
        let sequence = generator.sequence();
        if only.is_some_and(|only| only != index) {
            continue;
        }
        let prefix = format!("s{index}:");
        let expected = run(memcached, &sequence, &prefix);
        let actual = run(tailcache.memcache, &sequence, &prefix);
        if expected != actual
            && memcached_strchr_bug(memcached, &sequence, &prefix, &expected, &actual)
        {
            excused.push(index);
        } else if expected != actual {
            differing.push(index);
            if differing.len() <= 3 {
                eprintln!(
                    "sequence {index} (DIFF_SEED={seed:#x} DIFF_ONLY={index}) differs\n\
                     requests: {:#?}\nmemcached:\n  {}\ntailcache:\n  {}",
                    sequence
                        .batches
                        .iter()
                        .map(|batch| batch
                            .iter()
                            .map(|r| format!(
                                "op={:#04x} key={:?} extras={:02x?} value_len={} cas={:?}",
                                r.opcode,
                                String::from_utf8_lossy(&r.key),
                                r.extras,
                                r.value.len(),
                                r.cas
                            ))
                            .collect::<Vec<_>>())
                        .collect::<Vec<_>>(),
                    expected.join("\n  "),
                    actual.join("\n  "),
                );
            }
        }
    }
    let ran = if only.is_some() { 1 } else { count };
    eprintln!(
        "binary differential: {} of {ran} sequences agree (seed {seed:#x}); {} more differ \
         only by memcached 1.6.18's strchr bug: {excused:?}",
        ran - differing.len() - excused.len(),
        excused.len()
    );
    assert!(
        differing.is_empty(),
        "{} of {ran} sequences differ from memcached: {differing:?}",
        differing.len()
    );
}
