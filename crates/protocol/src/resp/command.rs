//! The typed RESP commands tailcache executes; every field borrows the request bytes.

use super::args::{Args, Pairs};

/// One parsed RESP command. Keys and values borrow the read buffer.
///
/// Multi-key commands carry lazy [`Args`]: iterate them, no allocation happens. Every key
/// has been checked against [`Limits::max_key_len_bytes`](super::Limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    /// A command on the cached data: keys, the key count, flushes.
    Data(DataCommand<'a>),
    /// A command on the connection or the server itself: PING, HELLO, AUTH, CLIENT,
    /// COMMAND, INFO, CONFIG, QUIT.
    Connection(ConnectionCommand<'a>),
    /// Bytes Redis ignores without a reply (`*0\r\n`, a blank inline line).
    Empty,
}

/// A command on the cached data; the executor matches every one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataCommand<'a> {
    /// `GET key`.
    Get {
        /// The key.
        key: &'a [u8],
    },
    /// `SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ms-ts|KEEPTTL]`.
    Set(Set<'a>),
    /// `MGET key [key ...]`: reply with one bulk or null per key, in order.
    MGet {
        /// The keys, at least one.
        keys: Args<'a>,
    },
    /// `MSET key value [key value ...]`: always `+OK`.
    MSet {
        /// The pairs, at least one.
        pairs: Pairs<'a>,
    },
    /// `DEL key [key ...]`: reply with the number deleted.
    Del {
        /// The keys, at least one.
        keys: Args<'a>,
    },
    /// `EXISTS key [key ...]`: reply with how many exist (a key named twice counts twice).
    Exists {
        /// The keys, at least one.
        keys: Args<'a>,
    },
    /// `INCR`, `DECR`, `INCRBY`, `DECRBY` folded into one signed delta.
    IncrBy {
        /// The key.
        key: &'a [u8],
        /// What to add (DECR is -1, DECRBY n is -n; i64::MIN is refused for DECRBY).
        delta: i64,
    },
    /// `APPEND key value`: reply with the new length.
    Append {
        /// The key.
        key: &'a [u8],
        /// Bytes to append.
        value: &'a [u8],
    },
    /// `STRLEN key`.
    Strlen {
        /// The key.
        key: &'a [u8],
    },
    /// `GETDEL key`.
    GetDel {
        /// The key.
        key: &'a [u8],
    },
    /// `GETEX key [EX s|PX ms|EXAT ts|PXAT ms-ts|PERSIST]`.
    GetEx {
        /// The key.
        key: &'a [u8],
        /// What to do to the TTL; `None` leaves it.
        option: Option<GetExOption>,
    },
    /// `EXPIRE`/`PEXPIRE key time [NX|XX|GT|LT]`: reply `:1` if set, `:0` if not.
    Expire {
        /// The key.
        key: &'a [u8],
        /// The relative time (may be negative: the key is deleted).
        time: ExpireTime,
        /// The condition flags.
        condition: ExpireCondition,
    },
    /// `TTL key` (seconds) or `PTTL key` (milliseconds): `-2` missing, `-1` no expiry.
    Ttl {
        /// The key.
        key: &'a [u8],
        /// Which unit to reply in.
        unit: TimeUnit,
    },
    /// `PERSIST key`.
    Persist {
        /// The key.
        key: &'a [u8],
    },
    /// `TYPE key`: `+string` or `+none`.
    Type {
        /// The key.
        key: &'a [u8],
    },
    /// `DBSIZE`.
    DbSize,
    /// `FLUSHALL [ASYNC|SYNC]` or `FLUSHDB [ASYNC|SYNC]` (one database: the same thing).
    Flush {
        /// The mode asked for.
        mode: FlushMode,
    },
}

/// A command on the connection or the server itself; the connection answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionCommand<'a> {
    /// `PING [message]`: `+PONG` or the message as a bulk.
    Ping {
        /// The optional message.
        message: Option<&'a [u8]>,
    },
    /// `ECHO message`.
    Echo {
        /// The message.
        message: &'a [u8],
    },
    /// `INFO [section ...]`.
    Info {
        /// The sections asked for (empty: the default set).
        sections: Args<'a>,
    },
    /// `HELLO [protover [AUTH user pass] [SETNAME name]]`.
    Hello(Hello<'a>),
    /// `AUTH [username] password`.
    Auth {
        /// The user (`None`: the default user).
        username: Option<&'a [u8]>,
        /// The password.
        password: &'a [u8],
    },
    /// `SELECT 0` (any other index is refused at parse time: one database).
    Select,
    /// `CLIENT SETNAME name` (already checked: no spaces or special characters).
    ClientSetName {
        /// The new name; empty clears it.
        name: &'a [u8],
    },
    /// `CLIENT GETNAME`.
    ClientGetName,
    /// `CLIENT ID`.
    ClientId,
    /// `CLIENT INFO`.
    ClientInfo,
    /// `CLIENT LIST` (without Redis's `TYPE` and `ID` filters).
    ClientList,
    /// `CLIENT SETINFO LIB-NAME|LIB-VER value` (Redis 7.2; redis-py sends it).
    ClientSetInfo {
        /// Which attribute.
        attribute: ClientInfoAttribute,
        /// Its value.
        value: &'a [u8],
    },
    /// `COMMAND`: the command table.
    CommandTable,
    /// `COMMAND COUNT`.
    CommandCount,
    /// `COMMAND DOCS [name ...]`.
    CommandDocs {
        /// The commands asked for (empty: all).
        names: Args<'a>,
    },
    /// `COMMAND INFO [name ...]`.
    CommandInfo {
        /// The commands asked for (empty: all).
        names: Args<'a>,
    },
    /// `CONFIG GET pattern [pattern ...]`.
    ConfigGet {
        /// Globs over parameter names (at least one).
        patterns: Args<'a>,
    },
    /// `CONFIG RESETSTAT`: zero the statistics, as `stats reset` does.
    ConfigResetStat,
    /// `QUIT`: reply `+OK` and close.
    Quit,
}

/// The parsed options of a SET.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Set<'a> {
    /// The key.
    pub key: &'a [u8],
    /// The value.
    pub value: &'a [u8],
    /// NX / XX.
    pub condition: SetCondition,
    /// EX / PX / EXAT / PXAT (`None`: no expiry, or KEEPTTL when `keep_ttl`).
    pub expiry: Option<Expiry>,
    /// KEEPTTL: keep the existing item's expiry.
    pub keep_ttl: bool,
    /// GET: reply with the old value (or null) instead of `+OK`.
    pub get: bool,
}

