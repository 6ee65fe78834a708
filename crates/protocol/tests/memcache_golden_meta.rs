//! Golden tests for the meta commands: inputs sent to memcached 1.6.18 on fresh keys and
//! the exact bytes it answered. Where tailcache deliberately differs (flags `E` and `x`,
//! which protocol.txt documents but 1.6.18 rejects), the test says so.

mod memcache_support;

use memcache_support::check_golden;

/// Meta commands never close the connection, so the golden check expects it open.
fn check(input: &[u8], memcached_output: &[u8]) {
    check_golden(input, memcached_output, false);
}

fn long_key_line(command: &[u8], rest: &[u8]) -> Vec<u8> {
    [command, b" ", &[b'k'; 251], rest].concat()
}

const BAD_LINE: &[u8] = b"CLIENT_ERROR bad command line format\r\n";
const BAD_TOKEN: &[u8] = b"CLIENT_ERROR bad token in command line format\r\n";
const INVALID_FLAG: &[u8] = b"CLIENT_ERROR invalid flag\r\n";
const DUPLICATE_FLAG: &[u8] = b"CLIENT_ERROR duplicate flag\r\n";
const INVALID_OR_DUPLICATE: &[u8] = b"CLIENT_ERROR invalid or duplicate flag\r\n";

#[test]
fn noop_and_missing_keys() {
    check(b"mn\r\n", b"MN\r\n");
    check(b"mn x y\r\n", b"MN\r\n");
    check(b"mg\r\n", b"ERROR\r\n");
    check(b"ms\r\n", b"ERROR\r\n");
    check(b"md\r\n", b"ERROR\r\n");
    check(b"ma\r\n", b"ERROR\r\n");
    check(b"mz a\r\n", b"ERROR\r\n");
    check(b"me\r\n", BAD_LINE);
}

#[test]
fn meta_get() {
    check(b"mg zz\r\n", b"EN\r\n");
    check(b"mg zz v\r\n", b"EN\r\n");
    check(b"mg  a  v\r\n", b"EN\r\n");
    check(b"mg a v \r\n", b"EN\r\n");
    check(b"mg zz q\r\nmn\r\n", b"MN\r\n");
    check(b"mg zz k q\r\n", b"");
    check(b"mg zz k Oxx\r\n", b"EN kzz Oxx\r\n");
    check(b"mg a I\r\n", b"EN\r\n");
    check(b"mg a u\r\n", b"EN\r\n");
    check(b"mg a T-1 v\r\n", b"EN\r\n");
    check(b"mg a kvtf\r\n", b"EN ka\r\n");
    check(b"mg a zz\r\n", INVALID_FLAG);
    check(b"mg a !\r\n", INVALID_FLAG);
    check(b"mg a v v\r\n", DUPLICATE_FLAG);
    check(b"mg a P L Pfoo Lbar v\r\n", DUPLICATE_FLAG);
    check(
        b"mg a O12345678901234567890123456789012\r\n",
        b"CLIENT_ERROR opaque token too long\r\n",
    );
    check(
        b"mg a O1234567890123456789012345678901\r\n",
        b"EN O1234567890123456789012345678901\r\n",
    );
    check(b"mg a b\r\n", b"CLIENT_ERROR error decoding key\r\n");
    check(b"mg a== b\r\n", b"CLIENT_ERROR error decoding key\r\n");
    for flag in ["T", "Tx", "N", "Nx", "C", "Cx", "R"] {
        check(format!("mg a {flag}\r\n").as_bytes(), BAD_TOKEN);
    }
    check(b"mg n Nx Rx\r\n", BAD_TOKEN);
    check(
        b"mg a Jx\r\n",
        b"CLIENT_ERROR invalid numeric initial value\r\n",
    );
    check(
        b"mg a Dx\r\n",
        b"CLIENT_ERROR invalid numeric delta value\r\n",
    );
    check(b"mg a\x80\r\n", b"EN\r\n");
    check(b"mg a \x80\r\n", DUPLICATE_FLAG);
    check(b"mg a \x7f\r\n", DUPLICATE_FLAG);
    check(b"mg n Tx zz\r\n", INVALID_FLAG);
    check(&long_key_line(b"mg", b" v\r\n"), BAD_LINE);
    check(
        &[&b"mg "[..], &b"YWJj".repeat(63), b" b\r\n"].concat(),
        BAD_LINE,
    );
}

