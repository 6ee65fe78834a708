//! The table of commands tailcache knows: names, arities, key positions and flags.
//!
//! One table serves both the parser (name lookup and arity checks, Redis's rules) and
//! the `COMMAND` reply, so the two can never disagree.

/// Which command a name selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CommandId {
    Get,
    Set,
    MGet,
    MSet,
    Del,
    Exists,
    Incr,
    Decr,
    IncrBy,
    DecrBy,
    Append,
    Strlen,
    GetDel,
    GetEx,
    Expire,
    PExpire,
    Ttl,
    PTtl,
    Persist,
    Type,
    DbSize,
    FlushAll,
    FlushDb,
    Ping,
    Echo,
    Info,
    Hello,
    Auth,
    Select,
    Client,
    Command,
    Config,
    Quit,
}

/// What Redis's command table says about one command.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    pub(crate) id: CommandId,
    /// Lowercase name, as Redis prints it in errors and in `COMMAND`.
    pub name: &'static str,
    /// Redis arity: `n` exactly n arguments (name included), `-n` at least n.
    pub arity: i32,
    /// Redis command flags, as `COMMAND` lists them.
    pub flags: &'static [&'static str],
    /// Position of the first key (0: none).
    pub first_key: i32,
    /// Position of the last key (-1: the last argument).
    pub last_key: i32,
    /// Step between keys.
    pub key_step: i32,
    /// The name packed by [`pack_name`], for a fast case-insensitive lookup.
    packed_name: u64,
}

/// The longest command name in the table; longer names are unknown without a look.
const MAX_NAME_LEN: usize = 8;

/// Packs a name of up to 8 bytes, lowercased, into a u64 (first byte lowest).
const fn pack_name(name: &[u8]) -> u64 {
    let mut packed = 0u64;
    let mut index = 0;
    while index < name.len() {
        packed |= (name[index].to_ascii_lowercase() as u64) << (8 * index);
        index += 1;
    }
    packed
}

const fn spec(
    id: CommandId,
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    keys: (i32, i32, i32),
) -> CommandSpec {
    assert!(name.len() <= MAX_NAME_LEN);
    CommandSpec {
        id,
        name,
        arity,
        flags,
        first_key: keys.0,
        last_key: keys.1,
        key_step: keys.2,
        packed_name: pack_name(name.as_bytes()),
    }
}

const READ_FAST: &[&str] = &["readonly", "fast"];
const WRITE_FAST: &[&str] = &["write", "denyoom", "fast"];
const WRITE: &[&str] = &["write", "denyoom"];
const WRITE_ONLY_FAST: &[&str] = &["write", "fast"];
const CONNECTION: &[&str] = &["noscript", "loading", "stale", "fast"];
const NO_KEYS: (i32, i32, i32) = (0, 0, 0);
const ONE_KEY: (i32, i32, i32) = (1, 1, 1);
const ALL_KEYS: (i32, i32, i32) = (1, -1, 1);

/// Every command tailcache parses; the hottest first, since lookup is a scan.
pub(crate) static COMMAND_SPECS: &[CommandSpec] = &[
    spec(CommandId::Get, "get", 2, READ_FAST, ONE_KEY),
    spec(CommandId::Set, "set", -3, WRITE, ONE_KEY),
    spec(CommandId::MGet, "mget", -2, READ_FAST, ALL_KEYS),
    spec(CommandId::MSet, "mset", -3, WRITE, (1, -1, 2)),
    spec(CommandId::Del, "del", -2, &["write"], ALL_KEYS),
    spec(CommandId::Exists, "exists", -2, READ_FAST, ALL_KEYS),
    spec(CommandId::Incr, "incr", 2, WRITE_FAST, ONE_KEY),
    spec(CommandId::Decr, "decr", 2, WRITE_FAST, ONE_KEY),
    spec(CommandId::IncrBy, "incrby", 3, WRITE_FAST, ONE_KEY),
    spec(CommandId::DecrBy, "decrby", 3, WRITE_FAST, ONE_KEY),
    spec(CommandId::Append, "append", 3, WRITE_FAST, ONE_KEY),
    spec(CommandId::Strlen, "strlen", 2, READ_FAST, ONE_KEY),
    spec(CommandId::GetDel, "getdel", 2, WRITE_ONLY_FAST, ONE_KEY),
    spec(CommandId::GetEx, "getex", -2, WRITE_ONLY_FAST, ONE_KEY),
    spec(CommandId::Expire, "expire", -3, WRITE_ONLY_FAST, ONE_KEY),
    spec(CommandId::PExpire, "pexpire", -3, WRITE_ONLY_FAST, ONE_KEY),
    spec(CommandId::Ttl, "ttl", 2, READ_FAST, ONE_KEY),
    spec(CommandId::PTtl, "pttl", 2, READ_FAST, ONE_KEY),
    spec(CommandId::Persist, "persist", 2, WRITE_ONLY_FAST, ONE_KEY),
    spec(CommandId::Type, "type", 2, READ_FAST, ONE_KEY),
    spec(CommandId::DbSize, "dbsize", 1, READ_FAST, NO_KEYS),
    spec(CommandId::FlushAll, "flushall", -1, &["write"], NO_KEYS),
    spec(CommandId::FlushDb, "flushdb", -1, &["write"], NO_KEYS),
    spec(CommandId::Ping, "ping", -1, &["fast"], NO_KEYS),
    spec(CommandId::Echo, "echo", 2, &["fast"], NO_KEYS),
    spec(CommandId::Info, "info", -1, &["loading", "stale"], NO_KEYS),
    spec(CommandId::Hello, "hello", -1, CONNECTION, NO_KEYS),
    spec(CommandId::Auth, "auth", -2, CONNECTION, NO_KEYS),
    spec(
        CommandId::Select,
        "select",
        2,
        &["loading", "stale", "fast"],
        NO_KEYS,
    ),
    spec(CommandId::Client, "client", -2, &[], NO_KEYS),
    spec(
        CommandId::Command,
        "command",
        -1,
        &["loading", "stale"],
        NO_KEYS,
    ),
    spec(
        CommandId::Config,
        "config",
        -2,
        &["admin", "noscript", "loading", "stale"],
        NO_KEYS,
    ),
    spec(CommandId::Quit, "quit", -1, CONNECTION, NO_KEYS),
];

/// Every command tailcache understands, as `COMMAND` reports them.
pub fn command_specs() -> &'static [CommandSpec] {
    COMMAND_SPECS
}

/// Finds a command by name, ignoring ASCII case.
pub(crate) fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    if name.len() > MAX_NAME_LEN {
        return None;
    }
    let packed = pack_name(name);
    // The length check keeps `get\0` from matching `get`.
    COMMAND_SPECS
        .iter()
        .find(|spec| spec.packed_name == packed && spec.name.len() == name.len())
}

/// Whether `arg_count` (name included) satisfies a Redis arity.
pub(crate) fn arity_ok(arity: i32, arg_count: usize) -> bool {
    if arity >= 0 {
        arg_count == arity as usize
    } else {
        arg_count >= arity.unsigned_abs() as usize
    }
}
