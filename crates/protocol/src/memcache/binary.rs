//! memcached's binary protocol (1.6 `proto_bin.c`): a 24-byte header, then extras, key
//! and value. Clients that still speak it (SASL-era libraries, spymemcached, libmemcached
//! in binary mode, `memcached -B binary` deployments) work unchanged.
//!
//! [`parse_binary`] checks a request the way memcached does, in memcached's order: the
//! magic byte (anything else closes the connection), then the lengths (a key or extras
//! longer than the body: `Unknown command`, then close), the key limit (`Invalid
//! arguments`, then close), then each opcode's shape (`Invalid arguments`, then close).
//! An unknown opcode is answered and its packet skipped. A value too large for `-I` is
//! answered `Too large.` and skipped as it arrives, as memcached swallows it. The reply
//! to an error is written by [`crate::memcache::binary_encode::encode_error`].

use super::Limits;
use crate::ErrorAction;

/// First byte of every request packet.
pub const REQUEST_MAGIC: u8 = 0x80;
/// First byte of every response packet.
pub const RESPONSE_MAGIC: u8 = 0x81;
/// Bytes of a request or response header.
pub const HEADER_BYTES: usize = 24;

/// The opcodes memcached 1.6 serves (`protocol_binary.h`); others are unknown.
pub mod opcode {
    /// get
    pub const GET: u8 = 0x00;
    /// set
    pub const SET: u8 = 0x01;
    /// add
    pub const ADD: u8 = 0x02;
    /// replace
    pub const REPLACE: u8 = 0x03;
    /// delete
    pub const DELETE: u8 = 0x04;
    /// increment
    pub const INCREMENT: u8 = 0x05;
    /// decrement
    pub const DECREMENT: u8 = 0x06;
    /// quit
    pub const QUIT: u8 = 0x07;
    /// flush
    pub const FLUSH: u8 = 0x08;
    /// get, no reply on a miss
    pub const GETQ: u8 = 0x09;
    /// noop (also ends a pipeline of quiet requests)
    pub const NOOP: u8 = 0x0a;
    /// version
    pub const VERSION: u8 = 0x0b;
    /// get, the reply carries the key
    pub const GETK: u8 = 0x0c;
    /// getk, no reply on a miss
    pub const GETKQ: u8 = 0x0d;
    /// append
    pub const APPEND: u8 = 0x0e;
    /// prepend
    pub const PREPEND: u8 = 0x0f;
    /// stat
    pub const STAT: u8 = 0x10;
    /// set, no reply on success
    pub const SETQ: u8 = 0x11;
    /// add, no reply on success
    pub const ADDQ: u8 = 0x12;
    /// replace, no reply on success
    pub const REPLACEQ: u8 = 0x13;
    /// delete, no reply on success
    pub const DELETEQ: u8 = 0x14;
    /// increment, no reply on success
    pub const INCREMENTQ: u8 = 0x15;
    /// decrement, no reply on success
    pub const DECREMENTQ: u8 = 0x16;
    /// quit without a reply
    pub const QUITQ: u8 = 0x17;
    /// flush, no reply on success
    pub const FLUSHQ: u8 = 0x18;
    /// append, no reply on success
    pub const APPENDQ: u8 = 0x19;
    /// prepend, no reply on success
    pub const PREPENDQ: u8 = 0x1a;
    /// touch
    pub const TOUCH: u8 = 0x1c;
    /// get and touch
    pub const GAT: u8 = 0x1d;
    /// get and touch, no reply on a miss
    pub const GATQ: u8 = 0x1e;
    /// get and touch, the reply carries the key
    pub const GATK: u8 = 0x23;
    /// gatk, no reply on a miss
    pub const GATKQ: u8 = 0x24;
}

/// A response status (`protocol_binary_response_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// 0x00
    Success,
    /// 0x01 `Not found`
    KeyNotFound,
    /// 0x02 `Data exists for key.`
    KeyExists,
    /// 0x03 `Too large.`
    TooLarge,
    /// 0x04 `Invalid arguments`
    InvalidArguments,
    /// 0x05 `Not stored.`
    NotStored,
    /// 0x06 `Non-numeric server-side value for incr or decr`
    NonNumeric,
    /// 0x20 `Auth failure.` (also a refused flush under `-F`)
    AuthError,
    /// 0x81 `Unknown command` (also the SASL opcodes, as in a memcached built without
    /// SASL)
    UnknownCommand,
    /// 0x82 `Out of memory`
    OutOfMemory,
}

