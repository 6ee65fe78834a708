//! Test support for the memcache tests: run a byte stream through the parser and answer
//! every request as memcached 1.6.18 answers it on an empty cache, so that the output
//! can be compared byte for byte with what real memcached sent.

#![allow(dead_code)]

use tailcache_protocol::memcache::classic_encode::{encode_reply, encode_version, Reply};
use tailcache_protocol::memcache::meta_encode::{
    encode_meta_noop, encode_meta_status, MetaItem, MetaStatus,
};
use tailcache_protocol::memcache::{
    parse, Limits, LruCrawler, MetaCommand, MetaFlags, MetaKey, Parsed, Request, StatsGroup,
};
use tailcache_protocol::ErrorAction;

/// What happened to a stream.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Every byte written back, in order.
    pub output: Vec<u8>,
    /// The connection was closed (error or quit).
    pub closed: bool,
    /// Bytes left unparsed at the end (an incomplete request).
    pub leftover_bytes: usize,
}

impl Outcome {
    /// The connection closed after writing `output`; nothing is left over.
    fn closed(output: Vec<u8>) -> Outcome {
        Outcome {
            output,
            closed: true,
            leftover_bytes: 0,
        }
    }
}

/// Answers requests as memcached does when no key exists: retrievals miss, stores
/// succeed, deletes/incr/touch do not find the key.
pub fn answer_on_empty_cache(request: &Request<'_>, out: &mut Vec<u8>) -> bool {
    let silent = |noreply: bool, reply: Reply, out: &mut Vec<u8>| {
        if !noreply {
            encode_reply(out, reply);
        }
    };
    match request {
        Request::Get(_) => encode_reply(out, Reply::End),
        Request::Store(store) => silent(store.noreply, Reply::Stored, out),
        Request::Delete(delete) => silent(delete.noreply, Reply::NotFound, out),
        Request::Incr(incr) => silent(incr.noreply, Reply::NotFound, out),
        Request::Touch(touch) => silent(touch.noreply, Reply::NotFound, out),
        Request::FlushAll(flush) => silent(flush.noreply, Reply::Ok, out),
        Request::Verbosity(verbosity) => silent(verbosity.noreply, Reply::Ok, out),
        Request::Version => encode_version(out, b"1.6.18"),
        Request::Quit => return true,
        // No TLS in this reference server: memcached's answer then.
        Request::RefreshCerts { noreply } => {
            if !noreply {
                out.extend_from_slice(b"Error TLS not enabled\r\n");
            }
        }
        // Started without -A, as memcached's default.
        Request::Shutdown(_) => out.extend_from_slice(b"ERROR: shutdown not enabled\r\n"),
        // A release build, as memcached's packages are: no debug commands.
        Request::DebugTime(_) => encode_reply(out, Reply::Error),
        Request::Watch(_) => encode_reply(out, Reply::Ok),
        Request::Stats(stats) => match stats.group {
            StatsGroup::Reset => encode_reply(out, Reply::Reset),
            StatsGroup::Detail if stats.args.is_empty() => {
                encode_reply(out, Reply::StatsDetailUsage)
            }
            StatsGroup::Other(_) => encode_reply(out, Reply::Error),
            _ => encode_reply(out, Reply::End),
        },
        Request::MetaGet(get) => {
            meta_miss(out, MetaCommand::Get, MetaStatus::En, &get.key, &get.flags)
        }
        Request::MetaSet(set) => {
            meta_miss(out, MetaCommand::Set, MetaStatus::Hd, &set.key, &set.flags)
        }
        Request::MetaDelete(delete) => meta_miss(
            out,
            MetaCommand::Delete,
            MetaStatus::Nf,
            &delete.key,
            &delete.flags,
        ),
        Request::MetaArithmetic(arith) => meta_miss(
            out,
            MetaCommand::Arithmetic,
            MetaStatus::Nf,
            &arith.key,
            &arith.flags,
        ),
        Request::MetaNoop => encode_meta_noop(out),
        Request::MetaDebug(_) => out.extend_from_slice(b"EN\r\n"),
        Request::LruCrawler(LruCrawler::Metadump(_)) => encode_reply(out, Reply::End),
        Request::LruCrawler(_) => encode_reply(out, Reply::Ok),
    }
    false
}

/// A meta reply with no item behind it: only `k`, `O` and `b` can be echoed.
fn meta_miss(
    out: &mut Vec<u8>,
    command: MetaCommand,
    status: MetaStatus,
    key: &MetaKey<'_>,
    flags: &MetaFlags<'_>,
) {
    encode_meta_status(out, command, status, key, flags, &MetaItem::default());
}

/// Feeds `input` to the parser as one buffer, the way a session would: parse, answer or
/// write the error, skip or close; swallowed bytes past the end are simply gone.
pub fn run_stream(input: &[u8], limits: &Limits) -> Outcome {
    let mut output = Vec::new();
    let mut position = 0;
    // Each step consumes at least one byte, so the stream ends within input.len() steps.
    for _ in 0..=input.len() {
        if position >= input.len() {
            break;
        }
        match parse(&input[position..], limits) {
            Ok(Parsed::Complete {
                request,
                consumed_bytes,
            }) => {
                assert!(consumed_bytes > 0);
                position += consumed_bytes;
                if answer_on_empty_cache(&request, &mut output) {
                    return Outcome::closed(output);
                }
            }
            Ok(Parsed::Incomplete { .. }) => break,
            Err(error) => {
                output.extend_from_slice(error.reply());
                match error.action() {
                    ErrorAction::Skip { bytes } => {
                        assert!(bytes > 0);
                        position = position.saturating_add(bytes);
                    }
                    ErrorAction::Close => return Outcome::closed(output),
                }
            }
        }
    }
    Outcome {
        output,
        closed: false,
        leftover_bytes: input.len().saturating_sub(position),
    }
}

