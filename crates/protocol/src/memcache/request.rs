//! Parsed requests: every command a memcached client can send, borrowing the input.

use super::meta::{MetaArithmetic, MetaDebug, MetaDelete, MetaGet, MetaSet};
use super::tokens::Tokens;

/// The outcome of a successful [`parse`](super::parse) call (the crate's one shape).
pub type Parsed<'a> = crate::Parsed<Request<'a>>;

/// One memcache request, classic or meta.
#[derive(Debug, Clone)]
pub enum Request<'a> {
    /// set / add / replace / append / prepend / cas: reply `STORED`, `NOT_STORED`,
    /// `EXISTS` or `NOT_FOUND`.
    Store(Store<'a>),
    /// get / gets / gat / gats: one `VALUE` block per hit, then `END`.
    Get(Get<'a>),
    /// delete: `DELETED` or `NOT_FOUND`.
    Delete(Delete<'a>),
    /// incr / decr: the new value, `NOT_FOUND`, or
    /// `CLIENT_ERROR cannot increment or decrement non-numeric value`.
    Incr(Incr<'a>),
    /// touch: `TOUCHED` or `NOT_FOUND`.
    Touch(Touch<'a>),
    /// flush_all: `OK`.
    FlushAll(FlushAll),
    /// version: `VERSION <version>`.
    Version,
    /// verbosity: `OK` (the level only affects logging).
    Verbosity(Verbosity),
    /// quit: close the connection without a reply.
    Quit,
    /// `refresh_certs [noreply]`: reload the TLS certificates; `OK`, or
    /// memcached's error line.
    RefreshCerts {
        /// Reply suppressed (memcached looks only at the last token).
        noreply: bool,
    },
    /// `stats [group]`: `STAT <name> <value>` lines then `END`.
    Stats(Stats<'a>),
    /// `shutdown [graceful]`: stop the server (when enabled by `-A`); the
    /// connection closes without a reply.
    Shutdown(ShutdownMode),
    /// mg: meta get.
    MetaGet(MetaGet<'a>),
    /// ms: meta set.
    MetaSet(MetaSet<'a>),
    /// md: meta delete.
    MetaDelete(MetaDelete<'a>),
    /// ma: meta arithmetic.
    MetaArithmetic(MetaArithmetic<'a>),
    /// mn: meta no-op, reply `MN`.
    MetaNoop,
    /// me: meta debug, reply `ME <key> <k>=<v>*` or `EN`.
    MetaDebug(MetaDebug<'a>),
    /// `lru_crawler <subcommand> ...`: crawls, key dumps and crawler settings.
    LruCrawler(LruCrawler),
    /// `debugtime <seconds>|p|r` (memcached's debug build): move the server's clock,
    /// or pause and resume it; `OK`, or `ERROR` where debug commands are off.
    DebugTime(DebugTime),
    /// `watch [topic ...]`: `OK`, then the connection only receives log lines of
    /// those topics (fetchers when none is named).
    Watch(WatchTopics),
}

/// The log topics a `watch` asks for, as a set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WatchTopics(u16);

impl WatchTopics {
    /// Every topic memcached 1.6.18 names, in its order.
    pub const NAMES: [&'static [u8]; 9] = [
        b"rawcmds",
        b"evictions",
        b"fetchers",
        b"mutations",
        b"sysevents",
        b"connevents",
        b"proxyreqs",
        b"proxyevents",
        b"proxyuser",
    ];
    /// `evictions`: items eviction drops.
    pub const EVICTIONS: WatchTopics = WatchTopics(1 << 1);
    /// `fetchers`: every key lookup, found or not.
    pub const FETCHERS: WatchTopics = WatchTopics(1 << 2);
    /// `mutations`: every storage command's outcome.
    pub const MUTATIONS: WatchTopics = WatchTopics(1 << 3);
    /// `connevents`: connections opened and closed.
    pub const CONNEVENTS: WatchTopics = WatchTopics(1 << 5);

    /// The topic called `name`, if memcached knows it.
    pub fn from_name(name: &[u8]) -> Option<WatchTopics> {
        let at = Self::NAMES.iter().position(|&known| known == name)?;
        Some(WatchTopics(1 << at))
    }

    /// The set as bits (bit n: `NAMES[n]`).
    pub fn bits(self) -> u16 {
        self.0
    }

    /// The set of these bits (unknown ones dropped).
    pub fn from_bits(bits: u16) -> WatchTopics {
        WatchTopics(bits & ((1 << Self::NAMES.len()) - 1))
    }

    /// Both sets.
    pub fn union(self, other: WatchTopics) -> WatchTopics {
        WatchTopics(self.0 | other.0)
    }

    /// Whether any topic of `other` is in this set.
    pub fn intersects(self, other: WatchTopics) -> bool {
        self.0 & other.0 != 0
    }

    /// The names in the set, in memcached's order.
    pub fn names(self) -> impl Iterator<Item = &'static [u8]> {
        Self::NAMES
            .into_iter()
            .enumerate()
            .filter(move |(at, _)| self.0 & (1 << at) != 0)
            .map(|(_, name)| name)
    }
}

/// What a `debugtime` asks of the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DebugTime {
    /// `p`: stop the clock.
    Pause,
    /// `r`: let it run again (it jumps to where it would be).
    Resume,
    /// Move it by this many seconds.
    ShiftSecs(i64),
    /// Not a number: `ERROR`.
    Invalid,
}

/// How a storage command combines the new value with an existing item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreMode {
    /// Store unconditionally.
    Set,
    /// Store only if the key is absent (`NOT_STORED` otherwise).
    Add,
    /// Store only if the key is present (`NOT_STORED` otherwise).
    Replace,
    /// Append to the existing value; flags and exptime are ignored.
    Append,
    /// Prepend to the existing value; flags and exptime are ignored.
    Prepend,
    /// Store only if the item's cas equals this value (`EXISTS` / `NOT_FOUND` otherwise).
    Cas(u64),
}

/// A classic storage command with its data block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store<'a> {
    /// Which command.
    pub mode: StoreMode,
    /// The key, 1..=`max_key_bytes` bytes.
    pub key: &'a [u8],
    /// Opaque client flags (memcached truncates larger numbers to 32 bits, so do we).
    pub client_flags: u32,
    /// memcached exptime: 0 never, < 0 already expired, <= 30 days relative, else unix time.
    pub exptime: i64,
    /// The data block, without its trailing `\r\n`.
    pub value: &'a [u8],
    /// `noreply` was given: send nothing back, not even errors from execution.
    pub noreply: bool,
}

/// Which retrieval command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GetKind {
    /// `get`: VALUE lines without cas.
    Get,
    /// `gets`: VALUE lines with cas.
    Gets,
    /// `gat`: get and touch, without cas.
    Gat,
    /// `gats`: get and touch, with cas.
    Gats,
}

impl GetKind {
    /// Whether VALUE lines carry the cas unique.
    pub fn returns_cas(self) -> bool {
        matches!(self, GetKind::Gets | GetKind::Gats)
    }
}

/// A retrieval command over one or more keys.
#[derive(Debug, Clone)]
pub struct Get<'a> {
    /// get, gets, gat or gats.
    pub kind: GetKind,
    /// For gat/gats: the new exptime to set on every hit; `None` for get/gets.
    pub touch_exptime: Option<i64>,
    /// The keys in request order, already checked against the limits (gat/gats may have
    /// none: memcached answers `END`).
    pub keys: Keys<'a>,
}

/// The keys of a multiget, split lazily from the borrowed line (no allocation).
#[derive(Debug, Clone)]
pub struct Keys<'a> {
    tokens: Tokens<'a>,
    remaining: usize,
}

impl<'a> Keys<'a> {
    /// Keys from the remainder of a line holding exactly `count` tokens.
    pub(crate) fn new(tokens: Tokens<'a>, count: usize) -> Self {
        Keys {
            tokens,
            remaining: count,
        }
    }
}

impl<'a> Iterator for Keys<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        let key = self.tokens.next()?;
        self.remaining -= 1;
        Some(key)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Keys<'_> {}

/// `delete <key> [0] [noreply]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete<'a> {
    /// The key.
    pub key: &'a [u8],
    /// Send no reply.
    pub noreply: bool,
}

/// `incr|decr <key> <delta> [noreply]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incr<'a> {
    /// The key.
    pub key: &'a [u8],
    /// Amount to add or subtract.
    pub delta: u64,
    /// true for incr (wraps at 2^64), false for decr (floors at 0).
    pub increment: bool,
    /// Send no reply.
    pub noreply: bool,
}

/// `touch <key> <exptime> [noreply]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Touch<'a> {
    /// The key.
    pub key: &'a [u8],
    /// New exptime (memcached semantics, see [`Store::exptime`]).
    pub exptime: i64,
    /// Send no reply.
    pub noreply: bool,
}

