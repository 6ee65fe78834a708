//! UDP listeners, as memcached serves them (`-U`): each datagram starts with an
//! 8-byte frame header (request id, sequence number, datagram count, reserved 0)
//! and holds whole requests; a request spread over several datagrams is
//! dropped. As in memcached, each reply is a message of its own (and each key
//! of a multiget, the last one carrying `END`): it goes back to the sender in
//! datagrams of at most 1400 bytes, numbered from 0 with the message's count.
//! (memcached also sends an empty first message when a multiget's first key
//! misses; tailcache sends nothing for an empty reply.)
//!
//! Each datagram is served by a connection of its own, made and dropped around
//! it, so nothing one datagram leaves behind (a half request, its protocol)
//! reaches the next. Replies are bounded: past [`REPLY_BUDGET_BYTES`] for one
//! datagram the rest of its requests are dropped (UDP clients ask for few keys,
//! and an unbounded reply would make the port an amplifier).

use std::io;
use std::panic::{self, AssertUnwindSafe};

use super::Worker;
use crate::listener::PerWorkerSocket;
use crate::service::{CloseCause, Service, TurnBudget};

/// memcached's frame header.
const FRAME_HEADER_BYTES: usize = 8;
/// memcached's largest reply datagram, header included (`UDP_MAX_PAYLOAD_SIZE`).
const MAX_DATAGRAM_BYTES: usize = 1400;
/// Reply bytes per datagram after the header.
const DATAGRAM_PAYLOAD_BYTES: usize = MAX_DATAGRAM_BYTES - FRAME_HEADER_BYTES;
/// The largest request datagram (memcached's `UDP_READ_BUFFER_SIZE`).
const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// Reply bytes one datagram's requests may produce (one item over it is still
/// sent whole, as a request always answers its first key).
pub(crate) const REPLY_BUDGET_BYTES: usize = 1024 * 1024;
/// Requests (or keys of a multiget) served for one datagram at most.
const REQUESTS_PER_DATAGRAM: usize = 1024;

impl<S: Service> Worker<S> {
    /// Serves up to a turn's worth of datagrams waiting on UDP listener `index`;
    /// false once the socket is drained.
    pub(super) fn serve_datagrams(&mut self, index: usize) -> bool {
        for _ in 0..self.config.accepts_per_turn.max(1) {
            if self.datagram_buf.len() < MAX_REQUEST_BYTES {
                self.datagram_buf.resize(MAX_REQUEST_BYTES, 0);
            }
            let PerWorkerSocket::Udp(socket) = &self.listeners[index].socket else {
                return false;
            };
            let (bytes, peer) = match socket.recv_from(&mut self.datagram_buf) {
                Ok(received) => received,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::debug!(error = %e, "udp receive failed");
                    continue;
                }
            };
            let Some(request_id) = single_datagram_request(&self.datagram_buf[..bytes]) else {
                continue;
            };
            let listener = &self.listeners[index];
            let PerWorkerSocket::Udp(socket) = &listener.socket else {
                return false;
            };
            let payload = &self.datagram_buf[FRAME_HEADER_BYTES..bytes];
            let mut reply = std::mem::take(&mut self.datagram_reply);
            serve_one(
                &mut self.service,
                listener.tag,
                payload,
                &mut reply,
                |message| send_framed(socket, peer, request_id, message),
            );
            self.datagram_reply = reply;
        }
        true
    }
}

/// The request id of a datagram that holds one whole request; `None` for one
/// memcached drops (no payload, or part of a multi-datagram request).
fn single_datagram_request(datagram: &[u8]) -> Option<u16> {
    if datagram.len() <= FRAME_HEADER_BYTES || datagram[4..6] != [0, 1] {
        return None;
    }
    Some(u16::from_be_bytes([datagram[0], datagram[1]]))
}

