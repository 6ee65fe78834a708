//! Golden error replies: every request here was sent to redis-server 7.0.15 and the
//! reply bytes (and whether Redis closed the connection) were captured. Our parser must
//! produce the same bytes and the same close decision, without Redis at test time.
//! `resp_support/capture_redis.py` re-captures them.

use tailcache_protocol::resp::{parse, Limits, ParseError, Parsed};
use tailcache_protocol::ErrorAction;

/// (request, Redis's reply, Redis closed the connection).
const CAPTURED_ERRORS: &[(&[u8], &[u8], bool)] = &[
    (b"*1\r\n$3\r\nGET\r\n", b"-ERR wrong number of arguments for 'get' command\r\n", false),
    (b"*3\r\n$3\r\nGET\r\n$1\r\na\r\n$1\r\nb\r\n", b"-ERR wrong number of arguments for 'get' command\r\n", false),
    (b"*1\r\n$3\r\nget\r\n", b"-ERR wrong number of arguments for 'get' command\r\n", false),
    (b"*2\r\n$3\r\nSET\r\n$1\r\nk\r\n", b"-ERR wrong number of arguments for 'set' command\r\n", false),
    (b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nEX\r\n", b"-ERR syntax error\r\n", false),
    (b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nEX\r\n$3\r\nabc\r\n", b"-ERR value is not an integer or out of range\r\n", false),
    (b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nEX\r\n$1\r\n0\r\n", b"-ERR invalid expire time in 'set' command\r\n", false),
    (b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nEX\r\n$2\r\n-1\r\n", b"-ERR invalid expire time in 'set' command\r\n", false),
    (b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nPX\r\n$1\r\n0\r\n", b"-ERR invalid expire time in 'set' command\r\n", false),
    (b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nEX\r\n$19\r\n9223372036854775807\r\n", b"-ERR invalid expire time in 'set' command\r\n", false),
    (b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nEX\r\n$16\r\n9223372036854776\r\n", b"-ERR invalid expire time in 'set' command\r\n", false),
    (b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$4\r\nEXAT\r\n$1\r\n0\r\n", b"-ERR invalid expire time in 'set' command\r\n", false),
    (b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nNX\r\n$2\r\nXX\r\n", b"-ERR syntax error\r\n", false),
    (b"*7\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nEX\r\n$2\r\n10\r\n$2\r\nPX\r\n$2\r\n10\r\n", b"-ERR syntax error\r\n", false),
    (b"*6\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$7\r\nKEEPTTL\r\n$2\r\nEX\r\n$2\r\n10\r\n", b"-ERR syntax error\r\n", false),
    (b"*7\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nEX\r\n$3\r\nabc\r\n$2\r\nNX\r\n$2\r\nXX\r\n", b"-ERR syntax error\r\n", false),
    (b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$3\r\nFOO\r\n", b"-ERR syntax error\r\n", false),
    (b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nEX\r\n$2\r\n01\r\n", b"-ERR value is not an integer or out of range\r\n", false),
    (b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nEX\r\n$2\r\n+1\r\n", b"-ERR value is not an integer or out of range\r\n", false),
    (b"*3\r\n$3\r\nFOO\r\n$1\r\na\r\n$1\r\nb\r\n", b"-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n", false),
    (b"*1\r\n$3\r\nFOO\r\n", b"-ERR unknown command 'FOO', with args beginning with: \r\n", false),
    (b"*8\r\n$3\r\nfoo\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n$1\r\nf\r\n$1\r\ng\r\n", b"-ERR unknown command 'foo', with args beginning with: 'a' 'b' 'c' 'd' 'e' 'f' 'g' \r\n", false),
    (b"*3\r\n$3\r\nFOO\r\n$153\r\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n$1\r\nb\r\n", b"-ERR unknown command 'FOO', with args beginning with: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' \r\n", false),
    (b"*3\r\n$6\r\nINCRBY\r\n$1\r\nk\r\n$1\r\nx\r\n", b"-ERR value is not an integer or out of range\r\n", false),
    (b"*4\r\n$6\r\nINCRBY\r\n$1\r\nk\r\n$1\r\n1\r\n$1\r\n2\r\n", b"-ERR wrong number of arguments for 'incrby' command\r\n", false),
    (b"*3\r\n$6\r\nDECRBY\r\n$1\r\nk\r\n$20\r\n-9223372036854775808\r\n", b"-ERR decrement would overflow\r\n", false),
    (b"*2\r\n$4\r\nMSET\r\n$1\r\na\r\n", b"-ERR wrong number of arguments for 'mset' command\r\n", false),
    (b"*4\r\n$4\r\nMSET\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", b"-ERR wrong number of arguments for 'mset' command\r\n", false),
    (b"*1\r\n$4\r\nMGET\r\n", b"-ERR wrong number of arguments for 'mget' command\r\n", false),
    (b"*2\r\n$6\r\nEXPIRE\r\n$1\r\nk\r\n", b"-ERR wrong number of arguments for 'expire' command\r\n", false),
    (b"*3\r\n$6\r\nEXPIRE\r\n$1\r\nk\r\n$1\r\nx\r\n", b"-ERR value is not an integer or out of range\r\n", false),
    (b"*5\r\n$6\r\nEXPIRE\r\n$1\r\nk\r\n$2\r\n10\r\n$2\r\nNX\r\n$2\r\nXX\r\n", b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n", false),
    (b"*5\r\n$6\r\nEXPIRE\r\n$1\r\nk\r\n$2\r\n10\r\n$2\r\nGT\r\n$2\r\nLT\r\n", b"-ERR GT and LT options at the same time are not compatible\r\n", false),
    (b"*4\r\n$6\r\nEXPIRE\r\n$1\r\nk\r\n$2\r\n10\r\n$3\r\nFOO\r\n", b"-ERR Unsupported option FOO\r\n", false),
    (b"*5\r\n$6\r\nEXPIRE\r\n$1\r\nk\r\n$2\r\n10\r\n$2\r\nNX\r\n$2\r\nGT\r\n", b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n", false),
    (b"*3\r\n$6\r\nEXPIRE\r\n$1\r\nk\r\n$19\r\n9223372036854775807\r\n", b"-ERR invalid expire time in 'expire' command\r\n", false),
    (b"*4\r\n$5\r\nGETEX\r\n$1\r\nk\r\n$2\r\nEX\r\n$1\r\n0\r\n", b"-ERR invalid expire time in 'getex' command\r\n", false),
    (b"*6\r\n$5\r\nGETEX\r\n$1\r\nk\r\n$2\r\nEX\r\n$2\r\n10\r\n$2\r\nPX\r\n$2\r\n10\r\n", b"-ERR syntax error\r\n", false),
    (b"*5\r\n$5\r\nGETEX\r\n$1\r\nk\r\n$7\r\nPERSIST\r\n$2\r\nEX\r\n$2\r\n10\r\n", b"-ERR syntax error\r\n", false),
    (b"*3\r\n$5\r\nGETEX\r\n$1\r\nk\r\n$3\r\nFOO\r\n", b"-ERR syntax error\r\n", false),
    (b"*3\r\n$5\r\nGETEX\r\n$1\r\nk\r\n$2\r\nEX\r\n", b"-ERR syntax error\r\n", false),
    (b"*2\r\n$8\r\nFLUSHALL\r\n$3\r\nFOO\r\n", b"-ERR syntax error\r\n", false),
    (b"*3\r\n$8\r\nFLUSHALL\r\n$5\r\nASYNC\r\n$4\r\nSYNC\r\n", b"-ERR syntax error\r\n", false),
    (b"*3\r\n$4\r\nPING\r\n$1\r\na\r\n$1\r\nb\r\n", b"-ERR wrong number of arguments for 'ping' command\r\n", false),
    (b"*1\r\n$4\r\nECHO\r\n", b"-ERR wrong number of arguments for 'echo' command\r\n", false),
    (b"*2\r\n$6\r\nSELECT\r\n$2\r\n16\r\n", b"-ERR DB index is out of range\r\n", false),
    (b"*2\r\n$6\r\nSELECT\r\n$1\r\nx\r\n", b"-ERR value is not an integer or out of range\r\n", false),
    (b"*2\r\n$5\r\nHELLO\r\n$1\r\nx\r\n", b"-ERR Protocol version is not an integer or out of range\r\n", false),
    (b"*2\r\n$5\r\nHELLO\r\n$1\r\n4\r\n", b"-NOPROTO unsupported protocol version\r\n", false),
    (b"*2\r\n$5\r\nHELLO\r\n$1\r\n1\r\n", b"-NOPROTO unsupported protocol version\r\n", false),
    (b"*4\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$1\r\na\r\n", b"-ERR Syntax error in HELLO option 'AUTH'\r\n", false),
    (b"*3\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$7\r\nSETNAME\r\n", b"-ERR Syntax error in HELLO option 'SETNAME'\r\n", false),
    (b"*3\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$3\r\nFOO\r\n", b"-ERR Syntax error in HELLO option 'FOO'\r\n", false),
    (b"*5\r\n$5\r\nHELLO\r\n$1\r\n2\r\n$7\r\nSETNAME\r\n$1\r\na\r\n$1\r\nb\r\n", b"-ERR Syntax error in HELLO option 'b'\r\n", false),
    (b"*1\r\n$4\r\nAUTH\r\n", b"-ERR wrong number of arguments for 'auth' command\r\n", false),
    (b"*4\r\n$4\r\nAUTH\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", b"-ERR syntax error\r\n", false),
    (b"*1\r\n$6\r\nCLIENT\r\n", b"-ERR wrong number of arguments for 'client' command\r\n", false),
    (b"*2\r\n$6\r\nCLIENT\r\n$3\r\nFOO\r\n", b"-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n", false),
    (b"*2\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n", b"-ERR wrong number of arguments for 'client|setname' command\r\n", false),
    (b"*4\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$1\r\na\r\n$1\r\nb\r\n", b"-ERR wrong number of arguments for 'client|setname' command\r\n", false),
    (b"*3\r\n$6\r\nCLIENT\r\n$7\r\nGETNAME\r\n$1\r\nx\r\n", b"-ERR wrong number of arguments for 'client|getname' command\r\n", false),
    (b"*3\r\n$6\r\nCLIENT\r\n$2\r\nID\r\n$1\r\nx\r\n", b"-ERR wrong number of arguments for 'client|id' command\r\n", false),
    (b"*2\r\n$7\r\nCOMMAND\r\n$3\r\nFOO\r\n", b"-ERR unknown subcommand 'FOO'. Try COMMAND HELP.\r\n", false),
    (b"*3\r\n$7\r\nCOMMAND\r\n$5\r\nCOUNT\r\n$1\r\nx\r\n", b"-ERR wrong number of arguments for 'command|count' command\r\n", false),
    (b"*2\r\n$6\r\nDBSIZE\r\n$1\r\nx\r\n", b"-ERR wrong number of arguments for 'dbsize' command\r\n", false),
    (b"*1\r\n$4\r\nTYPE\r\n", b"-ERR wrong number of arguments for 'type' command\r\n", false),
    (b"*1\r\n$3\r\nTTL\r\n", b"-ERR wrong number of arguments for 'ttl' command\r\n", false),
    (b"*1\r\n$6\r\nSTRLEN\r\n", b"-ERR wrong number of arguments for 'strlen' command\r\n", false),
    (b"*2\r\n$6\r\nAPPEND\r\n$1\r\nk\r\n", b"-ERR wrong number of arguments for 'append' command\r\n", false),
    (b"*1\r\n$6\r\nGETDEL\r\n", b"-ERR wrong number of arguments for 'getdel' command\r\n", false),
    (b"*1\r\n$7\r\nPERSIST\r\n", b"-ERR wrong number of arguments for 'persist' command\r\n", false),
    (b"*1\r\n$3\r\nDEL\r\n", b"-ERR wrong number of arguments for 'del' command\r\n", false),
    (b"*1\r\n$6\r\nEXISTS\r\n", b"-ERR wrong number of arguments for 'exists' command\r\n", false),
    (b"*abc\r\n", b"-ERR Protocol error: invalid multibulk length\r\n", true),
    (b"*2\r\nGET\r\n", b"-ERR Protocol error: expected '$', got 'G'\r\n", true),
    (b"*2\r\n$x\r\n", b"-ERR Protocol error: invalid bulk length\r\n", true),
    (b"*2\r\n$-1\r\n", b"-ERR Protocol error: invalid bulk length\r\n", true),
    (b"*99999999999\r\n", b"-ERR Protocol error: invalid multibulk length\r\n", true),
    (b"*2\r\n$600000000\r\n", b"-ERR Protocol error: invalid bulk length\r\n", true),
    (b"ECHO \x22a b\r\n", b"-ERR Protocol error: unbalanced quotes in request\r\n", true),
    (b"ECHO \x22a\x22b\r\n", b"-ERR Protocol error: unbalanced quotes in request\r\n", true),
    (b"*1\r\n$3\r\nfoo\r\n", b"-ERR unknown command 'foo', with args beginning with: \r\n", false),
    (b"*+1\r\n$4\r\nPING\r\n", b"-ERR Protocol error: invalid multibulk length\r\n", true),
    (b"*1\r\n$+4\r\nPING\r\n", b"-ERR Protocol error: invalid bulk length\r\n", true),
    (b"*01\r\n$04\r\nPING\r\n", b"-ERR Protocol error: invalid multibulk length\r\n", true),
    (b"*1\r\n$0\r\n\r\n", b"-ERR unknown command '', with args beginning with: \r\n", false),
    (b"*1 \r\n$4\r\nPING\r\n", b"-ERR Protocol error: invalid multibulk length\r\n", true),
    (b"*1\n$4\nPING\r\n", b"-ERR Protocol error: invalid multibulk length\r\n", true),
    (b"*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$3\r\na b\r\n", b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n", false),
    (b"*4\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$7\r\nSETNAME\r\n$3\r\na b\r\n", b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n", false),
    (b"*3\r\n$6\r\nINCRBY\r\n$1\r\nk\r\n$20\r\n-9223372036854775809\r\n", b"-ERR value is not an integer or out of range\r\n", false),
    (b"*3\r\n$6\r\nINCRBY\r\n$1\r\nk\r\n$2\r\n-0\r\n", b"-ERR value is not an integer or out of range\r\n", false),
    (b"*3\r\n$6\r\nSELECT\r\n$1\r\n0\r\n$1\r\n0\r\n", b"-ERR wrong number of arguments for 'select' command\r\n", false),
    (b"*4\r\n$6\r\nEXPIRE\r\n$1\r\nk\r\n$1\r\nx\r\n$3\r\nFOO\r\n", b"-ERR Unsupported option FOO\r\n", false),
    (b"*4\r\n$6\r\nEXPIRE\r\n$1\r\nk\r\n$20\r\n-9223372036854775808\r\n$3\r\nFOO\r\n", b"-ERR Unsupported option FOO\r\n", false),
];

fn parse_error(input: &[u8]) -> Option<ParseError<'_>> {
    parse(input, &Limits::default()).err()
}

#[test]
fn parse_errors_match_redis_bytes_and_close_rule() {
    let mut failures = Vec::new();
    for &(request, expected, closes) in CAPTURED_ERRORS {
        let Some(error) = parse_error(request) else {
            failures.push(format!(
                "{:?}: parsed without error",
                String::from_utf8_lossy(request)
            ));
            continue;
        };
        let mut reply = Vec::new();
        error.encode(&mut reply);
        if reply != expected || (error.action() == ErrorAction::Close) != closes {
            failures.push(format!(
                "{:?}: got {:?} close={}, redis {:?} close={}",
                String::from_utf8_lossy(request),
                String::from_utf8_lossy(&reply),
                error.action() == ErrorAction::Close,
                String::from_utf8_lossy(expected),
                closes
            ));
        }
        if let ErrorAction::Skip { bytes } = error.action() {
            assert_eq!(
                bytes,
                request.len(),
                "{:?}",
                String::from_utf8_lossy(request)
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Where tailcache answers differently on purpose: (request, our reply, we close).
const DELIBERATE_DIFFERENCES: &[(&[u8], &[u8], bool)] = &[
    // Redis skips the two bytes after bulk data unchecked and parses `b\r\n` as an
    // inline command; a client out of step like this is better disconnected.
    (
        b"*2\r\n$3\r\nfoo\r\n$2\r\na\nb\r\n",
        b"-ERR Protocol error: expected '\\r\\n' after bulk data\r\n",
        true,
    ),
    // redis-server 7.0 has no CLIENT SETINFO; tailcache answers as 7.2 does, because
    // redis-py 5 sends it on connect.
    (
        b"*4\r\n$6\r\nCLIENT\r\n$7\r\nSETINFO\r\n$3\r\nfoo\r\n$1\r\nx\r\n",
        b"-ERR Unrecognized option 'foo'\r\n",
        false,
    ),
    // Inline escapes would need a copy of the argument; Redis unescapes them.
    (b"ECHO \"x\\ny\"\r\n", b"-ERR Protocol error: escapes and quotes inside words are not supported in inline requests\r\n", true),
    (b"ECHO a\"b\"\r\n", b"-ERR Protocol error: escapes and quotes inside words are not supported in inline requests\r\n", true),
    // Redis has no key limit; tailcache's storage has one.
    (b"GET aaaaa\r\n", b"-ERR key too long (max 4 bytes)\r\n", false),
];

#[test]
fn deliberate_differences_give_our_documented_replies() {
    let limits = Limits {
        max_key_len_bytes: 4,
        ..Limits::default()
    };
    for &(request, expected, closes) in DELIBERATE_DIFFERENCES {
        let error = parse(request, &limits).expect_err("must be refused");
        let mut reply = Vec::new();
        error.encode(&mut reply);
        assert_eq!(
            String::from_utf8_lossy(&reply),
            String::from_utf8_lossy(expected)
        );
        assert_eq!(error.action() == ErrorAction::Close, closes);
    }
}

#[test]
fn incomplete_requests_are_not_errors() {
    assert_eq!(
        parse(b"*2\r\n$3\r\nGET\r\n$1\r\nk", &Limits::default()),
        Ok(Parsed::Incomplete {
            needed_bytes_hint: 19
        })
    );
}

/// A client name is at most 512 bytes (CLIENT SETNAME and HELLO SETNAME):
/// before the bound, a 1 MiB name was kept by every connection that sent one.
#[test]
fn client_names_are_bounded() {
    let setname = |name_len: usize| {
        let name = "n".repeat(name_len);
        format!("*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n${name_len}\r\n{name}\r\n").into_bytes()
    };
    let name = "n".repeat(513);
    let hello = format!("*4\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$7\r\nSETNAME\r\n$513\r\n{name}\r\n");
    for request in [setname(513), hello.into_bytes()] {
        let error = parse_error(&request).expect("a 513-byte name is refused");
        let mut reply = Vec::new();
        error.encode(&mut reply);
        assert_eq!(reply, b"-ERR Client names are limited to 512 bytes\r\n");
        assert!(error.action() != ErrorAction::Close);
    }
    assert!(parse_error(&setname(512)).is_none());
}
