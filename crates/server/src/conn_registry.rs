//! The open data connections and the listening sockets, as memcached's
//! `stats conns` lists them: descriptor, address, the listener a connection
//! came in on, what it is doing and how long since its last command.
//!
//! A connection registers once when accepted and leaves when closed (a lock
//! taken twice per connection); while open it only stores two relaxed atomics
//! per read, so the request path never waits on the registry.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tailcache_runtime::ConnOrigin;

/// What a connection is doing, by memcached's state names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ConnPhase {
    /// Waiting for its next command.
    NewCmd = 0,
    /// Part of a command line has arrived.
    Waiting = 1,
    /// A storage command's line has arrived; its data has not, all.
    NRead = 2,
    /// Its requests are being executed right now.
    ParseCmd = 3,
}

impl ConnPhase {
    /// memcached's name for the state.
    pub fn name(self) -> &'static str {
        match self {
            ConnPhase::NewCmd => "conn_new_cmd",
            ConnPhase::Waiting => "conn_waiting",
            ConnPhase::NRead => "conn_nread",
            ConnPhase::ParseCmd => "conn_parse_cmd",
        }
    }

    fn from_u8(value: u8) -> ConnPhase {
        match value {
            1 => ConnPhase::Waiting,
            2 => ConnPhase::NRead,
            3 => ConnPhase::ParseCmd,
            _ => ConnPhase::NewCmd,
        }
    }
}

/// A listening socket: its descriptor and bound address (`tcp:ADDR:PORT`,
/// `unix:PATH`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListeningSocket {
    /// The socket's descriptor.
    pub fd: i32,
    /// Where it listens.
    pub addr: String,
}

/// What a RESP connection says of itself, for `CLIENT LIST`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RespClient {
    /// `CLIENT ID`.
    pub id: u64,
    /// `CLIENT SETNAME` (empty: none).
    pub name: Vec<u8>,
    /// 2 or 3 (`HELLO`).
    pub resp_version: u8,
}

/// One open connection as `stats conns` shows it.
#[derive(Debug)]
pub struct ConnEntry {
    origin: ConnOrigin,
    phase: AtomicU8,
    last_cmd_unix_secs: AtomicU32,
    accepted_unix_secs: u32,
    /// Set by a RESP connection (and changed by SETNAME and HELLO only).
    resp: Mutex<Option<RespClient>>,
}

impl ConnEntry {
    /// Where the connection comes from (its fd and peer).
    pub fn origin(&self) -> &ConnOrigin {
        &self.origin
    }

    /// Input is being executed.
    pub fn begin_commands(&self) {
        self.phase
            .store(ConnPhase::ParseCmd as u8, Ordering::Relaxed);
    }

    /// A command was handled at `now_unix_secs`.
    pub fn note_command(&self, now_unix_secs: u32) {
        self.last_cmd_unix_secs
            .store(now_unix_secs, Ordering::Relaxed);
    }

    /// Records what a RESP connection says of itself.
    pub fn set_resp_client(&self, client: RespClient) {
        *self
            .resp
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(client);
    }

    /// What the connection is doing now that its input is handled.
    pub fn set_phase(&self, phase: ConnPhase) {
        self.phase.store(phase as u8, Ordering::Relaxed);
    }
}

/// A row of `stats conns`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnRow {
    /// Descriptor.
    pub fd: i32,
    /// Peer (or, for a listener, bound) address.
    pub addr: String,
    /// The listener a connection came in on; `None` for a listener.
    pub listen_addr: Option<String>,
    /// memcached's state name.
    pub state: &'static str,
    /// Seconds since the last command (for a listener, since start).
    pub secs_since_last_cmd: u32,
    /// Seconds since it was accepted (for a listener, since start).
    pub age_secs: u32,
    /// What a RESP connection says of itself.
    pub resp: Option<RespClient>,
}

/// Every open data connection and listening socket.
#[derive(Debug, Default)]
pub struct ConnRegistry {
    listeners: OnceLock<Vec<ListeningSocket>>,
    open: Mutex<BTreeMap<u64, Arc<ConnEntry>>>,
    next_id: AtomicU64,
}

/// A registered connection; dropping it (when the connection closes) takes
/// the connection out of the registry.
#[derive(Debug)]
pub struct ConnHandle {
    registry: Arc<ConnRegistry>,
    id: u64,
    entry: Arc<ConnEntry>,
}