#[test]
fn meta_token_count_limit() {
    let numbers = |n: usize| (1..=n).map(|i| i.to_string()).collect::<Vec<_>>().join(" ");
    check(format!("mg n {}\r\n", numbers(17)).as_bytes(), INVALID_FLAG);
    check(
        format!("mg n {}\r\n", numbers(18)).as_bytes(),
        b"CLIENT_ERROR options flags are too long\r\n",
    );
    check(
        format!("ms n 1 {}\r\nx\r\n", numbers(16)).as_bytes(),
        INVALID_FLAG,
    );
    check(
        format!("ms n 1 {}\r\nx\r\n", numbers(17)).as_bytes(),
        b"CLIENT_ERROR options flags too long\r\nERROR\r\n",
    );
    check(
        format!("md n {}\r\n", numbers(18)).as_bytes(),
        b"CLIENT_ERROR options flags too long\r\n",
    );
    check(
        format!("ma n {}\r\n", numbers(18)).as_bytes(),
        b"CLIENT_ERROR options flags too long\r\n",
    );
}

#[test]
fn meta_set() {
    check(b"ms a 2\r\nhi\r\n", b"HD\r\n");
    check(b"ms a 2 q\r\nhi\r\nmn\r\n", b"MN\r\n");
    check(b"ms a 2 I\r\nhi\r\n", b"HD\r\n");
    check(b"ms a 2 v\r\nhi\r\n", b"HD\r\n");
    check(b"ms a 2 N5\r\nhi\r\n", b"HD\r\n");
    check(b"ms a 2 F4294967296\r\nhi\r\n", b"HD\r\n");
    check(b"ms a\r\n", BAD_LINE);
    check(
        b"ms a x\r\nhi\r\n",
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    );
    check(
        b"ms a -1\r\nhi\r\n",
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    );
    check(
        &long_key_line(b"ms", b" 2\r\nhi\r\nmn\r\n"),
        b"CLIENT_ERROR bad command line format\r\nERROR\r\nMN\r\n",
    );
    check(
        &long_key_line(b"ms", b" 2 q\r\nhi\r\nmn\r\n"),
        b"CLIENT_ERROR bad command line format\r\nERROR\r\nMN\r\n",
    );
    // Errors found after the length swallow the data block.
    check(
        b"ms a 2 MX\r\nhi\r\n",
        b"CLIENT_ERROR invalid mode for ms M token\r\n",
    );
    check(
        b"ms n 2 Ma\r\nhi\r\n",
        b"CLIENT_ERROR invalid mode for ms M token\r\n",
    );
    check(
        b"ms n 2 Me\r\nhi\r\n",
        b"CLIENT_ERROR invalid mode for ms M token\r\n",
    );
    check(
        b"ms a 2 Ms\r\nhi\r\n",
        b"CLIENT_ERROR invalid mode for ms M token\r\n",
    );
    check(
        b"ms a 2 M\r\nhi\r\n",
        b"CLIENT_ERROR incorrect length for M token\r\n",
    );
    check(
        b"ms a 2 MEE\r\nhi\r\n",
        b"CLIENT_ERROR incorrect length for M token\r\n",
    );
    check(b"ms a 2 T\r\nhi\r\n", BAD_TOKEN);
    check(b"ms a 2 Tx\r\nhi\r\n", BAD_TOKEN);
    check(b"ms a 2 F\r\nhi\r\n", BAD_LINE);
    check(b"ms a 2 F-1\r\nhi\r\n", BAD_LINE);
    check(b"ms a 2 z\r\nhi\r\n", INVALID_FLAG);
    check(b"ms a 2 S2\r\nhi\r\n", INVALID_FLAG);
    check(b"ms n 2 T1 Tx\r\nhi\r\n", DUPLICATE_FLAG);
    check(b"ms n 2 Tx F\r\nhi\r\n", BAD_TOKEN);
    check(b"ms n 2 F Tx\r\nhi\r\n", BAD_TOKEN);
    check(b"ms n 2 Tx MX\r\nhi\r\n", BAD_TOKEN);
    check(b"ms n 2 MX Tx\r\nhi\r\n", BAD_TOKEN);
    check(
        b"ms a 2 c k Oxx s b\r\nhi\r\n",
        b"CLIENT_ERROR error decoding key\r\n",
    );
    check(
        b"ms n 2 b\r\n!!\r\nmn\r\n",
        b"CLIENT_ERROR error decoding key\r\nMN\r\n",
    );
    check(
        b"ms n 1 O12345678901234567890123456789012\r\nx\r\n",
        b"CLIENT_ERROR opaque token too long\r\n",
    );
    // A bad data chunk is reported even in quiet mode, then the rest is read as commands.
    check(
        b"ms a 2\r\nhiya\r\n",
        b"CLIENT_ERROR bad data chunk\r\nERROR\r\n",
    );
    check(
        b"ms n 2 q\r\nhiya\r\nmn\r\n",
        b"CLIENT_ERROR bad data chunk\r\nERROR\r\nMN\r\n",
    );
    let value = vec![b'x'; 2_000_000];
    for quiet in ["", " q"] {
        let input = [
            format!("ms n 2000000{quiet}\r\n").as_bytes(),
            &value,
            b"\r\nmn\r\n",
        ]
        .concat();
        check(&input, b"SERVER_ERROR object too large for cache\r\nMN\r\n");
    }
}