impl Status {
    /// The status on the wire.
    pub fn code(self) -> u16 {
        match self {
            Status::Success => 0x00,
            Status::KeyNotFound => 0x01,
            Status::KeyExists => 0x02,
            Status::TooLarge => 0x03,
            Status::InvalidArguments => 0x04,
            Status::NotStored => 0x05,
            Status::NonNumeric => 0x06,
            Status::AuthError => 0x20,
            Status::UnknownCommand => 0x81,
            Status::OutOfMemory => 0x82,
        }
    }

    /// The body memcached sends with an error status.
    pub fn message(self) -> &'static [u8] {
        match self {
            Status::Success => b"",
            Status::KeyNotFound => b"Not found",
            Status::KeyExists => b"Data exists for key.",
            Status::TooLarge => b"Too large.",
            Status::InvalidArguments => b"Invalid arguments",
            Status::NotStored => b"Not stored.",
            Status::NonNumeric => b"Non-numeric server-side value for incr or decr",
            Status::AuthError => b"Auth failure.",
            Status::UnknownCommand => b"Unknown command",
            Status::OutOfMemory => b"Out of memory",
        }
    }
}

/// The parts of a request header every reply echoes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BinaryHeader {
    /// The request's opcode, echoed in the response.
    pub opcode: u8,
    /// Echoed in the response, so a client matches replies to quiet requests.
    pub opaque: u32,
    /// The request's CAS (0: none).
    pub cas: u64,
}

/// How a binary storage command combines its value with an existing item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryStoreMode {
    /// set
    Set,
    /// add
    Add,
    /// replace
    Replace,
    /// append (flags and expiry are kept)
    Append,
    /// prepend (flags and expiry are kept)
    Prepend,
}

/// One binary request, borrowing the input buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BinaryCommand<'a> {
    /// get, getq, getk, getkq, and with `touch_exptime` gat, gatq, gatk, gatkq.
    Get {
        key: &'a [u8],
        /// No reply on a miss.
        quiet: bool,
        /// The reply carries the key.
        with_key: bool,
        /// Get and touch with this exptime.
        touch_exptime: Option<u32>,
    },
    /// touch: the reply carries the flags, not the value.
    Touch { key: &'a [u8], exptime: u32 },
    /// set, add, replace, append, prepend and their quiet forms.
    Store {
        mode: BinaryStoreMode,
        key: &'a [u8],
        value: &'a [u8],
        /// 0 for append and prepend (they keep the item's).
        client_flags: u32,
        /// 0 for append and prepend.
        exptime: u32,
        quiet: bool,
    },
    /// delete, deleteq.
    Delete { key: &'a [u8], quiet: bool },
    /// increment, decrement and their quiet forms.
    Arithmetic {
        key: &'a [u8],
        increment: bool,
        delta: u64,
        /// Stored on a miss unless `exptime` is `0xffffffff`.
        initial: u64,
        exptime: u32,
        quiet: bool,
    },
    /// quit (reply, then close) and quitq (close).
    Quit { quiet: bool },
    /// flush, flushq, with an optional delay.
    Flush { exptime: Option<u32>, quiet: bool },
    /// noop.
    Noop,
    /// version.
    Version,
    /// stat with an optional group in the key (`settings`, `items`, `detail dump`...).
    Stat { group: &'a [u8] },
}

/// A parsed binary request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryRequest<'a> {
    /// What the reply echoes.
    pub header: BinaryHeader,
    /// The command.
    pub command: BinaryCommand<'a>,
}

/// The outcome of a successful binary parse (the crate's one shape).
pub type BinaryParsed<'a> = crate::Parsed<BinaryRequest<'a>>;

/// A request memcached refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BinaryError {
    /// The error reply's status and the header it echoes; `None`: close without one
    /// (a bad magic byte).
    pub reply: Option<(Status, BinaryHeader)>,
    /// Close, or skip the packet.
    pub action: ErrorAction,
}

/// Extras of a set, add or replace: flags and exptime.
const STORE_EXTRAS_BYTES: usize = 8;
/// Extras of an increment or decrement: delta, initial value and exptime.
const ARITHMETIC_EXTRAS_BYTES: usize = 20;
/// Extras of a touch or get-and-touch: exptime.
const TOUCH_EXTRAS_BYTES: usize = 4;

