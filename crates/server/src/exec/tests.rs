//! In-process tests of command execution: the runtime's calling pattern
//! (input split anywhere, consumed bytes dropped, called again) without
//! sockets.

use std::sync::Arc;

use super::{new_conn, process, ConnState};
use crate::context::{Protocol, ServerContext, SharedState};
use crate::startup::config::Config;
use crate::startup::engine::build_engine;

/// A budget that never runs out: these tests are about protocol, not turns.
fn unbounded() -> tailcache_runtime::TurnBudget {
    tailcache_runtime::TurnBudget {
        requests_left: usize::MAX,
        output_bytes_left: usize::MAX,
    }
}

fn test_ctx(high_water_bytes: usize) -> ServerContext {
    test_ctx_with(high_water_bytes, 1024)
}

fn test_ctx_with(high_water_bytes: usize, max_item_size_bytes: u64) -> ServerContext {
    let config = Config {
        threads: 1,
        memory_limit_mib: 16,
        max_item_size_bytes,
        segment_size_bytes: 1 << 20,
        write_buffer_high_water_bytes: high_water_bytes,
        ..Config::default()
    };
    let engine = Arc::new(build_engine(&config).expect("test engine"));
    let shared = Arc::new(SharedState::new(engine, Arc::new(config), 1));
    ServerContext::new(shared, 0)
}

/// Feeds `input` in `chunk_bytes` pieces as the runtime does; returns all
/// replies and whether the connection asked to close.
fn feed(
    ctx: &ServerContext,
    conn: &mut ConnState,
    input: &[u8],
    chunk_bytes: usize,
) -> (Vec<u8>, bool) {
    let mut buffered = Vec::new();
    let mut output = Vec::new();
    for chunk in input.chunks(chunk_bytes) {
        buffered.extend_from_slice(chunk);
        loop {
            let processed = process(conn, ctx, &buffered, &mut output, &mut unbounded());
            assert!(processed.consumed <= buffered.len());
            buffered.drain(..processed.consumed);
            if processed.close_after_flush {
                return (output, true);
            }
            if processed.consumed == 0 || buffered.is_empty() {
                break;
            }
        }
    }
    (output, false)
}

fn memcache_script() -> Vec<u8> {
    let mut script = b"set a 1 0 3\r\nabc\r\nget a\r\nset big 0 0 3000\r\n".to_vec();
    script.extend(vec![b'x'; 3000]);
    script.extend_from_slice(
        b"\r\nget big\r\nmg a v f k\r\nms b 2 T0\r\nhi\r\nma n N0 J7 v\r\nmn\r\nquit\r\nget a\r\n",
    );
    script
}

#[test]
fn replies_do_not_depend_on_how_the_input_is_split() {
    let ctx = test_ctx(1 << 20);
    let mut whole_conn = new_conn(Protocol::Memcache, &ctx, None);
    let (whole, closed) = feed(&ctx, &mut whole_conn, &memcache_script(), usize::MAX);
    assert!(closed, "quit closes");
    assert_eq!(
        String::from_utf8_lossy(&whole),
        "STORED\r\nVALUE a 1 3\r\nabc\r\nEND\r\nSERVER_ERROR object too large for cache\r\nEND\r\n\
VA 3 f1 ka\r\nabc\r\nHD\r\nVA 1\r\n7\r\nMN\r\n"
    );
    for chunk_bytes in [1, 2, 3, 7, 64, 1000] {
        ctx.engine.flush_all();
        let mut conn = new_conn(Protocol::Memcache, &ctx, None);
        let (split, closed) = feed(&ctx, &mut conn, &memcache_script(), chunk_bytes);
        assert!(closed);
        assert_eq!(split, whole, "chunks of {chunk_bytes} bytes");
    }
}