/// `flush_all [delay] [noreply]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlushAll {
    /// Seconds until the flush takes effect (exptime semantics; 0 = now).
    pub delay_secs: i64,
    /// Send no reply.
    pub noreply: bool,
}

/// How `shutdown` asks the server to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownMode {
    /// `shutdown`: as SIGINT.
    Now,
    /// `shutdown graceful`: as SIGUSR1.
    Graceful,
    /// Any other argument: `CLIENT_ERROR invalid shutdown mode`.
    Invalid,
}

/// `verbosity <level> [noreply]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verbosity {
    /// Requested log level (memcached truncates to 32 bits).
    pub level: u32,
    /// Send no reply.
    pub noreply: bool,
}

/// Which `stats` group was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsGroup<'a> {
    /// `stats`: general-purpose statistics.
    General,
    /// `stats settings`.
    Settings,
    /// `stats items`.
    Items,
    /// `stats slabs`.
    Slabs,
    /// `stats sizes`.
    Sizes,
    /// `stats conns`.
    Conns,
    /// `stats reset`: reply `RESET`.
    Reset,
    /// `stats detail ...`: memcached answers `CLIENT_ERROR usage: stats detail on|off|dump`
    /// without an argument.
    Detail,
    /// Any other group name; memcached answers `ERROR` for names it does not know.
    Other(&'a [u8]),
}

