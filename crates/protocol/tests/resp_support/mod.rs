//! Helpers shared by the protocol integration tests.
#![allow(dead_code)]

/// Encodes `args` as a RESP multibulk request, as clients send them.
pub fn multibulk(args: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    tailcache_protocol::resp::encode::request(&mut out, args.iter().copied());
    out
}

/// Splits a space-separated command line into a multibulk request.
pub fn command(line: &str) -> Vec<u8> {
    let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    multibulk(&args)
}