/// Parses the binary request at the front of `input` (see the module docs).
pub fn parse_binary<'a>(input: &'a [u8], limits: &Limits) -> Result<BinaryParsed<'a>, BinaryError> {
    let Some(raw) = input.get(..HEADER_BYTES) else {
        return Ok(BinaryParsed::Incomplete {
            needed_bytes_hint: HEADER_BYTES,
        });
    };
    if raw[0] != REQUEST_MAGIC {
        return Err(BinaryError {
            reply: None,
            action: ErrorAction::Close,
        });
    }
    let opcode = raw[1];
    let key_bytes = usize::from(u16::from_be_bytes([raw[2], raw[3]]));
    let extras_bytes = usize::from(raw[4]);
    let body_bytes = u32::from_be_bytes([raw[8], raw[9], raw[10], raw[11]]) as usize;
    let header = BinaryHeader {
        opcode,
        opaque: u32::from_be_bytes([raw[12], raw[13], raw[14], raw[15]]),
        cas: u64::from_be_bytes([
            raw[16], raw[17], raw[18], raw[19], raw[20], raw[21], raw[22], raw[23],
        ]),
    };
    let close_with = |status| BinaryError {
        reply: Some((status, header)),
        action: ErrorAction::Close,
    };
    if key_bytes + extras_bytes > body_bytes {
        return Err(close_with(Status::UnknownCommand));
    }
    if key_bytes > limits.max_key_bytes {
        return Err(close_with(Status::InvalidArguments));
    }
    let value_bytes = body_bytes - key_bytes - extras_bytes;
    let packet_bytes = HEADER_BYTES.saturating_add(body_bytes);
    let shape = Shape {
        key_bytes,
        extras_bytes,
        value_bytes,
    };
    let Some(kind) = kind_of(opcode) else {
        // Answered, and its whole packet skipped. (memcached skips the body's length
        // again after the key and extras it already read, which misframes a client
        // that sends either; the packet's own length is skipped here.)
        return Err(BinaryError {
            reply: Some((Status::UnknownCommand, header)),
            action: ErrorAction::Skip {
                bytes: packet_bytes,
            },
        });
    };
    if !shape.fits(kind) {
        return Err(close_with(Status::InvalidArguments));
    }
    if let Kind::Store(_) | Kind::Append(_) = kind {
        // Refused only once its key is in (as memcached reads header, extras and key
        // before it looks): a refused set drops the key's old value, whatever the
        // segment boundaries. Extras and key are at most 255 + 250 bytes.
        let head_bytes = HEADER_BYTES + extras_bytes + key_bytes;
        if value_bytes > limits.max_value_bytes && input.len() < head_bytes {
            return Ok(BinaryParsed::Incomplete {
                needed_bytes_hint: head_bytes,
            });
        }
        if value_bytes > limits.max_value_bytes {
            return Err(BinaryError {
                reply: Some((Status::TooLarge, header)),
                action: ErrorAction::Skip {
                    bytes: packet_bytes,
                },
            });
        }
    }
    let Some(packet) = input.get(..packet_bytes) else {
        return Ok(BinaryParsed::Incomplete {
            needed_bytes_hint: packet_bytes,
        });
    };
    let extras = &packet[HEADER_BYTES..HEADER_BYTES + extras_bytes];
    let key = &packet[HEADER_BYTES + extras_bytes..HEADER_BYTES + extras_bytes + key_bytes];
    let value = &packet[HEADER_BYTES + extras_bytes + key_bytes..];
    Ok(BinaryParsed::Complete {
        request: BinaryRequest {
            header,
            command: command_of(kind, extras, key, value),
        },
        consumed_bytes: packet_bytes,
    })
}

/// The lengths of a request's parts.
#[derive(Debug, Clone, Copy)]
struct Shape {
    key_bytes: usize,
    extras_bytes: usize,
    value_bytes: usize,
}

impl Shape {
    /// memcached's per-opcode checks in `dispatch_bin_command`.
    fn fits(self, kind: Kind) -> bool {
        let Shape {
            key_bytes: key,
            extras_bytes: extras,
            value_bytes: value,
        } = self;
        match kind {
            Kind::Version | Kind::Noop | Kind::Quit { .. } => key == 0 && extras == 0 && value == 0,
            Kind::Flush { .. } => key == 0 && value == 0 && (extras == 0 || extras == 4),
            Kind::Store(_) => extras == STORE_EXTRAS_BYTES && key != 0,
            Kind::Get { touch: false, .. } => extras == 0 && value == 0 && key > 0,
            Kind::Get { touch: true, .. } | Kind::Touch => extras == TOUCH_EXTRAS_BYTES && key != 0,
            Kind::Delete { .. } => key > 0 && extras == 0 && value == 0,
            Kind::Arithmetic { .. } => key > 0 && extras == ARITHMETIC_EXTRAS_BYTES && value == 0,
            Kind::Append(_) => key > 0 && extras == 0,
            Kind::Stat => extras == 0,
        }
    }
}

