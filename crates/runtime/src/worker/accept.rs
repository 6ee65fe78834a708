//! Accepting: taking connections off the listeners, refusing past the limit (or
//! out of descriptors) with the listener's reply, and admitting the rest as sessions.

use super::*;
use mio::net::TcpStream;
use socket2::SockRef;

impl<S: Service> Worker<S> {
    pub(super) fn accept_ready(&mut self, now: Instant) {
        self.rearm_accept_retry(now);
        for index in 0..self.listeners.len() {
            if !self.listener_ready[index] {
                continue;
            }
            if matches!(self.listeners[index].socket, PerWorkerSocket::Udp(_)) {
                self.listener_ready[index] = self.serve_datagrams(index);
                continue;
            }
            for _ in 0..self.config.accepts_per_turn {
                match self.accept_one(index) {
                    Ok(stream) => self.admit(stream, index, now),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        self.listener_ready[index] = false;
                        break;
                    }
                    Err(e) if is_transient_accept_error(&e) => continue,
                    Err(e) if fd_exhaustion::is_fd_exhaustion(&e) => {
                        self.on_fd_exhausted(index, &e, now);
                        break;
                    }
                    Err(e) => {
                        // Out of memory: wait for the next event.
                        tracing::warn!(error = %e, "accept failed");
                        self.listener_ready[index] = false;
                        break;
                    }
                }
            }
        }
    }

    pub(super) fn accept_one(&mut self, index: usize) -> io::Result<Stream> {
        match &self.listeners[index].socket {
            PerWorkerSocket::Tcp(l) => {
                let (stream, _) = l.accept()?;
                tune_accepted(&stream, &self.config)?;
                Ok(Stream::Tcp(stream))
            }
            PerWorkerSocket::Unix(l) => Ok(Stream::Unix(l.accept()?.0)),
            PerWorkerSocket::Udp(_) => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    pub(super) fn admit(&mut self, mut stream: Stream, listener: usize, now: Instant) {
        let limit = self.config.max_connections;
        // At the limit, a long-idle connection makes room (silent sockets
        // must not lock well-behaved clients out).
        let admitted =
            self.stats.try_open(limit) || (self.reclaim_idle(now) && self.stats.try_open(limit));
        if !admitted {
            self.stats.count_rejected();
            let listener = &self.listeners[listener];
            // Fresh socket, empty send buffer: one short write goes through.
            // A TLS client gets no plaintext it could not read: only the close.
            if listener.tls.is_none() {
                let _ = stream.write(&listener.reject_reply);
            }
            stream.linger_close();
            return;
        }
        let listener = &self.listeners[listener];
        if let Some(tls) = &listener.tls {
            stream = match stream {
                Stream::Tcp(socket) => match tls.accept(socket) {
                    Ok(tls_stream) => Stream::Tls(Box::new(tls_stream)),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot start a TLS session");
                        self.stats.close();
                        return;
                    }
                },
                other => other,
            };
        }
        let service = &mut self.service;
        let tag = listener.tag;
        let origin = stream.origin(&listener.shown);
        // A panic is the service's bug; it costs this connection, not the worker.
        let Ok(conn) = panic::catch_unwind(AssertUnwindSafe(|| service.new_conn_from(tag, origin)))
        else {
            tracing::error!(
                listener = tag,
                "service panicked on a new connection; closed"
            );
            self.stats.count_service_panic();
            self.stats.close();
            stream.linger_close();
            return;
        };
        let rbuf = ReadBuf::new(
            self.config.read_buffer_initial_bytes,
            self.config.read_buffer_max_bytes,
        );
        let session = Session::new(stream, conn, rbuf, listener.overflow_reply.clone(), now);
        let index = self.sessions.insert(session);
        tracing::debug!(
            session = index,
            listener = listener.tag,
            "connection accepted"
        );
        let token = self.session_token(index);
        let registry = self.poll.registry();
        let session = self.sessions.get_mut(index).expect("just inserted");
        // Readable only: asking for writable too would wake the worker whenever the
        // peer's acknowledgements free send-buffer room, which is almost always for
        // nothing. Writable interest is added while output waits (`watch_writable`).
        if let Err(e) = registry.register(session.stream_mut(), token, Interest::READABLE) {
            tracing::warn!(error = %e, "cannot register connection");
            self.close(index, CloseReason::Io);
        }
    }
}

/// Accept errors about one connection only (it died before we took it).
fn is_transient_accept_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ECONNABORTED) | Some(libc::EINTR) | Some(libc::EPROTO) | Some(libc::EPERM)
    )
}

/// Socket options of an accepted TCP connection.
fn tune_accepted(stream: &TcpStream, config: &RuntimeConfig) -> io::Result<()> {
    // Replies are written whole per batch; Nagle would only delay them.
    stream.set_nodelay(true)?;
    if let Some(bytes) = config.socket_send_buffer_bytes {
        SockRef::from(stream).set_send_buffer_size(bytes)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An accepted loopback connection, and its client end.
    fn accepted_pair() -> (TcpStream, std::net::TcpStream) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let client =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        (TcpStream::from_std(server), client)
    }

    fn send_buffer_bytes(stream: &TcpStream) -> usize {
        SockRef::from(stream).send_buffer_size().expect("SO_SNDBUF")
    }

    #[test]
    fn a_configured_send_buffer_is_asked_of_the_kernel() {
        const ASKED_BYTES: usize = 96 * 1024;
        let config = RuntimeConfig {
            socket_send_buffer_bytes: Some(ASKED_BYTES),
            ..RuntimeConfig::default()
        };
        let (server, _client) = accepted_pair();
        let before = send_buffer_bytes(&server);
        tune_accepted(&server, &config).expect("tune");
        // Linux reports twice what was asked (the doubling covers its bookkeeping),
        // within net.core.wmem_max; either way it is the asked size, not the default.
        let after = send_buffer_bytes(&server);
        assert!(
            (ASKED_BYTES..=2 * ASKED_BYTES).contains(&after),
            "SO_SNDBUF {after} (was {before}), asked {ASKED_BYTES}"
        );
        assert!(server.nodelay().expect("TCP_NODELAY"));
    }

    #[test]
    fn without_a_configured_size_the_kernel_keeps_its_own() {
        let (server, _client) = accepted_pair();
        let before = send_buffer_bytes(&server);
        tune_accepted(&server, &RuntimeConfig::default()).expect("tune");
        assert_eq!(send_buffer_bytes(&server), before);
        assert!(server.nodelay().expect("TCP_NODELAY"));
    }
}