#[test]
fn one_call_stops_near_the_high_water_mark_and_the_next_resumes() {
    let ctx = test_ctx(4096);
    let mut conn = new_conn(Protocol::Memcache, &ctx, None);
    // 990 bytes: with the key and the largest item header, within -I 1024.
    let mut set = b"set v 0 0 990\r\n".to_vec();
    set.extend(vec![b'v'; 990]);
    set.extend_from_slice(b"\r\n");
    assert_eq!(feed(&ctx, &mut conn, &set, usize::MAX).0, b"STORED\r\n");
    let gets = b"get v\r\n".repeat(100);
    let mut output = Vec::new();
    let first = process(&mut conn, &ctx, &gets, &mut output, &mut unbounded());
    assert!(
        first.consumed > 0 && first.consumed < gets.len(),
        "stopped early: {}",
        first.consumed
    );
    assert!(output.len() >= 4096 && output.len() < 4096 + 1100);
    let (rest, _) = feed(&ctx, &mut conn, &gets[first.consumed..], usize::MAX);
    let replies = output.len() + rest.len();
    assert_eq!(
        replies,
        100 * b"VALUE v 0 990\r\n\r\nEND\r\n".len() + 100 * 990
    );
}

#[test]
fn resp3_changes_the_null_reply() {
    let ctx = test_ctx(1 << 20);
    let mut conn = new_conn(Protocol::Resp, &ctx, None);
    let (reply, _) = feed(&ctx, &mut conn, b"GET none\r\n", usize::MAX);
    assert_eq!(reply, b"$-1\r\n");
    let (reply, _) = feed(&ctx, &mut conn, b"HELLO 3\r\nGET none\r\n", 3);
    assert!(
        reply.starts_with(b"%7\r\n") && reply.ends_with(b"_\r\n"),
        "{reply:?}"
    );
    let (reply, closed) = feed(
        &ctx,
        &mut conn,
        b"*1\r\n$4\r\nQUIT\r\nGET none\r\n",
        usize::MAX,
    );
    assert_eq!((reply.as_slice(), closed), (&b"+OK\r\n"[..], true));
}

