//! The binary protocol beside the text one: `-B` modes, one engine for both, `stat`
//! framing, `-Y` refusal, and a pipelined quiet multiget. (Reply bytes are compared with
//! memcached's in `memcached_binary_differential.rs`.)

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;

use support::{connect, exchange, start_tailcache};

const GET: u8 = 0x00;
const SET: u8 = 0x01;
const NOOP: u8 = 0x0a;
const VERSION: u8 = 0x0b;
const GETKQ: u8 = 0x0d;
const STAT: u8 = 0x10;

fn packet(opcode: u8, extras: &[u8], key: &[u8], value: &[u8], opaque: u32) -> Vec<u8> {
    let body = (extras.len() + key.len() + value.len()) as u32;
    let mut out = vec![0x80, opcode];
    out.extend_from_slice(&(key.len() as u16).to_be_bytes());
    out.push(extras.len() as u8);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&body.to_be_bytes());
    out.extend_from_slice(&opaque.to_be_bytes());
    out.extend_from_slice(&0u64.to_be_bytes());
    out.extend_from_slice(extras);
    out.extend_from_slice(key);
    out.extend_from_slice(value);
    out
}

/// A decoded response: (opcode, status, opaque, key, extras, value).
#[derive(Debug)]
struct Response {
    opcode: u8,
    status: u16,
    opaque: u32,
    key: Vec<u8>,
    extras: Vec<u8>,
    value: Vec<u8>,
}

fn read_response(stream: &mut TcpStream) -> Option<Response> {
    let mut header = [0u8; 24];
    stream.read_exact(&mut header).ok()?;
    assert_eq!(header[0], 0x81, "response magic");
    let key_len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let extras_len = usize::from(header[4]);
    let body_len = u32::from_be_bytes(header[8..12].try_into().unwrap()) as usize;
    let mut body = vec![0; body_len];
    stream.read_exact(&mut body).ok()?;
    Some(Response {
        opcode: header[1],
        status: u16::from_be_bytes([header[6], header[7]]),
        opaque: u32::from_be_bytes(header[12..16].try_into().unwrap()),
        extras: body[..extras_len].to_vec(),
        key: body[extras_len..extras_len + key_len].to_vec(),
        value: body[extras_len + key_len..].to_vec(),
    })
}

fn set_extras(flags: u32) -> Vec<u8> {
    [flags.to_be_bytes(), 0u32.to_be_bytes()].concat()
}

#[test]
fn text_and_binary_clients_share_the_items() {
    let server = start_tailcache(&[]);
    let mut binary = connect(server.memcache);
    binary
        .write_all(&packet(SET, &set_extras(7), b"shared", b"from binary", 1))
        .unwrap();
    assert_eq!(read_response(&mut binary).unwrap().status, 0);
    let mut text = connect(server.memcache);
    assert_eq!(
        exchange(
            &mut text,
            b"get shared\r\nset other 3 0 4\r\ntext\r\n",
            b"STORED\r\n"
        ),
        b"VALUE shared 7 11\r\nfrom binary\r\nEND\r\nSTORED\r\n"
    );
    binary
        .write_all(&packet(GET, &[], b"other", &[], 2))
        .unwrap();
    let reply = read_response(&mut binary).unwrap();
    assert_eq!((reply.status, reply.opaque), (0, 2));
    assert_eq!(reply.extras, 3u32.to_be_bytes());
    assert_eq!(reply.value, b"text");
}

#[test]
fn a_quiet_multiget_answers_hits_then_the_noop() {
    let server = start_tailcache(&[]);
    let mut stream = connect(server.memcache);
    let mut batch = Vec::new();
    for (i, key) in [b"a".as_slice(), b"b", b"c"].iter().enumerate() {
        if i != 1 {
            batch.extend(packet(SET, &set_extras(0), key, key, 0));
        }
    }
    stream.write_all(&batch).unwrap();
    for _ in 0..2 {
        assert_eq!(read_response(&mut stream).unwrap().status, 0);
    }
    let mut batch = Vec::new();
    for (i, key) in [b"a".as_slice(), b"b", b"c"].iter().enumerate() {
        batch.extend(packet(GETKQ, &[], key, &[], i as u32));
    }
    batch.extend(packet(NOOP, &[], &[], &[], 99));
    stream.write_all(&batch).unwrap();
    let replies: Vec<Response> = (0..3).map_while(|_| read_response(&mut stream)).collect();
    let seen: Vec<(u32, &[u8], &[u8])> = replies
        .iter()
        .map(|r| (r.opaque, r.key.as_slice(), r.value.as_slice()))
        .collect();
    assert_eq!(
        seen,
        [(0, &b"a"[..], &b"a"[..]), (2, b"c", b"c"), (99, b"", b"")]
    );
    assert_eq!(replies[2].opcode, NOOP);
}

