//! Encoders for meta replies: return codes, return flags in request order, `VA` values,
//! `MN` and `ME`.
//!
//! Quiet mode (`q`) as memcached 1.6 applies it, handled by [`encode_meta_status`]:
//! mg hides `EN`; ms, md and ma hide `HD`. Every other code (`NS`, `EX`, `NF`, `VA`,
//! and all errors) is always sent. Pipelining clients end a quiet batch with `mn`.

use super::meta::{MetaCommand, MetaKey};
use super::meta_flags::MetaFlags;
use crate::number::{write_i64, write_u64};

/// Meta return codes (other than `VA`, see [`encode_meta_value_header`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetaStatus {
    /// `HD`: success (stored, deleted, hit without value).
    Hd,
    /// `EN`: mg miss; also me miss.
    En,
    /// `NF`: not found.
    Nf,
    /// `NS`: not stored.
    Ns,
    /// `EX`: cas mismatch.
    Ex,
}

impl MetaStatus {
    fn code(self) -> &'static [u8] {
        match self {
            MetaStatus::Hd => b"HD",
            MetaStatus::En => b"EN",
            MetaStatus::Nf => b"NF",
            MetaStatus::Ns => b"NS",
            MetaStatus::Ex => b"EX",
        }
    }
}

/// What the server knows about the item, for the return flags the client asked for.
/// A `None` field's flag is left out (e.g. on a miss only `k`, `O` and `b` are echoed,
/// as memcached does; ms returns only `c`, `k`, `b` and `O`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetaItem {
    /// `c`: cas.
    pub cas: Option<u64>,
    /// `f`: client flags.
    pub client_flags: Option<u32>,
    /// `h`: hit before this command.
    pub hit_before: Option<bool>,
    /// `l`: seconds since last access, before this command.
    pub last_access_secs: Option<u64>,
    /// `s`: value size in bytes.
    pub size_bytes: Option<u64>,
    /// `t`: remaining TTL in seconds, -1 for none.
    pub ttl_remaining_secs: Option<i64>,
    /// `W`: this client won the recache right.
    pub won: bool,
    /// `X`: the item is stale.
    pub stale: bool,
    /// `Z`: another client already holds the recache right.
    pub win_token_sent: bool,
}

/// Whether `q` hides `status` for `command`.
pub fn quiet_hides(command: MetaCommand, status: MetaStatus) -> bool {
    match command {
        MetaCommand::Get => status == MetaStatus::En,
        MetaCommand::Set | MetaCommand::Delete | MetaCommand::Arithmetic => {
            status == MetaStatus::Hd
        }
        MetaCommand::Noop | MetaCommand::Debug => false,
    }
}

/// Appends `<CD> <flags>*\r\n`, unless `q` hides it; returns whether anything was written.
pub fn encode_meta_status(
    out: &mut Vec<u8>,
    command: MetaCommand,
    status: MetaStatus,
    key: &MetaKey<'_>,
    flags: &MetaFlags<'_>,
    item: &MetaItem,
) -> bool {
    // memcached finds an over-long opaque while it writes the reply: the reply is then
    // the error, whatever the outcome (see `MetaFlags::opaque_too_long`).
    if flags.opaque_too_long() {
        out.extend_from_slice(b"CLIENT_ERROR opaque token too long\r\n");
        return true;
    }
    if flags.quiet() && quiet_hides(command, status) {
        return false;
    }
    out.extend_from_slice(status.code());
    encode_return_flags(out, key, flags, item);
    out.extend_from_slice(b"\r\n");
    true
}

/// Appends `VA <bytes> <flags>*\r\n`; the caller appends the value and then
/// [`encode_data_trailer`](super::classic_encode::encode_data_trailer). `VA` is never quiet.
pub fn encode_meta_value_header(
    out: &mut Vec<u8>,
    value_bytes: usize,
    key: &MetaKey<'_>,
    flags: &MetaFlags<'_>,
    item: &MetaItem,
) {
    out.extend_from_slice(b"VA ");
    write_u64(out, value_bytes as u64);
    encode_return_flags(out, key, flags, item);
    out.extend_from_slice(b"\r\n");
}