/// When a SET stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetCondition {
    /// Always.
    Always,
    /// NX: only if the key does not exist.
    IfAbsent,
    /// XX: only if the key exists.
    IfPresent,
}

/// An expiry given to SET or GETEX; the value is already known to be positive and, for
/// seconds, convertible to milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// EX: seconds from now.
    Seconds(i64),
    /// PX: milliseconds from now.
    Millis(i64),
    /// EXAT: unix time in seconds.
    UnixSeconds(i64),
    /// PXAT: unix time in milliseconds.
    UnixMillis(i64),
}

impl Expiry {
    /// The absolute expiry in unix milliseconds, given the current time; `None` when
    /// Redis would answer `invalid expire time` (the sum overflows).
    pub fn to_unix_millis(self, now_unix_ms: i64) -> Option<i64> {
        match self {
            Expiry::Seconds(secs) => now_unix_ms.checked_add(secs.checked_mul(1000)?),
            Expiry::Millis(ms) => now_unix_ms.checked_add(ms),
            Expiry::UnixSeconds(secs) => secs.checked_mul(1000),
            Expiry::UnixMillis(ms) => Some(ms),
        }
    }
}

/// The GETEX option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetExOption {
    /// Set this expiry.
    Expire(Expiry),
    /// PERSIST: remove the expiry.
    Persist,
}

/// Seconds or milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// Seconds (EXPIRE, TTL).
    Seconds,
    /// Milliseconds (PEXPIRE, PTTL).
    Millis,
}

/// The relative time of an EXPIRE or PEXPIRE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpireTime {
    /// The amount as sent; may be zero or negative (the key is then deleted).
    pub amount: i64,
    /// Its unit.
    pub unit: TimeUnit,
}

impl ExpireTime {
    /// The absolute expiry in unix milliseconds; `None` when Redis would answer
    /// `invalid expire time in 'expire' command` (it overflows).
    pub fn to_unix_millis(self, now_unix_ms: i64) -> Option<i64> {
        let relative_ms = match self.unit {
            TimeUnit::Seconds => self.amount.checked_mul(1000)?,
            TimeUnit::Millis => self.amount,
        };
        now_unix_ms.checked_add(relative_ms)
    }

    /// The command's lowercase name, for `invalid expire time in '<name>' command`.
    pub fn command_name(self) -> &'static str {
        match self.unit {
            TimeUnit::Seconds => "expire",
            TimeUnit::Millis => "pexpire",
        }
    }
}

/// EXPIRE's flags. Valid combinations: none, NX, XX, GT, LT, XX+GT, XX+LT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExpireCondition {
    /// NX: only if the key has no expiry.
    pub nx: bool,
    /// XX: only if the key has an expiry.
    pub xx: bool,
    /// GT: only if the new expiry is later (no expiry counts as infinite).
    pub gt: bool,
    /// LT: only if the new expiry is earlier (no expiry counts as infinite).
    pub lt: bool,
}

/// FLUSHALL/FLUSHDB mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushMode {
    /// No mode given (Redis uses `lazyfree-lazy-user-flush`).
    Default,
    /// ASYNC.
    Async,
    /// SYNC.
    Sync,
}

/// RESP protocol version of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProtocolVersion {
    /// RESP2, every connection's start.
    #[default]
    Resp2,
    /// RESP3, after `HELLO 3`.
    Resp3,
}

/// The parsed HELLO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello<'a> {
    /// The version asked for; `None` keeps the current one.
    pub version: Option<ProtocolVersion>,
    /// AUTH username password.
    pub auth: Option<(&'a [u8], &'a [u8])>,
    /// SETNAME name (already checked like CLIENT SETNAME).
    pub client_name: Option<&'a [u8]>,
}

/// The attributes of CLIENT SETINFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientInfoAttribute {
    /// LIB-NAME.
    LibName,
    /// LIB-VER.
    LibVersion,
}
