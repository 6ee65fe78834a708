//! memcached's `watch`: connections that receive one log line per event of the
//! topics they asked for (key fetches, mutations, evictions, connections), in
//! memcached 1.6.18's line format.
//!
//! Events are written by whichever thread has them (a worker executing a
//! command, maintenance evicting) straight into each interested watcher's
//! bounded buffer; the watcher's connection drains it as a sleeping job. With
//! no watcher, an event costs one relaxed load. A watcher whose buffer is full
//! loses lines, counted, and says so with a `skipped=N` line once it has room,
//! as memcached does.

use std::io::Write as _;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use tailcache_protocol::memcache::classic_encode::encode_uri_key;
use tailcache_protocol::memcache::WatchTopics;
use tailcache_runtime::ConnOrigin;
use tailcache_storage::{EvictionListener, Expiry, ItemMeta};

/// Most watchers at once (memcached's `WATCHER_LIMIT`).
pub const MAX_WATCHERS: usize = 20;
/// Largest `-o watcher_logbuf_size`, in KiB.
pub const MAX_BUFFER_KIB: u64 = 64 * 1024;

/// The watchers and what they watch.
pub struct LogWatchers {
    /// The union of every watcher's topics: what is worth formatting.
    topics: AtomicU16,
    watchers: Mutex<Vec<Arc<Watcher>>>,
    /// memcached's `gid`: one number per line, in the order lines are made.
    next_line_id: AtomicU64,
    buffer_bytes: usize,
    /// Lines a full buffer lost (`log_watcher_skipped`).
    skipped_lines: AtomicU64,
    /// Lines put in a buffer (`log_watcher_sent`).
    sent_lines: AtomicU64,
}

/// One watching connection's topics and waiting lines.
pub struct Watcher {
    topics: WatchTopics,
    buffer: Mutex<WatcherBuffer>,
}

#[derive(Default)]
struct WatcherBuffer {
    /// Lines waiting, oldest first; taken from the front in bounded pieces.
    lines: std::collections::VecDeque<u8>,
    /// Lines lost since the last `skipped=` line.
    skipped: u64,
}

/// `watch` was refused: memcached's reply line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyWatchers;

/// What a key lookup found (memcached's `item_get` statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchStatus {
    /// Not there.
    NotFound,
    /// There; its value's length.
    Found {
        /// The value's length.
        value_len: usize,
    },
}

/// How a storage command ended (memcached's `item_store` statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreStatus {
    /// `NOT_STORED`.
    NotStored,
    /// `STORED`.
    Stored,
    /// `EXISTS`.
    Exists,
    /// `NOT_FOUND`.
    NotFound,
    /// Too large for an item.
    TooLarge,
    /// Out of memory.
    NoMemory,
}

/// A storage command's name in `item_store` lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreCommand {
    /// add.
    Add,
    /// set (and meta set).
    Set,
    /// replace.
    Replace,
    /// append.
    Append,
    /// prepend.
    Prepend,
    /// cas.
    Cas,
}

/// `rip=… rport=… transport=…` of a connection, from the runtime's `tcp:ADDR:PORT`
/// or `unix:PATH` peer (memcached writes `unix` and port 0 for a unix socket).
fn write_peer(line: &mut Vec<u8>, origin: &ConnOrigin) {
    let tcp = origin
        .peer
        .strip_prefix("tcp:")
        .and_then(|addr| addr.parse::<std::net::SocketAddr>().ok());
    let _ = match tcp {
        Some(addr) => write!(
            line,
            "rip={} rport={} transport=tcp",
            addr.ip(),
            addr.port()
        ),
        None => write!(line, "rip=unix rport=0 transport=local"),
    };
}

impl LogWatchers {
    /// No watchers yet; each will hold up to `buffer_bytes` of waiting lines.
    pub fn new(buffer_bytes: usize) -> LogWatchers {
        LogWatchers {
            topics: AtomicU16::new(0),
            watchers: Mutex::new(Vec::new()),
            next_line_id: AtomicU64::new(0),
            buffer_bytes: buffer_bytes.max(1),
            skipped_lines: AtomicU64::new(0),
            sent_lines: AtomicU64::new(0),
        }
    }

