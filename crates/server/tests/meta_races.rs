//! Clients racing on one key over the wire: compound meta commands are one engine
//! step, so exactly one client wins a vivified key and concurrent increments (plain
//! and compare-and-set loops) never lose an update.

mod support;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Barrier;
use support::{connect, read_until, start_tailcache};

/// Sends one command and reads its one-line reply (and the value after `VA <size>`).
fn ask(stream: &mut std::net::TcpStream, command: &str) -> String {
    stream.write_all(command.as_bytes()).expect("send");
    let mut reply = read_until(stream, b"\r\n");
    if reply.starts_with(b"VA ") {
        let line_end = reply.windows(2).position(|w| w == b"\r\n").expect("line") + 2;
        let size: usize = std::str::from_utf8(&reply[3..line_end - 2])
            .expect("text")
            .split(' ')
            .next()
            .and_then(|size| size.parse().ok())
            .expect("VA size");
        while reply.len() < line_end + size + 2 {
            reply.extend(read_until(stream, b"\r\n"));
        }
    }
    String::from_utf8(reply).expect("text reply")
}

/// Each of `clients` connections runs `work` at once (after a barrier); returns what
/// each returned.
fn race<T: Send>(
    addr: SocketAddr,
    clients: usize,
    work: impl Fn(&mut std::net::TcpStream) -> T + Sync,
) -> Vec<T> {
    let barrier = Barrier::new(clients);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                scope.spawn(|| {
                    let mut stream = connect(addr);
                    barrier.wait();
                    work(&mut stream)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client"))
            .collect()
    })
}

#[test]
fn exactly_one_client_wins_a_vivified_key() {
    let server = start_tailcache(&[]);
    for round in 0..40 {
        let command = format!("mg race:{round} N30 v c\r\n");
        let replies = race(server.memcache, 8, |stream| ask(stream, &command));
        let winners = replies
            .iter()
            .filter(|reply| reply.split_whitespace().any(|flag| flag == "W"))
            .count();
        assert_eq!(winners, 1, "round {round}: {replies:?}");
        let sent_z = replies
            .iter()
            .filter(|reply| reply.split_whitespace().any(|flag| flag == "Z"))
            .count();
        assert_eq!(sent_z, 7, "the others see the token taken: {replies:?}");
    }
}

#[test]
fn concurrent_meta_increments_sum_exactly() {
    let server = start_tailcache(&[]);
    let each = 400;
    race(server.memcache, 4, |stream| {
        for _ in 0..each {
            let reply = ask(stream, "ma counter N0 J0\r\n");
            assert!(reply.starts_with("HD"), "{reply}");
        }
    });
    let mut stream = connect(server.memcache);
    // The first ma created the counter at 0 without applying its delta.
    assert_eq!(
        ask(&mut stream, "mg counter v\r\n"),
        format!("VA 4\r\n{}\r\n", 4 * each - 1)
    );
}

#[test]
fn compare_and_set_loops_over_the_wire_lose_nothing() {
    let server = start_tailcache(&[]);
    let mut stream = connect(server.memcache);
    assert_eq!(ask(&mut stream, "set n 0 0 1\r\n0\r\n"), "STORED\r\n");
    let each = 200;
    race(server.memcache, 4, |stream| {
        for _ in 0..each {
            loop {
                stream.write_all(b"gets n\r\n").expect("send");
                // VALUE n 0 <len> <cas>\r\n<digits>\r\nEND\r\n
                let reply = String::from_utf8(read_until(stream, b"END\r\n")).expect("text");
                let mut lines = reply.lines();
                let header: Vec<&str> = lines.next().expect("VALUE line").split(' ').collect();
                let value: u64 = lines.next().expect("value").parse().expect("number");
                let next = (value + 1).to_string();
                let cas = format!("cas n 0 0 {} {}\r\n{next}\r\n", next.len(), header[4]);
                match ask(stream, &cas).as_str() {
                    "STORED\r\n" => break,
                    "EXISTS\r\n" => continue,
                    other => panic!("cas answered {other}"),
                }
            }
        }
    });
    stream.write_all(b"get n\r\n").expect("send");
    let reply = String::from_utf8(read_until(&mut stream, b"END\r\n")).expect("text");
    assert!(
        reply.contains(&format!("\r\n{}\r\nEND", 4 * each)),
        "{reply}"
    );
}