#[test]
fn meta_delete() {
    check(b"md zz\r\n", b"NF\r\n");
    check(b"md zz q\r\nmn\r\n", b"NF\r\nMN\r\n");
    check(b"md a k Oxx\r\n", b"NF ka Oxx\r\n");
    check(b"md a C1\r\n", b"NF\r\n");
    check(b"md a v\r\n", b"NF\r\n");
    check(b"md a z\r\n", INVALID_OR_DUPLICATE);
    check(b"md a 5\r\n", INVALID_OR_DUPLICATE);
    check(b"md a Tx\r\n", INVALID_OR_DUPLICATE);
    check(
        b"md n O12345678901234567890123456789012\r\n",
        b"CLIENT_ERROR opaque token too long\r\n",
    );
    check(
        &long_key_line(b"md", b" q\r\nmn\r\n"),
        b"CLIENT_ERROR bad command line format\r\nMN\r\n",
    );
}

#[test]
fn meta_arithmetic() {
    check(b"ma zz\r\n", b"NF\r\n");
    check(b"ma zz q\r\nmn\r\n", b"NF\r\nMN\r\n");
    check(b"ma zz2 J13 v\r\n", b"NF\r\n");
    check(
        b"ma n MI\r\nma n M+\r\nma n MD\r\nma n M-\r\n",
        b"NF\r\nNF\r\nNF\r\nNF\r\n",
    );
    for flags in ["Dx", "D", "D-1", "Jx", "z"] {
        check(format!("ma n {flags}\r\n").as_bytes(), INVALID_OR_DUPLICATE);
    }
    for mode in ["MX", "Mi", "Md"] {
        check(
            format!("ma n {mode}\r\n").as_bytes(),
            b"CLIENT_ERROR invalid mode for ma M token\r\n",
        );
    }
    check(&long_key_line(b"ma", b"\r\n"), BAD_LINE);
}

#[test]
fn meta_debug() {
    check(b"me a\r\n", b"EN\r\n");
    check(b"me a x\r\n", b"EN\r\n");
    check(b"me YQ== b\r\n", b"EN\r\n");
    check(b"me a b\r\n", BAD_LINE);
    check(b"me a! b\r\n", BAD_LINE);
    check(b"me a b c\r\n", BAD_LINE);
    check(&long_key_line(b"me", b"\r\n"), BAD_LINE);
}

#[test]
fn flags_from_newer_protocol_text_are_accepted() {
    // memcached 1.6.18 answers `CLIENT_ERROR invalid flag` here; protocol.txt (and newer
    // memcached) documents E (new cas) for mg/ms/md/ma and x (drop value) for md.
    check(b"mg a E5\r\n", b"EN\r\n");
    check(b"ms a 2 E55 c\r\nhi\r\n", b"HD\r\n");
    check(b"md a x\r\n", b"NF\r\n");
}