/// Appends ` <flag><value>` for each return flag, in the order the client sent them,
/// then ` Z`, ` X`, ` W` as they apply: memcached 1.6.18's order (`HD Z X`, `HD X W`).
pub fn encode_return_flags(
    out: &mut Vec<u8>,
    key: &MetaKey<'_>,
    flags: &MetaFlags<'_>,
    item: &MetaItem,
) {
    for token in flags
        .as_bytes()
        .split(|&b| b == b' ')
        .filter(|token| !token.is_empty())
    {
        match token[0] {
            b'O' => encode_flag_bytes(out, b'O', &token[1..]),
            b'k' => {
                out.extend_from_slice(b" k");
                key.echo(out);
                if key.echoes_base64() {
                    out.extend_from_slice(b" b");
                }
            }
            b'c' => encode_flag_u64(out, b'c', item.cas),
            b'f' => encode_flag_u64(out, b'f', item.client_flags.map(u64::from)),
            b'h' => encode_flag_u64(out, b'h', item.hit_before.map(u64::from)),
            b'l' => encode_flag_u64(out, b'l', item.last_access_secs),
            b's' => encode_flag_u64(out, b's', item.size_bytes),
            b't' => {
                if let Some(ttl) = item.ttl_remaining_secs {
                    out.extend_from_slice(b" t");
                    write_i64(out, ttl);
                }
            }
            _ => {}
        }
    }
    for (set, text) in [
        (item.win_token_sent, b" Z"),
        (item.stale, b" X"),
        (item.won, b" W"),
    ] {
        if set {
            out.extend_from_slice(text);
        }
    }
}

fn encode_flag_bytes(out: &mut Vec<u8>, letter: u8, value: &[u8]) {
    out.push(b' ');
    out.push(letter);
    out.extend_from_slice(value);
}

fn encode_flag_u64(out: &mut Vec<u8>, letter: u8, value: Option<u64>) {
    if let Some(value) = value {
        out.push(b' ');
        out.push(letter);
        write_u64(out, value);
    }
}

/// Appends `MN\r\n`.
pub fn encode_meta_noop(out: &mut Vec<u8>) {
    out.extend_from_slice(b"MN\r\n");
}

/// Item internals for an `me` reply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetaDebugInfo {
    /// Remaining TTL in seconds, -1 for none.
    pub exptime_secs: i64,
    /// Seconds since last access.
    pub last_access_secs: u64,
    /// The cas.
    pub cas: u64,
    /// Fetched before.
    pub fetched: bool,
    /// Size class id (tailcache: TTL bucket or 1).
    pub class_id: u32,
    /// Total item size in bytes, header included.
    pub size_bytes: u64,
}

/// Appends `ME <key> exp=.. la=.. cas=.. fetch=yes|no cls=.. size=..\r\n`; the key is
/// echoed as [`MetaKey::echo`] writes it (base64 for an item stored with a binary key).
pub fn encode_meta_debug(out: &mut Vec<u8>, key: &MetaKey<'_>, info: &MetaDebugInfo) {
    out.extend_from_slice(b"ME ");
    key.echo(out);
    out.extend_from_slice(b" exp=");
    write_i64(out, info.exptime_secs);
    out.extend_from_slice(b" la=");
    write_u64(out, info.last_access_secs);
    out.extend_from_slice(b" cas=");
    write_u64(out, info.cas);
    out.extend_from_slice(if info.fetched {
        b" fetch=yes"
    } else {
        b" fetch=no"
    });
    out.extend_from_slice(b" cls=");
    write_u64(out, u64::from(info.class_id));
    out.extend_from_slice(b" size=");
    write_u64(out, info.size_bytes);
    out.extend_from_slice(b"\r\n");
}