/// `stats [group] [args...]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats<'a> {
    /// The group.
    pub group: StatsGroup<'a>,
    /// Everything after the group name, unsplit (e.g. `on` in `stats detail on`).
    pub args: &'a [u8],
}

/// `lru_crawler ...`, as memcached 1.6.18 reads it (no `noreply`: an extra token is `ERROR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LruCrawler {
    /// `lru_crawler crawl <classids|all>`: reclaim expired items of those classes.
    Crawl(CrawlTarget),
    /// `lru_crawler metadump <classids|all|hash>`: one `key=... exp=...` line per item.
    Metadump(CrawlTarget),
    /// `lru_crawler tocrawl <n>`: items per class a crawl looks at (0: all).
    Tocrawl(u32),
    /// `lru_crawler sleep <microseconds>`; above 1 000 000 memcached answers
    /// `CLIENT_ERROR sleep must be one second or less`, which the server decides.
    Sleep(u32),
    /// `lru_crawler enable`.
    Enable,
    /// `lru_crawler disable`.
    Disable,
}

/// Which items a crawl or metadump covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrawlTarget {
    /// `all`: every slab class.
    All,
    /// `hash`: walk the hash table (metadump only; `crawl hash` is an error in memcached).
    Hash,
    /// A comma-separated list of class ids, each in `1..=63`; may be empty (`,`).
    Classes(ClassIds),
    /// A list with a token that is not a class id: `BADCLASS invalid class id`.
    BadClass,
}

/// A set of memcached slab class ids, `1..=`[`ClassIds::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClassIds(u64);

impl ClassIds {
    /// The largest class id memcached accepts (`MAX_NUMBER_OF_SLAB_CLASSES` - 1).
    pub const MAX: u32 = 63;