#[test]
fn http_sends_continue_once_then_stores() {
    let ctx = test_ctx(1 << 20);
    let mut conn = new_conn(Protocol::Http, &ctx, None);
    let head =
        b"PUT /keys/k HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n";
    let mut output = Vec::new();
    let waiting = process(&mut conn, &ctx, head, &mut output, &mut unbounded());
    assert_eq!(waiting.consumed, 0);
    assert_eq!(output, b"HTTP/1.1 100 Continue\r\n\r\n");
    let mut partial = head.to_vec();
    partial.extend_from_slice(b"bo");
    process(&mut conn, &ctx, &partial, &mut output, &mut unbounded());
    assert_eq!(
        output, b"HTTP/1.1 100 Continue\r\n\r\n",
        "Continue is sent once"
    );
    partial.extend_from_slice(b"dy");
    let done = process(&mut conn, &ctx, &partial, &mut output, &mut unbounded());
    assert_eq!(done.consumed, partial.len());
    assert!(output.ends_with(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"));
    let mut value = Vec::new();
    assert!(ctx.engine.get_into(b"k", &mut value).unwrap().is_some());
    assert_eq!(value, b"body");

    // The next request's head arrives in two pieces: nothing until it is whole, then
    // one Continue for it too.
    output.clear();
    let (first, second) = head.split_at(20);
    let waiting = process(&mut conn, &ctx, first, &mut output, &mut unbounded());
    assert_eq!((waiting.consumed, output.len()), (0, 0));
    let whole_head = [first, second].concat();
    process(&mut conn, &ctx, &whole_head, &mut output, &mut unbounded());
    assert_eq!(output, b"HTTP/1.1 100 Continue\r\n\r\n");
}

#[test]
fn a_refused_set_forgets_the_old_value() {
    let ctx = test_ctx(1 << 20);
    let mut conn = new_conn(Protocol::Memcache, &ctx, None);
    let mut script = b"set k 0 0 1\r\nx\r\nset k 0 0 2000\r\n".to_vec();
    script.extend(vec![b'y'; 2000]);
    script.extend_from_slice(b"\r\nget k\r\n");
    let (reply, _) = feed(&ctx, &mut conn, &script, 100);
    assert_eq!(
        reply,
        b"STORED\r\nSERVER_ERROR object too large for cache\r\nEND\r\n"
    );
}

#[test]
fn a_multiget_larger_than_the_high_water_mark_is_served_in_pieces() {
    // memcached has no limit on a get's keys or reply: the reply is streamed, each
    // call stopping near the high-water mark, with only the keys served consumed.
    let high_water_bytes = 64 << 10;
    let ctx = test_ctx_with(high_water_bytes, 16 << 10);
    let value = vec![b'v'; 8000];
    let options = tailcache_storage::StoreOptions::default();
    ctx.engine
        .store(tailcache_storage::StoreMode::Set, b"k", &value, options)
        .unwrap();
    let keys = 1_000;
    let mut request = b"get".to_vec();
    for _ in 0..keys {
        request.extend_from_slice(b" k");
    }
    request.extend_from_slice(b"\r\n");
    let mut conn = new_conn(Protocol::Memcache, &ctx, None);
    let mut output = Vec::new();
    let first = process(&mut conn, &ctx, &request, &mut output, &mut unbounded());
    assert!(
        output.len() >= high_water_bytes && output.len() < high_water_bytes + 8100,
        "one call wrote {} bytes",
        output.len()
    );
    let (rest, closed) = feed(&ctx, &mut conn, &request[first.consumed..], usize::MAX);
    assert!(!closed);
    let header = b"VALUE k 0 8000\r\n";
    assert_eq!(
        output.len() + rest.len(),
        keys * (header.len() + value.len() + 2) + b"END\r\n".len()
    );
    assert!(rest.ends_with(b"END\r\n"));
}

#[test]
fn a_header_is_moved_in_front_of_a_copied_value() {
    let mut out = b"earlier reply|".to_vec();
    let value_start = out.len();
    out.extend_from_slice(b"value bytes");
    super::prepend_header(&mut out, value_start, |out, value_len| {
        out.extend_from_slice(format!("LEN {value_len}:").as_bytes());
    });
    assert_eq!(out, b"earlier reply|LEN 11:value bytes");
}

#[test]
fn the_request_loop_counts_bytes_and_stops_where_told() {
    use super::conn_loop::{run_requests, Step};
    let ctx = test_ctx(1 << 20);
    let mut output = Vec::new();
    // A zero-byte step still advances, so the loop ends.
    let processed = run_requests(&ctx, b"abc", &mut output, &mut unbounded(), |_, _, _| {
        Step::Next(0)
    });
    assert_eq!(
        (processed.consumed, processed.close_after_flush),
        (3, false)
    );
    // A close reports the bytes used so far plus the step's, never past the input.
    let mut steps = [Step::Next(1), Step::Close(5)].into_iter();
    let processed = run_requests(&ctx, b"abc", &mut output, &mut unbounded(), |_, _, _| {
        steps.next().unwrap()
    });
    assert_eq!((processed.consumed, processed.close_after_flush), (3, true));
    let processed = run_requests(&ctx, b"abc", &mut output, &mut unbounded(), |rest, _, _| {
        if rest.len() == 3 {
            Step::Next(2)
        } else {
            Step::NeedMore
        }
    });
    assert_eq!(
        (processed.consumed, processed.close_after_flush),
        (2, false)
    );
    // Replies past the high-water mark stop the loop until the next call.
    let ctx = test_ctx(4);
    let processed = run_requests(
        &ctx,
        b"abcdef",
        &mut output,
        &mut unbounded(),
        |_, output, _| {
            output.extend_from_slice(b"reply");
            Step::Next(1)
        },
    );
    assert_eq!(
        (processed.consumed, processed.close_after_flush),
        (1, false)
    );
}

/// A context whose get lines may be 4 MiB long (memcached bounds them by the read buffer).
fn long_line_ctx() -> ServerContext {
    let config = Config {
        threads: 1,
        memory_limit_mib: 64,
        max_item_size_bytes: 4 << 20,
        segment_size_bytes: 4 << 20,
        ..Config::default()
    };
    let engine = Arc::new(build_engine(&config).expect("test engine"));
    let shared = Arc::new(SharedState::new(engine, Arc::new(config), 1));
    ServerContext::new(shared, 0)
}

#[test]
fn a_long_get_line_sent_in_pieces_is_searched_once() {
    let ctx = long_line_ctx();
    let mut conn = new_conn(Protocol::Memcache, &ctx, None);
    let mut line = b"get ".to_vec();
    line.resize(4_000_000, b' ');
    line.extend_from_slice(b"k\r\nmn\r\n");
    let started = std::time::Instant::now();
    let (replies, closed) = feed(&ctx, &mut conn, &line, 512);
    let took = started.elapsed();
    assert_eq!(
        (replies.as_slice(), closed),
        (b"END\r\nMN\r\n".as_slice(), false)
    );
    // Searching the whole line again at each of its 7 813 pieces scans 16 GB.
    assert!(
        took < std::time::Duration::from_secs(2),
        "took {took:?}: the line was searched from its start at every piece"
    );
}

#[test]
fn a_resp_request_with_64k_arguments_sent_in_pieces_is_parsed_once() {
    let ctx = long_line_ctx();
    let mut conn = new_conn(Protocol::Resp, &ctx, None);
    let keys = 65_535;
    let mut request = format!("*{}\r\n$4\r\nMGET\r\n", keys + 1).into_bytes();
    for i in 0..keys {
        let key = format!("k{i}");
        request.extend_from_slice(format!("${}\r\n{key}\r\n", key.len()).as_bytes());
    }
    request.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
    let started = std::time::Instant::now();
    let (replies, closed) = feed(&ctx, &mut conn, &request, 64);
    let took = started.elapsed();
    assert!(!closed);
    let expected_start = format!("*{keys}\r\n$-1\r\n");
    assert!(replies.starts_with(expected_start.as_bytes()));
    assert!(replies.ends_with(b"$-1\r\n+PONG\r\n"));
    // Parsing the arguments again at each of its 12 000 pieces takes minutes.
    assert!(
        took < std::time::Duration::from_secs(3),
        "took {took:?}: the request was parsed from its start at every piece"
    );
}

#[test]
fn a_resp_mget_and_del_of_many_keys_are_served_one_turn_budget_at_a_time() {
    // Like a memcache multiget, a 1 000-key MGET or DEL serves a turn's budget of
    // keys per call, so the clients behind it wait for one slice, not all of it.
    let ctx = test_ctx(1 << 20);
    let options = tailcache_storage::StoreOptions::default();
    for i in (0..1000).step_by(10) {
        let key = format!("k{i}");
        ctx.engine
            .store(
                tailcache_storage::StoreMode::Set,
                key.as_bytes(),
                b"v",
                options,
            )
            .unwrap();
    }
    for (command, whole_reply) in [
        ("MGET", {
            let mut reply = b"*1000\r\n".to_vec();
            for i in 0..1000 {
                reply.extend_from_slice(if i % 10 == 0 {
                    b"$1\r\nv\r\n"
                } else {
                    b"$-1\r\n"
                });
            }
            reply
        }),
        ("DEL", b":100\r\n".to_vec()),
    ] {
        let mut request = format!("*1001\r\n${}\r\n{command}\r\n", command.len()).into_bytes();
        for i in 0..1000 {
            let key = format!("k{i}");
            request.extend_from_slice(format!("${}\r\n{key}\r\n", key.len()).as_bytes());
        }
        let mut conn = new_conn(Protocol::Resp, &ctx, None);
        let mut output = Vec::new();
        let mut rest = request.as_slice();
        let mut calls = 0;
        while !rest.is_empty() {
            let mut budget = tailcache_runtime::TurnBudget {
                requests_left: 32,
                output_bytes_left: usize::MAX,
            };
            let processed = process(&mut conn, &ctx, rest, &mut output, &mut budget);
            assert!(processed.consumed > 0, "{command} made progress");
            rest = &rest[processed.consumed..];
            if !rest.is_empty() {
                assert_eq!(budget.requests_left, 0, "a call stops after its budget");
            }
            calls += 1;
        }
        assert_eq!(
            calls,
            1000usize.div_ceil(32),
            "{command}: one call per 32 keys"
        );
        assert_eq!(output, whole_reply, "{command}");
    }
}