/// What an opcode asks for, before its body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Get {
        quiet: bool,
        with_key: bool,
        touch: bool,
    },
    Touch,
    Store(StoreKind),
    Append(StoreKind),
    Delete {
        quiet: bool,
    },
    Arithmetic {
        increment: bool,
        quiet: bool,
    },
    Quit {
        quiet: bool,
    },
    Flush {
        quiet: bool,
    },
    Noop,
    Version,
    Stat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StoreKind {
    mode: BinaryStoreMode,
    quiet: bool,
}

fn kind_of(code: u8) -> Option<Kind> {
    use opcode::*;
    let get = |quiet, with_key, touch| Kind::Get {
        quiet,
        with_key,
        touch,
    };
    let store = |mode, quiet| Kind::Store(StoreKind { mode, quiet });
    let append = |mode, quiet| Kind::Append(StoreKind { mode, quiet });
    Some(match code {
        GET => get(false, false, false),
        GETQ => get(true, false, false),
        GETK => get(false, true, false),
        GETKQ => get(true, true, false),
        GAT => get(false, false, true),
        GATQ => get(true, false, true),
        GATK => get(false, true, true),
        GATKQ => get(true, true, true),
        TOUCH => Kind::Touch,
        SET => store(BinaryStoreMode::Set, false),
        SETQ => store(BinaryStoreMode::Set, true),
        ADD => store(BinaryStoreMode::Add, false),
        ADDQ => store(BinaryStoreMode::Add, true),
        REPLACE => store(BinaryStoreMode::Replace, false),
        REPLACEQ => store(BinaryStoreMode::Replace, true),
        APPEND => append(BinaryStoreMode::Append, false),
        APPENDQ => append(BinaryStoreMode::Append, true),
        PREPEND => append(BinaryStoreMode::Prepend, false),
        PREPENDQ => append(BinaryStoreMode::Prepend, true),
        DELETE => Kind::Delete { quiet: false },
        DELETEQ => Kind::Delete { quiet: true },
        INCREMENT | INCREMENTQ | DECREMENT | DECREMENTQ => Kind::Arithmetic {
            increment: matches!(code, INCREMENT | INCREMENTQ),
            quiet: matches!(code, INCREMENTQ | DECREMENTQ),
        },
        QUIT => Kind::Quit { quiet: false },
        QUITQ => Kind::Quit { quiet: true },
        FLUSH => Kind::Flush { quiet: false },
        FLUSHQ => Kind::Flush { quiet: true },
        NOOP => Kind::Noop,
        VERSION => Kind::Version,
        STAT => Kind::Stat,
        _ => return None,
    })
}

fn be_u32(bytes: &[u8]) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[..4]);
    u32::from_be_bytes(word)
}

fn be_u64(bytes: &[u8]) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[..8]);
    u64::from_be_bytes(word)
}

/// The command of a request whose shape was checked by [`Shape::fits`].
fn command_of<'a>(kind: Kind, extras: &[u8], key: &'a [u8], value: &'a [u8]) -> BinaryCommand<'a> {
    match kind {
        Kind::Get {
            quiet,
            with_key,
            touch,
        } => BinaryCommand::Get {
            key,
            quiet,
            with_key,
            touch_exptime: touch.then(|| be_u32(extras)),
        },
        Kind::Touch => BinaryCommand::Touch {
            key,
            exptime: be_u32(extras),
        },
        Kind::Store(StoreKind { mode, quiet }) => BinaryCommand::Store {
            mode,
            key,
            value,
            client_flags: be_u32(extras),
            exptime: be_u32(&extras[4..]),
            quiet,
        },
        Kind::Append(StoreKind { mode, quiet }) => BinaryCommand::Store {
            mode,
            key,
            value,
            client_flags: 0,
            exptime: 0,
            quiet,
        },
        Kind::Delete { quiet } => BinaryCommand::Delete { key, quiet },
        Kind::Arithmetic { increment, quiet } => BinaryCommand::Arithmetic {
            key,
            increment,
            delta: be_u64(extras),
            initial: be_u64(&extras[8..]),
            exptime: be_u32(&extras[16..]),
            quiet,
        },
        Kind::Quit { quiet } => BinaryCommand::Quit { quiet },
        Kind::Flush { quiet } => BinaryCommand::Flush {
            exptime: (extras.len() == 4).then(|| be_u32(extras)),
            quiet,
        },
        Kind::Noop => BinaryCommand::Noop,
        Kind::Version => BinaryCommand::Version,
        Kind::Stat => BinaryCommand::Stat { group: key },
    }
}