/// Runs `input` as one stream and asserts that the output and the closing are exactly
/// what memcached 1.6.18 did with it.
pub fn check_golden(input: &[u8], memcached_output: &[u8], memcached_closed: bool) {
    let Outcome { output, closed, .. } = run_stream(input, &Limits::default());
    assert_eq!(
        String::from_utf8_lossy(&output),
        String::from_utf8_lossy(memcached_output),
        "input {:?}",
        String::from_utf8_lossy(&input[..input.len().min(80)])
    );
    assert_eq!(
        closed,
        memcached_closed,
        "close for {:?}",
        String::from_utf8_lossy(input)
    );
}

/// Like [`run_stream`], but the bytes arrive in the given pieces, as reads would deliver
/// them: the session buffers what it cannot parse yet and discards swallowed bytes as
/// they come.
pub fn run_chunked(pieces: &[&[u8]], limits: &Limits) -> Outcome {
    let mut output = Vec::new();
    let mut buffer: Vec<u8> = Vec::new();
    let mut pending_skip_bytes = 0usize;
    for piece in pieces {
        let drop_now = pending_skip_bytes.min(piece.len());
        pending_skip_bytes -= drop_now;
        buffer.extend_from_slice(&piece[drop_now..]);
        let mut position = 0;
        while position < buffer.len() {
            match parse(&buffer[position..], limits) {
                Ok(Parsed::Complete {
                    request,
                    consumed_bytes,
                }) => {
                    position += consumed_bytes;
                    if answer_on_empty_cache(&request, &mut output) {
                        return Outcome::closed(output);
                    }
                }
                Ok(Parsed::Incomplete { needed_bytes_hint }) => {
                    assert!(needed_bytes_hint > buffer.len() - position);
                    break;
                }
                Err(error) => {
                    output.extend_from_slice(error.reply());
                    match error.action() {
                        ErrorAction::Skip { bytes } => {
                            let available = buffer.len() - position;
                            if bytes > available {
                                pending_skip_bytes = bytes - available;
                                position = buffer.len();
                            } else {
                                position += bytes;
                            }
                        }
                        ErrorAction::Close => return Outcome::closed(output),
                    }
                }
            }
        }
        buffer.drain(..position);
    }
    Outcome {
        output,
        closed: false,
        leftover_bytes: buffer.len(),
    }
}

/// Requests and error cases covering every command, for split and fuzz-style tests.
pub fn corpus() -> Vec<Vec<u8>> {
    let mut corpus: Vec<Vec<u8>> = [
        &b"get a\r\n"[..],
        b"get a bb ccc\r\n",
        b"gets a b\n",
        b"gat 10 a b\r\n",
        b"gats -1 k\r\n",
        b"set k 1 2 3\r\nabc\r\n",
        b"add k 0 0 0\r\n\r\n",
        b"replace k 0 0 2 noreply\r\n\r\n\r\n",
        b"append k 0 0 1\r\nx\r\n",
        b"prepend k 0 0 1\r\nx\r\n",
        b"cas k 0 0 1 77\r\nx\r\n",
        b"delete k\r\n",
        b"delete k 0 noreply\r\n",
        b"incr k 5\r\n",
        b"decr k 5 noreply\r\n",
        b"touch k 10\r\n",
        b"flush_all\r\n",
        b"flush_all 10 noreply\r\n",
        b"version\r\n",
        b"verbosity 1\r\n",
        b"stats\r\n",
        b"stats settings\r\n",
        b"stats detail on\r\n",
        b"quit\r\n",
        b"mn\r\n",
        b"mg k v c f h k l Oab q s t u T30 N5 R3 E4\r\n",
        b"mg YQ== b k v\r\n",
        b"ms k 3 T10 F5 C1 I MA N9 q c k Oo\r\nabc\r\n",
        b"ms k 0\r\n\r\n",
        b"md k q I T5 C3 x\r\n",
        b"ma k MD D5 J1 N0 v t c k\r\n",
        b"me k\r\n",
        b"me YQ== b\r\n",
        // errors
        b"foo\r\n",
        b"\r\n",
        b"get\r\n",
        b"set k 0 0 3\r\nabcde\r\n",
        b"set k x 0 3\r\nabc\r\n",
        b"set k 0 0 -1\r\n",
        b"set k 0 0 3 noreply\r\nabcd\r\n",
        b"incr k x\r\n",
        b"delete k 5\r\n",
        b"touch k x\r\n",
        b"gat x k\r\n",
        b"mg k zz\r\n",
        b"mg k v v\r\n",
        b"mg k Tx\r\n",
        b"ms k 2 MX\r\nhi\r\n",
        b"ms k x\r\nhi\r\n",
        b"ms k 2\r\nhiya\r\n",
        b"md k Tx\r\n",
        b"ma k Mi\r\n",
        b"me\r\n",
        b"mg a b\r\n",
        b"set k 0 0 20\r\n0123456789012345678901\r\n",
    ]
    .iter()
    .map(|request| request.to_vec())
    .collect();
    corpus.push([&b"get "[..], &[b'k'; 251], b"\r\n"].concat());
    corpus.push([&b"get "[..], &b"k ".repeat(1200), b"\r\n"].concat());
    corpus.push(vec![b'x'; 2100]);
    corpus.push([&b"set k 0 0 2000\r\n"[..], &[b'v'; 2000], b"\r\nget k\r\n"].concat());
    corpus
}

/// Limits small enough that the corpus hits every limit, including value size.
pub fn small_limits() -> Limits {
    Limits {
        max_value_bytes: 16,
        max_keys_per_get: 1000,
        max_get_line_bytes: 4096,
        ..Limits::default()
    }
}