    /// Whether someone watches `topic`: check before gathering an event's details.
    pub fn wants(&self, topic: WatchTopics) -> bool {
        self.topics.load(Ordering::Relaxed) & topic.bits() != 0
    }

    /// Adds a watcher of `topics`.
    pub fn add(&self, topics: WatchTopics) -> Result<Arc<Watcher>, TooManyWatchers> {
        let mut watchers = self.lock();
        if watchers.len() >= MAX_WATCHERS {
            return Err(TooManyWatchers);
        }
        let watcher = Arc::new(Watcher {
            topics,
            buffer: Mutex::new(WatcherBuffer::default()),
        });
        watchers.push(watcher.clone());
        self.update_topics(&watchers);
        Ok(watcher)
    }

    /// Removes a watcher (its connection closed).
    pub fn remove(&self, watcher: &Arc<Watcher>) {
        let mut watchers = self.lock();
        watchers.retain(|other| !Arc::ptr_eq(other, watcher));
        self.update_topics(&watchers);
    }

    /// Watchers now (`stats log_watchers`).
    pub fn count(&self) -> usize {
        self.lock().len()
    }

    /// Lines lost to full buffers, and lines buffered, since start.
    pub fn line_counts(&self) -> (u64, u64) {
        (
            self.skipped_lines.load(Ordering::Relaxed),
            self.sent_lines.load(Ordering::Relaxed),
        )
    }

    /// A key lookup, by the connection with fd `cfd`.
    pub fn fetched(&self, key: &[u8], status: FetchStatus, cfd: i32) {
        if !self.wants(WatchTopics::FETCHERS) {
            return;
        }
        let (status, class_id, size) = match status {
            FetchStatus::NotFound => ("not_found", 0, 0),
            FetchStatus::Found { value_len } => ("found", 1, value_len),
        };
        self.log(WatchTopics::FETCHERS, |line| {
            line.extend_from_slice(b"type=item_get key=");
            encode_uri_key(line, key);
            let _ = write!(
                line,
                " status={status} clsid={class_id} cfd={cfd} size={size}"
            );
        });
    }

    /// A storage command's outcome; `expiry` as stored, the value's length, and
    /// the time now (unix seconds).
    #[allow(clippy::too_many_arguments)] // one per field of memcached's line
    pub fn stored(
        &self,
        key: &[u8],
        status: StoreStatus,
        command: StoreCommand,
        expiry: Expiry,
        value_len: usize,
        now_unix_secs: u64,
        cfd: i32,
    ) {
        if !self.wants(WatchTopics::MUTATIONS) {
            return;
        }
        let status = match status {
            StoreStatus::NotStored => "not_stored",
            StoreStatus::Stored => "stored",
            StoreStatus::Exists => "exists",
            StoreStatus::NotFound => "not_found",
            StoreStatus::TooLarge => "too_large",
            StoreStatus::NoMemory => "no_memory",
        };
        let command = match command {
            StoreCommand::Add => "add",
            StoreCommand::Set => "set",
            StoreCommand::Replace => "replace",
            StoreCommand::Append => "append",
            StoreCommand::Prepend => "prepend",
            StoreCommand::Cas => "cas",
        };
        // Seconds left to live, 0 for none.
        let ttl = match expiry {
            Expiry::Never => 0,
            Expiry::At(at) => u64::from(at).saturating_sub(now_unix_secs),
        };
        self.log(WatchTopics::MUTATIONS, |line| {
            line.extend_from_slice(b"type=item_store key=");
            encode_uri_key(line, key);
            let _ = write!(
                line,
                " status={status} cmd={command} ttl={ttl} clsid=1 cfd={cfd} size={value_len}"
            );
        });
    }

    /// A connection was accepted.
    pub fn conn_opened(&self, origin: &ConnOrigin) {
        self.conn_event(origin, "conn_new", None);
    }

    /// A connection closed: `reason` is memcached's (`normal`, `error`,
    /// `idle_timeout`, `shutdown`).
    pub fn conn_closed(&self, origin: &ConnOrigin, reason: &str) {
        self.conn_event(origin, "conn_close", Some(reason));
    }