#[test]
fn stat_sends_one_packet_per_statistic_then_an_empty_one() {
    let server = start_tailcache(&[]);
    let mut stream = connect(server.memcache);
    for (group, must_have) in [(&b""[..], &b"cmd_get"[..]), (b"settings", b"maxconns")] {
        stream.write_all(&packet(STAT, &[], group, &[], 5)).unwrap();
        let mut names = Vec::new();
        loop {
            let reply = read_response(&mut stream).expect("stat reply");
            assert_eq!((reply.opcode, reply.status, reply.opaque), (STAT, 0, 5));
            if reply.key.is_empty() {
                assert!(reply.value.is_empty(), "the last packet is empty");
                break;
            }
            names.push(reply.key);
        }
        assert!(names.len() > 10, "{} statistics", names.len());
        assert!(names.iter().any(|n| n == must_have));
    }
    stream
        .write_all(&packet(STAT, &[], b"no-such-group", &[], 6))
        .unwrap();
    let reply = read_response(&mut stream).unwrap();
    assert_eq!(
        (reply.status, reply.value.as_slice()),
        (1, &b"Not found"[..])
    );
}

#[test]
fn dash_b_binary_closes_a_text_client_and_ascii_answers_binary_as_text() {
    let binary_only = start_tailcache(&["-B", "binary"]);
    let mut text = connect(binary_only.memcache);
    text.write_all(b"version\r\n").unwrap();
    let mut rest = Vec::new();
    let _ = text.read_to_end(&mut rest);
    assert!(rest.is_empty(), "closed without a reply: {rest:?}");
    let mut binary = connect(binary_only.memcache);
    binary
        .write_all(&packet(VERSION, &[], &[], &[], 1))
        .unwrap();
    assert!(read_response(&mut binary)
        .unwrap()
        .value
        .starts_with(b"1.6.18"));

    let ascii_only = start_tailcache(&["-B", "ascii"]);
    let mut stream = connect(ascii_only.memcache);
    let mut noop = packet(NOOP, &[], &[], &[], 1);
    noop.extend_from_slice(b"\r\nversion\r\n");
    stream.write_all(&noop).unwrap();
    let reply = support::read_until(&mut stream, b"\r\n");
    assert_ne!(reply.first(), Some(&0x81), "no binary reply under -B ascii");
}

#[test]
fn a_binary_client_is_refused_while_authentication_is_required() {
    let dir = std::env::temp_dir().join(format!("tc-binary-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let auth_file = dir.join("auth");
    std::fs::write(&auth_file, "user:secret\n").unwrap();
    let server = start_tailcache(&["-Y", auth_file.to_str().unwrap()]);
    let mut stream = connect(server.memcache);
    stream.write_all(&packet(GET, &[], b"k", &[], 3)).unwrap();
    let reply = read_response(&mut stream).unwrap();
    assert_eq!((reply.status, reply.opaque), (0x20, 3));
    assert_eq!(reply.value, b"Auth failure.");
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    assert!(rest.is_empty(), "then closed");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_too_large_set_drops_the_old_value_however_its_packet_arrives() {
    let server = start_tailcache(&[]);
    let mut stream = connect(server.memcache);
    stream
        .write_all(&packet(SET, &set_extras(0), b"stale", b"old", 1))
        .unwrap();
    assert_eq!(read_response(&mut stream).unwrap().status, 0);
    // The header alone first: the refusal must still find the key that follows.
    let too_large = packet(SET, &set_extras(0), b"stale", &vec![b'x'; 2 << 20], 2);
    stream.write_all(&too_large[..24]).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(100));
    stream.write_all(&too_large[24..]).unwrap();
    let refused = read_response(&mut stream).unwrap();
    assert_eq!((refused.status, refused.opaque), (3, 2), "Too large.");
    stream
        .write_all(&packet(GET, &[], b"stale", &[], 3))
        .unwrap();
    assert_eq!(
        read_response(&mut stream).unwrap().status,
        1,
        "old value gone"
    );
}