impl ConnHandle {
    /// The connection's entry, to record its phase.
    pub fn entry(&self) -> &ConnEntry {
        &self.entry
    }

    /// The entry, for a protocol state that records what it says of itself.
    pub fn shared_entry(&self) -> Arc<ConnEntry> {
        self.entry.clone()
    }
}

impl Drop for ConnHandle {
    fn drop(&mut self) {
        self.registry.lock_open().remove(&self.id);
    }
}

impl ConnRegistry {
    /// Records the listening sockets (once, at start).
    pub fn set_listeners(&self, listeners: Vec<ListeningSocket>) {
        let _ = self.listeners.set(listeners);
    }

    /// Registers a connection accepted at `now_unix_secs`.
    pub fn open(self: &Arc<Self>, origin: ConnOrigin, now_unix_secs: u32) -> ConnHandle {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let entry = Arc::new(ConnEntry {
            origin,
            phase: AtomicU8::new(ConnPhase::NewCmd as u8),
            last_cmd_unix_secs: AtomicU32::new(now_unix_secs),
            accepted_unix_secs: now_unix_secs,
            resp: Mutex::new(None),
        });
        self.lock_open().insert(id, entry.clone());
        ConnHandle {
            registry: self.clone(),
            id,
            entry,
        }
    }

    /// The rows of `stats conns`, listeners first, then connections, each by
    /// descriptor.
    pub fn rows(&self, now_unix_secs: u32, started_unix_secs: u32) -> Vec<ConnRow> {
        let mut listeners: Vec<ConnRow> = self
            .listeners
            .get()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|listener| ConnRow {
                fd: listener.fd,
                addr: listener.addr.clone(),
                listen_addr: None,
                state: "conn_listening",
                secs_since_last_cmd: now_unix_secs.saturating_sub(started_unix_secs),
                age_secs: now_unix_secs.saturating_sub(started_unix_secs),
                resp: None,
            })
            .collect();
        listeners.sort_by_key(|row| row.fd);
        let mut conns: Vec<ConnRow> = self
            .lock_open()
            .values()
            .map(|entry| ConnRow {
                fd: entry.origin.fd,
                addr: entry.origin.peer.clone(),
                listen_addr: Some(entry.origin.listener.to_string()),
                state: ConnPhase::from_u8(entry.phase.load(Ordering::Relaxed)).name(),
                secs_since_last_cmd: now_unix_secs
                    .saturating_sub(entry.last_cmd_unix_secs.load(Ordering::Relaxed)),
                age_secs: now_unix_secs.saturating_sub(entry.accepted_unix_secs),
                resp: entry
                    .resp
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone(),
            })
            .collect();
        conns.sort_by_key(|row| row.fd);
        listeners.extend(conns);
        listeners
    }

    /// Open connections registered.
    pub fn open_count(&self) -> usize {
        self.lock_open().len()
    }

    fn lock_open(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<ConnEntry>>> {
        // A panic elsewhere while holding it leaves the map whole (inserts and
        // removes are single calls), so a poisoned lock is still usable.
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(fd: i32, port: u16) -> ConnOrigin {
        ConnOrigin {
            fd,
            peer: format!("tcp:127.0.0.1:{port}"),
            listener: "tcp:127.0.0.1:11211".into(),
        }
    }

    #[test]
    fn rows_list_listeners_then_open_connections_by_descriptor() {
        let registry = Arc::new(ConnRegistry::default());
        registry.set_listeners(vec![ListeningSocket {
            fd: 7,
            addr: "tcp:127.0.0.1:11211".to_owned(),
        }]);
        let late = registry.open(origin(12, 5000), 100);
        let early = registry.open(origin(9, 5001), 100);
        early.entry().note_command(103);
        early.entry().set_phase(ConnPhase::NRead);
        late.entry().begin_commands();
        late.entry().note_command(104);
        let rows = registry.rows(105, 90);
        let shown: Vec<(i32, &str, u32)> = rows
            .iter()
            .map(|row| (row.fd, row.state, row.secs_since_last_cmd))
            .collect();
        assert_eq!(
            shown,
            [
                (7, "conn_listening", 15),
                (9, "conn_nread", 2),
                (12, "conn_parse_cmd", 1)
            ]
        );
        assert_eq!(rows[1].listen_addr.as_deref(), Some("tcp:127.0.0.1:11211"));
        drop(early);
        assert_eq!(registry.open_count(), 1);
        drop(late);
        assert_eq!(registry.open_count(), 0);
    }
}