    fn conn_event(&self, origin: &ConnOrigin, kind: &str, reason: Option<&str>) {
        if !self.wants(WatchTopics::CONNEVENTS) {
            return;
        }
        self.log(WatchTopics::CONNEVENTS, |line| {
            let _ = write!(line, "type={kind} ");
            write_peer(line, origin);
            if let Some(reason) = reason {
                let _ = write!(line, " reason={reason}");
            }
            let _ = write!(line, " cfd={}", origin.fd);
        });
    }

    /// One line, `ts=… gid=… ` then what `describe` writes, to every watcher of `topic`.
    fn log(&self, topic: WatchTopics, describe: impl FnOnce(&mut Vec<u8>)) {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let line_id = self.next_line_id.fetch_add(1, Ordering::Relaxed);
        let mut line = Vec::with_capacity(160);
        // memcached prints the microseconds unpadded (`%d`).
        let _ = write!(
            line,
            "ts={}.{} gid={line_id} ",
            since_epoch.as_secs(),
            since_epoch.subsec_micros()
        );
        describe(&mut line);
        line.push(b'\n');
        for watcher in self.lock().iter() {
            if !watcher.topics.intersects(topic) {
                continue;
            }
            if watcher.push(&line, self.buffer_bytes) {
                self.sent_lines.fetch_add(1, Ordering::Relaxed);
            } else {
                self.skipped_lines.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn update_topics(&self, watchers: &[Arc<Watcher>]) {
        let topics = watchers
            .iter()
            .fold(WatchTopics::default(), |all, w| all.union(w.topics));
        self.topics.store(topics.bits(), Ordering::Relaxed);
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Arc<Watcher>>> {
        // A panic while holding it leaves a whole list (pushes and retains are
        // not interrupted half way), so a poisoned lock is still usable.
        self.watchers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl EvictionListener for LogWatchers {
    fn listening(&self) -> bool {
        self.wants(WatchTopics::EVICTIONS)
    }

    fn evicted(&self, key: &[u8], meta: &ItemMeta) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        // memcached: seconds left to live (-1 for none), seconds since last access.
        let ttl = match meta.expiry {
            Expiry::Never => -1,
            Expiry::At(at) => i64::from(at) - i64::try_from(now).unwrap_or(i64::MAX),
        };
        let idle_secs = now.saturating_sub(u64::from(meta.last_access_unix_secs));
        let fetched = if meta.hit_before { "yes" } else { "no" };
        self.log(WatchTopics::EVICTIONS, |line| {
            line.extend_from_slice(b"type=eviction key=");
            encode_uri_key(line, key);
            let _ = write!(
                line,
                " fetch={fetched} ttl={ttl} la={idle_secs} clsid=1 size={}",
                meta.value_len
            );
        });
    }
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("topics", &self.topics)
            .finish_non_exhaustive()
    }
}

impl Watcher {
    /// Appends `line` if it fits (after a `skipped=N` line owed); false if lost.
    fn push(&self, line: &[u8], capacity_bytes: usize) -> bool {
        let mut buffer = self
            .buffer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let skipped_line = (buffer.skipped > 0).then(|| format!("skipped={}\n", buffer.skipped));
        let needed = line.len() + skipped_line.as_ref().map_or(0, String::len);
        if buffer.lines.len() + needed > capacity_bytes {
            buffer.skipped += 1;
            return false;
        }
        if let Some(skipped_line) = skipped_line {
            buffer.lines.extend(skipped_line.as_bytes());
            buffer.skipped = 0;
        }
        buffer.lines.extend(line);
        true
    }

    /// Moves up to `max_bytes` of the waiting lines to `out` (a line may be
    /// split between two calls: the stream is what matters); how many bytes.
    pub fn drain_into(&self, out: &mut Vec<u8>, max_bytes: usize) -> usize {
        let mut buffer = self
            .buffer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let moved = buffer.lines.len().min(max_bytes);
        let (front, back) = buffer.lines.as_slices();
        let from_front = front.len().min(moved);
        out.extend_from_slice(&front[..from_front]);
        out.extend_from_slice(&back[..moved - from_front]);
        buffer.lines.drain(..moved);
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drained(watcher: &Watcher) -> String {
        let mut out = Vec::new();
        while watcher.drain_into(&mut out, 7) > 0 {}
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn lines_reach_only_the_watchers_of_their_topic() {
        let hub = LogWatchers::new(4096);
        assert!(!hub.wants(WatchTopics::FETCHERS));
        hub.fetched(b"nobody", FetchStatus::NotFound, 5);
        let fetchers = hub.add(WatchTopics::FETCHERS).unwrap();
        let mutations = hub.add(WatchTopics::MUTATIONS).unwrap();
        assert!(hub.wants(WatchTopics::FETCHERS) && !hub.wants(WatchTopics::EVICTIONS));
        hub.fetched(b"a b#", FetchStatus::Found { value_len: 4 }, 7);
        hub.stored(
            b"k",
            StoreStatus::Stored,
            StoreCommand::Set,
            Expiry::Never,
            3,
            0,
            7,
        );
        let fetched = drained(&fetchers);
        assert!(
            fetched.starts_with("ts=") && fetched.contains(" gid=0 "),
            "the unwatched line took no id: {fetched}"
        );
        assert!(
            fetched.ends_with("type=item_get key=a%20b%23 status=found clsid=1 cfd=7 size=4\n"),
            "{fetched}"
        );
        assert!(drained(&mutations)
            .ends_with("type=item_store key=k status=stored cmd=set ttl=0 clsid=1 cfd=7 size=3\n"));
        assert_eq!(hub.count(), 2);
        hub.remove(&fetchers);
        assert!(!hub.wants(WatchTopics::FETCHERS));
        assert_eq!(hub.count(), 1);
    }

    #[test]
    fn a_full_buffer_skips_lines_and_says_how_many_once_it_has_room() {
        let hub = LogWatchers::new(300);
        let watcher = hub.add(WatchTopics::FETCHERS).unwrap();
        for _ in 0..10 {
            hub.fetched(b"key", FetchStatus::NotFound, 1);
        }
        let first = drained(&watcher);
        let kept = first.lines().count();
        assert!((1..10).contains(&kept), "{first}");
        assert_eq!(hub.line_counts(), (10 - kept as u64, kept as u64));
        hub.fetched(b"key", FetchStatus::NotFound, 1);
        let next = drained(&watcher);
        let mut lines = next.lines();
        assert_eq!(
            lines.next(),
            Some(format!("skipped={}", 10 - kept).as_str())
        );
        assert!(lines.next().unwrap().contains("type=item_get key=key"));
        assert_eq!(lines.next(), None);
    }

    #[test]
    fn at_most_twenty_watchers() {
        let hub = LogWatchers::new(1024);
        let all: Vec<_> = (0..MAX_WATCHERS)
            .map(|_| hub.add(WatchTopics::CONNEVENTS).unwrap())
            .collect();
        assert_eq!(
            hub.add(WatchTopics::CONNEVENTS).err(),
            Some(TooManyWatchers)
        );
        hub.remove(&all[0]);
        assert!(hub.add(WatchTopics::CONNEVENTS).is_ok());
    }

    #[test]
    fn conn_lines_read_as_memcached_writes_them() {
        let hub = LogWatchers::new(1024);
        let watcher = hub.add(WatchTopics::CONNEVENTS).unwrap();
        let origin = |peer: &str, fd| ConnOrigin {
            fd,
            peer: peer.to_owned(),
            listener: std::sync::Arc::from("tcp:127.0.0.1:11211"),
        };
        let tcp = origin("tcp:127.0.0.1:40000", 9);
        hub.conn_opened(&tcp);
        hub.conn_closed(&tcp, "error");
        hub.conn_opened(&origin("unix:/tmp/s", 10));
        let lines = drained(&watcher);
        let lines: Vec<_> = lines.lines().collect();
        assert!(lines[0].ends_with("type=conn_new rip=127.0.0.1 rport=40000 transport=tcp cfd=9"));
        assert!(lines[1].ends_with(
            "type=conn_close rip=127.0.0.1 rport=40000 transport=tcp reason=error cfd=9"
        ));
        assert!(lines[2].ends_with("type=conn_new rip=unix rport=0 transport=local cfd=10"));
    }
}