    /// Adds `id`; false (and no change) when it is not a valid class id.
    pub fn insert(&mut self, id: u32) -> bool {
        if !(1..=Self::MAX).contains(&id) {
            return false;
        }
        self.0 |= 1 << id;
        true
    }

    /// Whether `id` is in the set.
    pub fn contains(self, id: u32) -> bool {
        id <= Self::MAX && self.0 & (1 << id) != 0
    }

    /// Whether the set is empty (memcached: `NOTSTARTED no items to crawl`).
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The ids in increasing order.
    pub fn iter(self) -> impl Iterator<Item = u32> {
        (1..=Self::MAX).filter(move |&id| self.contains(id))
    }
}

#[cfg(test)]
mod tests {
    use super::super::request_encode::encode_request;
    use super::super::{parse, Limits, ParseErrorKind};
    use super::*;

    fn crawler(line: &[u8]) -> Result<LruCrawler, ParseErrorKind> {
        match parse(line, &Limits::default()) {
            Ok(Parsed::Complete {
                request: Request::LruCrawler(command),
                consumed_bytes,
            }) => {
                assert_eq!(consumed_bytes, line.len());
                Ok(command)
            }
            Err(error) => Err(error.kind()),
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    fn classes(ids: &[u32]) -> CrawlTarget {
        let mut set = ClassIds::default();
        for &id in ids {
            assert!(set.insert(id));
        }
        CrawlTarget::Classes(set)
    }

    #[test]
    fn lru_crawler_forms_parse_as_memcached_reads_them() {
        use CrawlTarget::{All, BadClass, Hash};
        use LruCrawler::*;
        let (unknown, bad) = (
            Err(ParseErrorKind::UnknownCommand),
            Err(ParseErrorKind::BadCommandLine),
        );
        let cases = [
            ("crawl all", Ok(Crawl(All))),
            ("crawl hash", Ok(Crawl(Hash))),
            ("metadump 1,2,63", Ok(Metadump(classes(&[1, 2, 63])))),
            ("metadump 1,,3,", Ok(Metadump(classes(&[1, 3])))),
            ("metadump ,", Ok(Metadump(classes(&[])))),
            ("metadump 0", Ok(Metadump(BadClass))),
            ("crawl 64", Ok(Crawl(BadClass))),
            ("crawl 1,abc", Ok(Crawl(BadClass))),
            ("crawl ALL", Ok(Crawl(BadClass))),
            // 2^32 + 1 truncates to class 1, as in memcached.
            ("crawl 4294967297", Ok(Crawl(classes(&[1])))),
            ("tocrawl 0", Ok(Tocrawl(0))),
            ("sleep 1000001", Ok(Sleep(1_000_001))),
            ("sleep +5", Ok(Sleep(5))),
            ("sleep -0", Ok(Sleep(0))),
            ("sleep 4294967296", Ok(Sleep(0))),
            ("sleep -1", bad),
            ("tocrawl abc", bad),
            ("enable", Ok(Enable)),
            ("disable", Ok(Disable)),
            ("", unknown),
            ("metadump", unknown),
            ("bogus", unknown),
            ("enable now", unknown),
            ("metadump all x", unknown),
            ("sleep 5 noreply", unknown),
        ];
        for (args, expected) in cases {
            let line = format!("lru_crawler {args}\r\n");
            assert_eq!(crawler(line.as_bytes()), expected, "{line:?}");
        }
    }

    #[test]
    fn lru_crawler_requests_round_trip() {
        for line in [
            &b"lru_crawler crawl all\r\n"[..],
            b"lru_crawler metadump hash\r\n",
            b"lru_crawler metadump 1,5,63\r\n",
            b"lru_crawler metadump ,\r\n",
            b"lru_crawler crawl 0\r\n",
            b"lru_crawler tocrawl 7\r\n",
            b"lru_crawler sleep 100\r\n",
            b"lru_crawler enable\r\n",
            b"lru_crawler disable\r\n",
        ] {
            let command = crawler(line).expect("parses");
            let mut encoded = Vec::new();
            encode_request(&mut encoded, &Request::LruCrawler(command));
            assert_eq!(encoded, line);
        }
    }
}