/// Runs the requests of one datagram on a connection made for it, one request
/// (or one key of a multiget) per call, handing each non-empty reply to `send`.
fn serve_one<S: Service>(
    service: &mut S,
    tag: usize,
    payload: &[u8],
    reply: &mut Vec<u8>,
    mut send: impl FnMut(&[u8]),
) {
    let Ok(mut conn) = panic::catch_unwind(AssertUnwindSafe(|| service.new_conn(tag))) else {
        tracing::error!("service panicked opening a datagram's connection");
        return;
    };
    let mut consumed = 0;
    let mut replied_bytes = 0;
    for _ in 0..REQUESTS_PER_DATAGRAM {
        if consumed >= payload.len() || replied_bytes >= REPLY_BUDGET_BYTES {
            break;
        }
        let input = &payload[consumed..];
        // One request (or key) per call: its reply is one message.
        let mut budget = TurnBudget {
            requests_left: 1,
            output_bytes_left: REPLY_BUDGET_BYTES - replied_bytes,
        };
        reply.clear();
        let call = panic::catch_unwind(AssertUnwindSafe(|| {
            service.process_within(&mut conn, input, reply, &mut budget)
        }));
        let Ok(processed) = call else {
            // A bug in the service: its half-made reply is not sent, and the
            // connection's state is dropped, not closed.
            tracing::error!("service panicked on a datagram");
            return;
        };
        if !reply.is_empty() {
            send(reply);
            replied_bytes += reply.len();
        }
        consumed += processed.consumed.min(input.len());
        if processed.consumed == 0 || processed.close_after_flush {
            break;
        }
    }
    let _ = panic::catch_unwind(AssertUnwindSafe(|| {
        service.on_close(conn, CloseCause::Normal)
    }));
}

/// Sends `reply` to `peer` in framed datagrams. A full send buffer drops the
/// rest, as any UDP loss would.
fn send_framed(socket: &mio::net::UdpSocket, peer: std::net::SocketAddr, id: u16, reply: &[u8]) {
    if reply.is_empty() {
        return;
    }
    let chunks = reply.chunks(DATAGRAM_PAYLOAD_BYTES);
    let total = u16::try_from(chunks.len()).unwrap_or(u16::MAX);
    // On the stack: a reply costs no allocation per datagram.
    let mut datagram = [0u8; MAX_DATAGRAM_BYTES];
    datagram[..2].copy_from_slice(&id.to_be_bytes());
    datagram[4..6].copy_from_slice(&total.to_be_bytes());
    for (sequence, chunk) in chunks.take(usize::from(total)).enumerate() {
        datagram[2..4].copy_from_slice(&(sequence as u16).to_be_bytes());
        let end = FRAME_HEADER_BYTES + chunk.len();
        datagram[FRAME_HEADER_BYTES..end].copy_from_slice(chunk);
        if let Err(e) = socket.send_to(&datagram[..end], peer) {
            tracing::debug!(error = %e, "udp reply cut short");
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_single_datagram_requests_are_served() {
        assert_eq!(
            single_datagram_request(b"\x01\x02\0\0\0\x01\0\0get a\r\n"),
            Some(0x0102)
        );
        assert_eq!(
            single_datagram_request(b"\x01\x02\0\0\0\x02\0\0get a\r\n"),
            None
        );
        assert_eq!(single_datagram_request(b"\x01\x02\0\0\0\x01\0\0"), None);
        assert_eq!(single_datagram_request(b"\x01"), None);
    }

    #[test]
    fn a_long_reply_is_framed_in_numbered_datagrams() {
        let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let socket = mio::net::UdpSocket::from_std(server);
        let reply: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        send_framed(&socket, client.local_addr().unwrap(), 0xabcd, &reply);
        let mut joined = Vec::new();
        let mut buf = [0u8; 2048];
        for expected_sequence in 0..3u16 {
            let n = client.recv(&mut buf).unwrap();
            assert!(n <= MAX_DATAGRAM_BYTES);
            assert_eq!(&buf[..2], &0xabcdu16.to_be_bytes());
            assert_eq!(&buf[2..4], &expected_sequence.to_be_bytes());
            assert_eq!(&buf[4..8], &[0, 3, 0, 0]);
            joined.extend_from_slice(&buf[FRAME_HEADER_BYTES..n]);
        }
        assert_eq!(joined, reply);
    }
}
