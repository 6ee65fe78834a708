//! The HTTP client against a minimal keep-alive responder written here: PUT stores
//! (204), GET answers 200 with the value or 404, DELETE answers 204 or 404.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::Duration;
use tailcache_bench::config::{Load, RunConfig};
use tailcache_bench::driver::run;
use tailcache_bench::protocol::Protocol;
use tailcache_bench::workload::Mix;

/// Serves one connection until it closes; values live per connection (enough here).
fn serve(stream: std::net::TcpStream) -> std::io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut store: HashMap<String, Vec<u8>> = HashMap::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut words = line.split_whitespace();
        let (method, path) = (
            words.next().unwrap_or("").to_string(),
            words.next().unwrap_or("").to_string(),
        );
        let key = path.split('?').next().unwrap_or("").to_string();
        let mut length = 0;
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            if line.trim().is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let reply = match (method.as_str(), store.get(&key)) {
            ("PUT", _) => {
                store.insert(key, body);
                "HTTP/1.1 204 No Content\r\n\r\n".to_string()
            }
            ("GET", Some(v)) => format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{}",
                v.len(),
                String::from_utf8_lossy(v)
            ),
            ("DELETE", Some(_)) => {
                store.remove(&key);
                "HTTP/1.1 204 No Content\r\n\r\n".to_string()
            }
            _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_string(),
        };
        writer.write_all(reply.as_bytes())?;
    }
}

#[test]
fn http_get_put_delete_are_framed_and_counted() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            std::thread::spawn(move || serve(s));
        }
    });
    let mut c = RunConfig::defaults(addr);
    c.protocol = Protocol::Http;
    c.load = Load::Closed { pipeline: 4 };
    c.connections = 1;
    c.warmup = Duration::ZERO;
    c.duration = Duration::from_millis(500);
    c.workload.keys = 50;
    c.workload.ttl_s = 60;
    c.workload.mix = Mix::parse("get=60,set=30,delete=10").unwrap();
    let r = run(&c, &mut |_| {}).unwrap();
    let k = r.counters;
    assert_eq!(k.errors(), 0, "{k:?}");
    assert!(k.completed > 200 && k.hits > 0 && k.misses > 0, "{k:?}");
}
