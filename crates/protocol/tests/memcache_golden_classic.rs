//! Golden tests for classic commands: each input was sent to memcached 1.6.18
//! (`memcached -p PORT -l 127.0.0.1 -U 0`, fresh keys) and the bytes it sent back are
//! recorded here. The parser plus an empty-cache answerer must reproduce them exactly.

mod memcache_support;

use memcache_support::{check_golden, run_stream, Outcome};
use tailcache_protocol::memcache::Limits;

fn key_of(length: usize) -> Vec<u8> {
    vec![b'k'; length]
}

fn join(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn unknown_and_malformed_commands() {
    check_golden(b"foo\r\n", b"ERROR\r\n", false);
    check_golden(b"GET a\r\n", b"ERROR\r\n", false);
    check_golden(b"\r\n", b"ERROR\r\n", false);
    check_golden(b"\n", b"ERROR\r\n", false);
    check_golden(b"get\r\n", b"ERROR\r\n", false);
    check_golden(b"gets\r\n", b"ERROR\r\n", false);
    check_golden(b"gat\r\n", b"ERROR\r\n", false);
    check_golden(b"touch a\r\n", b"ERROR\r\n", false);
    check_golden(b"delete\r\n", b"ERROR\r\n", false);
    check_golden(b"delete zz x y z\r\n", b"ERROR\r\n", false);
    check_golden(b"incr a\r\n", b"ERROR\r\n", false);
    check_golden(b"verbosity\r\n", b"ERROR\r\n", false);
    check_golden(b"verbosity 1 2 3\r\n", b"ERROR\r\n", false);
    check_golden(b"stats foo\r\n", b"ERROR\r\n", false);
    check_golden(
        b"set a 0 0 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25\r\n",
        b"ERROR\r\n",
        false,
    );
}

#[test]
fn retrieval() {
    check_golden(b"get a\r\n", b"END\r\n", false);
    check_golden(b" get a\r\n", b"END\r\n", false);
    check_golden(b"get  a   b\r\n", b"END\r\n", false);
    check_golden(b"get a\nget a\n", b"END\r\nEND\r\n", false);
    check_golden(b"get a\r\r\n", b"END\r\n", false);
    check_golden(b"gat 10\r\n", b"END\r\n", false);
    check_golden(b"gats 10 a\r\n", b"END\r\n", false);
    check_golden(
        b"gat x a\r\n",
        b"CLIENT_ERROR invalid exptime argument\r\n",
        false,
    );
    check_golden(b"gat 99999999999 a\r\n", b"END\r\n", false);
    check_golden(b"gat -1 a\r\n", b"END\r\n", false);
    check_golden(&join(&[b"get ", &key_of(250), b"\r\n"]), b"END\r\n", false);
    let bad = b"CLIENT_ERROR bad command line format\r\n";
    check_golden(&join(&[b"get ", &key_of(251), b"\r\n"]), bad, false);
    check_golden(&join(&[b"get a ", &key_of(251), b"\r\n"]), bad, false);
    check_golden(&join(&[b"get ", &key_of(251), b" a\r\n"]), bad, false);
    check_golden(
        &join(&[b"get ", &b"k ".repeat(30), b"\r\n"]),
        b"END\r\n",
        false,
    );
}

#[test]
fn storage_accepts_what_memcached_accepts() {
    for input in [
        &b"set b 0 0 3 x\r\nabc\r\n"[..],
        b"set b 4294967296 0 3\r\nabc\r\n",
        b"set b 00 0 3\r\nabc\r\n",
        b"set b +1 0 3\r\nabc\r\n",
        b"set b 0 0 +3\r\nabc\r\n",
        b"set b 0 0 03\r\nabc\r\n",
        b"set b 0 0 3 \r\nabc\r\n",
        b"set b 0 -5 3\r\nabc\r\n",
        b"set b 0 99999999999 3\r\nabc\r\n",
        b"append b 0 0 3\r\nabc\r\n",
    ] {
        check_golden(input, b"STORED\r\n", false);
    }
    check_golden(
        &join(&[b"set ", &key_of(250), b" 0 0 3\r\nabc\r\n"]),
        b"STORED\r\n",
        false,
    );
    check_golden(
        b"set a 0 0 3 noreply\r\nabc\r\nget zz\r\n",
        b"END\r\n",
        false,
    );
    check_golden(b"cas b 0 0 3 1 noreply\r\nabc\r\n", b"", false);
}

#[test]
fn storage_errors() {
    let bad = b"CLIENT_ERROR bad command line format\r\n";
    let bad_then_error = b"CLIENT_ERROR bad command line format\r\nERROR\r\n";
    check_golden(b"set a 0 0 -1\r\n", bad, false);
    check_golden(b"set b 0 0\r\n", b"ERROR\r\n", false);
    check_golden(b"set a x 0 3\r\nabc\r\n", bad_then_error, false);
    check_golden(b"set b -1 0 3\r\nabc\r\n", bad_then_error, false);
    check_golden(b"set b 0 x 3\r\nabc\r\n", bad_then_error, false);
    check_golden(b"set b 1x 0 3\r\nabc\r\n", bad_then_error, false);
    check_golden(b"set b 0 0 3x\r\nabc\r\n", bad_then_error, false);
    check_golden(
        b"set b 18446744073709551616 0 3\r\nabc\r\n",
        bad_then_error,
        false,
    );
    check_golden(b"set b 0 0 2147483647\r\n", bad, false);
    check_golden(b"set b 0 0 2147483648\r\n", bad, false);
    check_golden(b"cas b 0 0 3\r\nabc\r\n", b"ERROR\r\nERROR\r\n", false);
    check_golden(b"cas b 0 0 3 x\r\nabc\r\n", bad_then_error, false);
    check_golden(b"cas b 0 0 3 -1\r\nabc\r\n", bad_then_error, false);
    check_golden(
        b"set b 0 0 3 noreply extra\r\nabc\r\n",
        b"ERROR\r\nERROR\r\n",
        false,
    );
    check_golden(
        &join(&[b"set ", &key_of(251), b" 0 0 3\r\nabc\r\n"]),
        bad_then_error,
        false,
    );
    // noreply silences the error; the data block is then read as a command.
    check_golden(b"set b x 0 3 noreply\r\nabc\r\n", b"ERROR\r\n", false);
}

#[test]
fn bad_data_chunk_skips_the_announced_length_and_goes_on() {
    check_golden(
        b"set a 0 0 3\r\nabcde\r\n",
        b"CLIENT_ERROR bad data chunk\r\nERROR\r\n",
        false,
    );
    check_golden(
        b"set a 0 0 3\r\nabcd\r\nget a\r\n",
        b"CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n",
        false,
    );
    check_golden(b"set b 0 0 3 noreply\r\nabcde\r\n", b"ERROR\r\n", false);
    check_golden(b"set b 0 0 3 noreply\r\nabcd\r\n", b"ERROR\r\n", false);
}

#[test]
fn too_large_values_are_swallowed() {
    let value = vec![b'x'; 2_000_000];
    check_golden(
        &join(&[b"set b 0 0 2000000\r\n", &value, b"\r\nget b\r\n"]),
        b"SERVER_ERROR object too large for cache\r\nEND\r\n",
        false,
    );
    check_golden(
        &join(&[b"set b 0 0 2000000 noreply\r\n", &value, b"\r\nget b\r\n"]),
        b"END\r\n",
        false,
    );
}

#[test]
fn delete_incr_touch() {
    check_golden(b"delete zz 0\r\n", b"NOT_FOUND\r\n", false);
    check_golden(
        b"delete zz 5\r\n",
        b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n",
        false,
    );
    check_golden(b"delete zz noreply\r\n", b"", false);
    check_golden(b"delete zz 0 noreply\r\n", b"", false);
    check_golden(b"delete a 5 noreply\r\n", b"", false);
    let invalid_delta = b"CLIENT_ERROR invalid numeric delta argument\r\n";
    check_golden(b"incr a x\r\n", invalid_delta, false);
    check_golden(b"incr a -1\r\n", invalid_delta, false);
    check_golden(b"incr a 18446744073709551616\r\n", invalid_delta, false);
    check_golden(b"incr b 1x\r\n", invalid_delta, false);
    check_golden(b"incr a x noreply\r\n", b"", false);
    check_golden(b"incr zz 1\r\n", b"NOT_FOUND\r\n", false);
    check_golden(b"decr a 1 noreply\r\n", b"", false);
    check_golden(
        b"touch a x\r\n",
        b"CLIENT_ERROR invalid exptime argument\r\n",
        false,
    );
    check_golden(b"touch a x noreply\r\n", b"", false);
    check_golden(b"touch zz 10 noreply\r\n", b"", false);
    check_golden(b"touch nokey -1\r\n", b"NOT_FOUND\r\n", false);
    check_golden(
        b"flush_all noreply x\r\n",
        b"CLIENT_ERROR invalid exptime argument\r\n",
        false,
    );
    check_golden(b"verbosity noreply\r\n", b"", false);
    check_golden(b"get a\x00b\r\n", b"END\r\n", false);
    let bad = b"CLIENT_ERROR bad command line format\r\n";
    check_golden(&join(&[b"delete ", &key_of(251), b"\r\n"]), bad, false);
    check_golden(&join(&[b"incr ", &key_of(251), b" 1\r\n"]), bad, false);
    check_golden(&join(&[b"touch ", &key_of(251), b" 1\r\n"]), bad, false);
}

#[test]
fn other_commands() {
    check_golden(
        b"flush_all x\r\n",
        b"CLIENT_ERROR invalid exptime argument\r\n",
        false,
    );
    check_golden(b"flush_all x noreply\r\n", b"", false);
    check_golden(b"flush_all 0 noreply\r\n", b"", false);
    check_golden(b"flush_all noreply\r\n", b"", false);
    check_golden(b"flush_all -1\r\n", b"OK\r\n", false);
    check_golden(b"flush_all 1 2\r\n", b"OK\r\n", false);
    check_golden(b"version\r\n", b"VERSION 1.6.18\r\n", false);
    check_golden(b"version x\r\n", b"VERSION 1.6.18\r\n", false);
    check_golden(b"verbosity 1\r\n", b"OK\r\n", false);
    check_golden(
        b"verbosity x\r\n",
        b"CLIENT_ERROR bad command line format\r\n",
        false,
    );
    check_golden(b"verbosity 1 noreply\r\n", b"", false);
    check_golden(b"quit\r\n", b"", true);
    check_golden(b"quit x\r\n", b"", true);
    check_golden(b"stats reset\r\n", b"RESET\r\n", false);
    check_golden(
        b"stats detail\r\n",
        b"CLIENT_ERROR usage: stats detail on|off|dump\r\n",
        false,
    );
}

#[test]
fn line_length_limit_closes_like_memcached() {
    // 2048 bytes without a newline: memcached keeps waiting.
    let waiting = run_stream(&[b'x'; 2048], &Limits::default());
    assert_eq!(
        waiting,
        Outcome {
            output: Vec::new(),
            closed: false,
            leftover_bytes: 2048
        }
    );
    // One more byte without a newline: memcached closes without a word.
    check_golden(&[b'x'; 2049], b"", true);
    check_golden(&join(&[&[b'x'; 2047], b"\n"]), b"ERROR\r\n", false);
    // get/gets lines may be longer (up to Limits::max_get_line_bytes).
    let long_get = join(&[b"    get ", &b"k ".repeat(1500)]);
    assert!(!run_stream(&long_get, &Limits::default()).closed);
    check_golden(&join(&[&long_get, b"\r\n"]), b"END\r\n", false);
    // memcached allows at most 100 leading spaces before such a get.
    check_golden(
        &join(&[&[b' '; 101], b"get ", &b"k ".repeat(1500)]),
        b"",
        true,
    );
}

#[test]
fn tailcache_limits_have_their_own_errors() {
    let limits = Limits {
        max_keys_per_get: 3,
        max_value_bytes: 10,
        ..Limits::default()
    };
    let too_many = run_stream(b"get a b c d\r\nget a b c\r\n", &limits);
    assert_eq!(
        too_many.output,
        b"CLIENT_ERROR too many keys in request\r\nEND\r\n"
    );
    let too_large = run_stream(
        b"set a 0 0 11\r\nhello world\r\nset a 0 0 10\r\nhelloworld\r\n",
        &limits,
    );
    assert_eq!(
        too_large.output,
        b"SERVER_ERROR object too large for cache\r\nSTORED\r\n"
    );
    let get_limits = Limits {
        max_get_line_bytes: 4096,
        ..Limits::default()
    };
    let huge_get = [&b"get "[..], &b"k ".repeat(3000)].concat();
    let closed = run_stream(&huge_get, &get_limits);
    assert!(closed.closed);
    assert_eq!(
        closed.output,
        b"SERVER_ERROR out of memory reading request\r\n"
    );
}
