//! Reply encoders produce exactly the bytes redis-server 7.0.15 sends (captured), in
//! RESP2 and RESP3, straight into the caller's buffer.

use tailcache_protocol::resp::command_table::{
    command_specs, encode_command_count, encode_command_docs, encode_command_info,
    encode_command_table,
};
use tailcache_protocol::resp::encode;
use tailcache_protocol::resp::{
    encode_hello_reply, parse, Args, Command, ConnectionCommand, HelloReply, Limits, Parsed,
    ProtocolVersion, ServerError,
};

const RESP2: ProtocolVersion = ProtocolVersion::Resp2;
const RESP3: ProtocolVersion = ProtocolVersion::Resp3;

fn encoded(write: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = b"prefix".to_vec();
    write(&mut out);
    assert!(
        out.starts_with(b"prefix"),
        "encoders append, never overwrite"
    );
    out.split_off(6)
}

#[test]
fn scalars() {
    assert_eq!(encoded(encode::ok), b"+OK\r\n");
    assert_eq!(
        encoded(|out| encode::simple_string(out, b"PONG")),
        b"+PONG\r\n"
    );
    assert_eq!(
        encoded(|out| encode::simple_string(out, b"a\r\nb")),
        b"+a  b\r\n"
    );
    assert_eq!(encoded(|out| encode::integer(out, -2)), b":-2\r\n");
    assert_eq!(
        encoded(|out| encode::integer(out, i64::MIN)),
        b":-9223372036854775808\r\n"
    );
    assert_eq!(encoded(|out| encode::bulk(out, b"v")), b"$1\r\nv\r\n");
    assert_eq!(encoded(|out| encode::bulk(out, b"")), b"$0\r\n\r\n");
    assert_eq!(
        encoded(|out| encode::error(out, b"ERR x\ny")),
        b"-ERR x y\r\n"
    );
    let streamed = encoded(|out| {
        encode::bulk_header(out, 3);
        out.extend_from_slice(b"abc");
        encode::bulk_end(out);
    });
    assert_eq!(streamed, b"$3\r\nabc\r\n");
}

#[test]
fn version_dependent_values_match_redis() {
    // GET of a missing key: `$-1` in RESP2, `_` in RESP3 (captured).
    assert_eq!(encoded(|out| encode::null(out, RESP2)), b"$-1\r\n");
    assert_eq!(encoded(|out| encode::null(out, RESP3)), b"_\r\n");
    assert_eq!(encoded(|out| encode::null_array(out, RESP2)), b"*-1\r\n");
    assert_eq!(encoded(|out| encode::null_array(out, RESP3)), b"_\r\n");
    // MGET a missing under RESP3: `*2\r\n_\r\n_\r\n` (captured).
    let mget = encoded(|out| {
        encode::array_header(out, 2);
        encode::null(out, RESP3);
        encode::null(out, RESP3);
    });
    assert_eq!(mget, b"*2\r\n_\r\n_\r\n");
    // INFO keyspace on an empty db: `$0\r\n\r\n` and `=4\r\ntxt:\r\n` (captured).
    assert_eq!(
        encoded(|out| encode::verbatim_text(out, b"", RESP2)),
        b"$0\r\n\r\n"
    );
    assert_eq!(
        encoded(|out| encode::verbatim_text(out, b"", RESP3)),
        b"=4\r\ntxt:\r\n"
    );
    assert_eq!(encoded(|out| encode::map_header(out, 7, RESP3)), b"%7\r\n");
    assert_eq!(encoded(|out| encode::map_header(out, 7, RESP2)), b"*14\r\n");
    assert_eq!(encoded(|out| encode::set_header(out, 2, RESP3)), b"~2\r\n");
    assert_eq!(encoded(|out| encode::set_header(out, 2, RESP2)), b"*2\r\n");
    assert_eq!(encoded(|out| encode::boolean(out, true, RESP3)), b"#t\r\n");
    assert_eq!(encoded(|out| encode::boolean(out, false, RESP2)), b":0\r\n");
}

#[test]
fn hello_replies_match_redis_bytes() {
    // HELLO 3 and HELLO 2 from redis-server 7.0.15 (captured).
    let resp3: &[u8] = b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:64\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n";
    let resp2: &[u8] = b"*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:2\r\n$2\r\nid\r\n:6\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n";
    let reply = |client_id| HelloReply {
        server_name: b"redis",
        server_version: b"7.0.15",
        client_id,
    };
    assert_eq!(
        encoded(|out| encode_hello_reply(out, &reply(64), RESP3)),
        resp3
    );
    assert_eq!(
        encoded(|out| encode_hello_reply(out, &reply(6), RESP2)),
        resp2
    );
}

#[test]
fn server_errors_match_captured_bytes() {
    let cases: &[(ServerError, &[u8])] = &[
        (ServerError::ValueNotInteger, b"-ERR value is not an integer or out of range\r\n"),
        (ServerError::WrongPass, b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"),
        (ServerError::AuthNotConfigured, b"-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"),
        (ServerError::InvalidExpireTime { command: "pexpire" }, b"-ERR invalid expire time in 'pexpire' command\r\n"),
        (ServerError::InvalidExpireTime { command: "set" }, b"-ERR invalid expire time in 'set' command\r\n"),
        (ServerError::NoAuth, b"-NOAUTH Authentication required.\r\n"),
        (ServerError::IncrementOverflow, b"-ERR increment or decrement would overflow\r\n"),
    ];
    for (error, expected) in cases {
        assert_eq!(encoded(|out| error.encode(out)), *expected, "{error:?}");
    }
}

fn command_args(line: &'static str) -> Args<'static> {
    let request: &'static [u8] = Box::leak(format!("{line}\r\n").into_bytes().into_boxed_slice());
    match parse(request, &Limits::default()) {
        Ok(Parsed::Complete {
            request: Command::Connection(ConnectionCommand::CommandInfo { names }),
            ..
        })
        | Ok(Parsed::Complete {
            request: Command::Connection(ConnectionCommand::CommandDocs { names }),
            ..
        }) => names,
        other => panic!("{other:?}"),
    }
}

#[test]
fn command_table_replies() {
    assert_eq!(
        encoded(encode_command_count),
        format!(":{}\r\n", command_specs().len()).into_bytes()
    );
    // COMMAND INFO of an unknown name is a null element (captured: `*1\r\n$-1\r\n`).
    assert_eq!(
        encoded(|out| encode_command_info(out, command_args("COMMAND INFO FOO"), RESP2)),
        b"*1\r\n$-1\r\n"
    );
    let get = encoded(|out| encode_command_info(out, command_args("COMMAND INFO get"), RESP2));
    assert_eq!(
        get,
        b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*0\r\n*0\r\n*0\r\n*0\r\n"
    );
    let get3 = encoded(|out| encode_command_info(out, command_args("COMMAND INFO GET"), RESP3));
    assert!(get3.starts_with(b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n"));
    let docs =
        encoded(|out| encode_command_docs(out, command_args("COMMAND DOCS get nosuch"), RESP3));
    assert_eq!(docs, b"%1\r\n$3\r\nget\r\n%0\r\n");
    let table = encoded(|out| encode_command_table(out, RESP2));
    assert!(table.starts_with(format!("*{}\r\n*10\r\n", command_specs().len()).as_bytes()));
    // Every command the parser knows is in the table, with a lowercase name.
    for spec in command_specs() {
        assert_eq!(spec.name, spec.name.to_lowercase());
        assert!(table
            .windows(spec.name.len() + 2)
            .any(|w| w == format!("{}\r\n", spec.name).as_bytes()));
    }
}
