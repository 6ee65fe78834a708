//! SIGTERM while clients are writing: the server exits 0 in bounded time,
//! and every client that stays connected gets a whole reply for every
//! request the server took in — no acknowledged write loses its reply, no
//! reply is cut. (Memory is not persistent; "not lost" means the reply to
//! each request read before close was flushed.)

mod support;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{connect, start_tailcache};

const CLIENTS: usize = 8;
/// Requests pipelined in one write.
const BATCH: usize = 16;
const REPLY: &[u8] = b"STORED\r\n";

/// What one client saw.
struct Outcome {
    batches_sent: usize,
    replies: usize,
    /// Bytes after the last whole reply when the server closed.
    trailing_bytes: Vec<u8>,
}

fn client(addr: std::net::SocketAddr, id: usize, stop: Arc<AtomicBool>) -> Outcome {
    let mut stream = connect(addr);
    let mut batch = Vec::new();
    for n in 0..BATCH {
        batch.extend_from_slice(format!("set c{id}:{n} 0 0 64\r\n").as_bytes());
        batch.extend_from_slice(&[b'x'; 64]);
        batch.extend_from_slice(b"\r\n");
    }
    let mut outcome = Outcome {
        batches_sent: 0,
        replies: 0,
        trailing_bytes: Vec::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        if stream.write_all(&batch).is_err() {
            break;
        }
        outcome.batches_sent += 1;
        let mut reply = Vec::new();
        let mut chunk = [0u8; 4096];
        while reply.len() < BATCH * REPLY.len() {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => {
                    outcome.replies += reply.len() / REPLY.len();
                    outcome.trailing_bytes =
                        reply[reply.len() / REPLY.len() * REPLY.len()..].to_vec();
                    assert!(
                        reply.chunks(REPLY.len()).all(|r| REPLY.starts_with(r)),
                        "garbled: {reply:?}"
                    );
                    return outcome;
                }
                Ok(n) => reply.extend_from_slice(&chunk[..n]),
            }
        }
        assert!(
            reply.chunks(REPLY.len()).all(|r| r == REPLY),
            "garbled: {reply:?}"
        );
        outcome.replies += BATCH;
    }
    outcome
}

#[test]
fn sigterm_under_load_flushes_every_reply() {
    let mut server = start_tailcache(&["-m", "64"]);
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..CLIENTS)
        .map(|id| {
            let stop = stop.clone();
            let addr = server.memcache;
            std::thread::spawn(move || client(addr, id, stop))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    server.process.signal("TERM");
    let status = server
        .process
        .wait_exit(Duration::from_secs(15))
        .expect("tailcache did not exit within 15 s of SIGTERM");
    stop.store(true, Ordering::Relaxed);
    assert!(status.success(), "exit status {status:?}");
    let mut total_replies = 0;
    for handle in handles {
        let outcome = handle.join().expect("client thread");
        assert!(
            outcome.trailing_bytes.is_empty(),
            "a reply was cut: {:?}",
            outcome.trailing_bytes
        );
        // Every batch but the one in flight at close is answered whole;
        // the last is answered whole or (if it was sent after the server
        // stopped reading) not at all.
        let answered_batches = outcome.replies / BATCH;
        assert_eq!(
            outcome.replies % BATCH,
            0,
            "a batch read before close was partly answered"
        );
        assert!(
            answered_batches + 1 >= outcome.batches_sent,
            "sent {} batches, {} answered",
            outcome.batches_sent,
            answered_batches
        );
        total_replies += outcome.replies;
    }
    assert!(
        total_replies > 0,
        "no load reached the server before SIGTERM"
    );
}

/// Requests each client has fully written into the socket before the
/// signal: these were sent before the server closed, so every one must be
/// answered.
const REQUESTS_IN_FLIGHT: usize = 2000;

#[test]
fn sigterm_answers_every_request_already_sent() {
    let mut server = start_tailcache(&["-m", "64"]);
    let mut streams: Vec<_> = (0..CLIENTS).map(|_| connect(server.memcache)).collect();
    for stream in &mut streams {
        // Accepted and served once before the burst.
        stream.write_all(b"version\r\n").unwrap();
        support::read_until(stream, b"\r\n");
    }
    let burst = b"set k 0 0 8\r\nabcdefgh\r\n".repeat(REQUESTS_IN_FLIGHT);
    for stream in &mut streams {
        stream.write_all(&burst).unwrap();
    }
    // Every byte is in the server's sockets now; the server is still
    // working through them when the signal lands.
    server.process.signal("TERM");
    let status = server
        .process
        .wait_exit(Duration::from_secs(15))
        .expect("tailcache did not exit within 15 s of SIGTERM");
    assert!(status.success(), "exit status {status:?}");
    for (index, stream) in streams.iter_mut().enumerate() {
        let replies = support::read_until(stream, b"\0never\0");
        let whole = replies.len() / REPLY.len();
        assert_eq!(
            (whole, replies.len() % REPLY.len()),
            (REQUESTS_IN_FLIGHT, 0),
            "client {index}: every request sent before the signal is answered, none cut"
        );
    }
}
