//! The item format inside a segment: a compact header, then key, then value.
//!
//! ```text
//! +------+---------+------------------+-----------+----------+------------+-----+-------+
//! | bits | key_len | value_len varint | [flags 4] | [cas 8]  | [expiry 4] | key | value |
//! +------+---------+------------------+-----------+----------+------------+-----+-------+
//!   1 B     1 B        1..=5 B           if FLAGS   if CAS     if EXPIRY
//! ```
//!
//! Optional fields are present only when their bit is set, so a 16-byte key with a
//! 32-byte value, no flags and no TTL costs 3 bytes of header. An item's CAS is
//! derived from where it was written (see `Shard::cas_of`); only an item that was
//! moved without being changed (touch, merge) stores its CAS explicitly.

/// Client flags are stored (non-zero).
const BIT_FLAGS: u8 = 1;
/// An explicit CAS is stored (the item was moved, or its CAS was set by the client).
const BIT_CAS: u8 = 2;
/// An expiry time is stored (the item has a TTL).
const BIT_EXPIRY: u8 = 4;
/// Meta protocol: the item was invalidated and is served as stale.
pub const BIT_STALE: u8 = 8;
/// Meta protocol: a win token was handed out for this item.
pub const BIT_WIN: u8 = 16;

/// Smallest header: bits, key length, one varint byte.
pub const MIN_HEADER_BYTES: usize = 3;

/// A decoded item header and where the key and value are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    /// Header bits (meta bits included).
    pub bits: u8,
    /// Client flags (0 when not stored).
    pub client_flags: u32,
    /// Explicit CAS, if stored.
    pub explicit_cas: Option<u64>,
    /// Absolute expiry in unix seconds, 0 = never.
    pub expiry_unix_secs: u32,
    /// Offset of the key from the start of the item.
    pub key_start: usize,
    /// Key length in bytes.
    pub key_len: usize,
    /// Value length in bytes.
    pub value_len: usize,
}

impl Item {
    /// Offset of the value from the start of the item.
    pub fn value_start(&self) -> usize {
        self.key_start + self.key_len
    }

    /// Total bytes the item takes in its segment.
    pub fn total_len(&self) -> usize {
        self.value_start() + self.value_len
    }
}

/// What to write in a new item's header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeaderFields {
    /// Meta bits to set ([`BIT_STALE`], [`BIT_WIN`]).
    pub meta_bits: u8,
    /// Client flags.
    pub client_flags: u32,
    /// CAS to store explicitly.
    pub explicit_cas: Option<u64>,
    /// Absolute expiry, 0 = never.
    pub expiry_unix_secs: u32,
}

/// Bytes the header for these fields and this value length takes.
pub fn header_len(fields: &HeaderFields, value_len: usize) -> usize {
    let mut len = 2 + varint_len(value_len as u32);
    if fields.client_flags != 0 {
        len += 4;
    }
    if fields.explicit_cas.is_some() {
        len += 8;
    }
    if fields.expiry_unix_secs != 0 {
        len += 4;
    }
    len
}

fn varint_len(mut value: u32) -> usize {
    let mut len = 1;
    while value >= 0x80 {
        value >>= 7;
        len += 1;
    }
    len
}

/// Writes the header and key into `out` and returns the value's offset in `out`.
/// `out` must be at least `header_len(..) + key.len() + value_len` long.
pub fn write_head(out: &mut [u8], fields: &HeaderFields, key: &[u8], value_len: usize) -> usize {
    debug_assert!(!key.is_empty() && key.len() <= crate::MAX_KEY_LEN);
    let mut bits = fields.meta_bits & (BIT_STALE | BIT_WIN);
    if fields.client_flags != 0 {
        bits |= BIT_FLAGS;
    }
    if fields.explicit_cas.is_some() {
        bits |= BIT_CAS;
    }
    if fields.expiry_unix_secs != 0 {
        bits |= BIT_EXPIRY;
    }
    out[0] = bits;
    out[1] = key.len() as u8;
    let mut at = 2;
    let mut rest = value_len as u32;
    loop {
        let byte = (rest & 0x7f) as u8;
        rest >>= 7;
        out[at] = if rest == 0 { byte } else { byte | 0x80 };
        at += 1;
        if rest == 0 {
            break;
        }
    }
    if fields.client_flags != 0 {
        out[at..at + 4].copy_from_slice(&fields.client_flags.to_le_bytes());
        at += 4;
    }
    if let Some(cas) = fields.explicit_cas {
        out[at..at + 8].copy_from_slice(&cas.to_le_bytes());
        at += 8;
    }
    if fields.expiry_unix_secs != 0 {
        out[at..at + 4].copy_from_slice(&fields.expiry_unix_secs.to_le_bytes());
        at += 4;
    }
    out[at..at + key.len()].copy_from_slice(key);
    at + key.len()
}

/// Decodes the item that starts at `data[0]`. The engine wrote it, so it is well formed.
pub fn read(data: &[u8]) -> Item {
    let bits = data[0];
    let key_len = data[1] as usize;
    let mut at = 2;
    let mut value_len = 0u32;
    let mut shift = 0;
    loop {
        let byte = data[at];
        at += 1;
        value_len |= ((byte & 0x7f) as u32) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            break;
        }
    }
    let mut client_flags = 0;
    if bits & BIT_FLAGS != 0 {
        client_flags = u32::from_le_bytes(data[at..at + 4].try_into().expect("4 bytes"));
        at += 4;
    }
    let mut explicit_cas = None;
    if bits & BIT_CAS != 0 {
        explicit_cas = Some(u64::from_le_bytes(
            data[at..at + 8].try_into().expect("8 bytes"),
        ));
        at += 8;
    }
    let mut expiry_unix_secs = 0;
    if bits & BIT_EXPIRY != 0 {
        expiry_unix_secs = u32::from_le_bytes(data[at..at + 4].try_into().expect("4 bytes"));
        at += 4;
    }
    Item {
        bits,
        client_flags,
        explicit_cas,
        expiry_unix_secs,
        key_start: at,
        key_len,
        value_len: value_len as usize,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(fields: HeaderFields, key: &[u8], value: &[u8]) -> Item {
        let mut buf = vec![0u8; header_len(&fields, value.len()) + key.len() + value.len()];
        let value_at = write_head(&mut buf, &fields, key, value.len());
        buf[value_at..].copy_from_slice(value);
        let item = read(&buf);
        assert_eq!(item.total_len(), buf.len());
        assert_eq!(&buf[item.key_start..item.value_start()], key);
        assert_eq!(&buf[item.value_start()..], value);
        item
    }

    #[test]
    fn minimal_item_has_three_byte_header() {
        let item = round_trip(HeaderFields::default(), &[b'k'; 16], &[b'v'; 32]);
        assert_eq!(item.key_start, MIN_HEADER_BYTES);
        assert_eq!(item.total_len(), 51);
        assert_eq!(item.explicit_cas, None);
    }

    #[test]
    fn optional_fields_round_trip() {
        let fields = HeaderFields {
            meta_bits: BIT_STALE | BIT_WIN,
            client_flags: u32::MAX,
            explicit_cas: Some(u64::MAX - 3),
            expiry_unix_secs: 1_700_000_000,
        };
        let value = vec![7u8; 300_000];
        let item = round_trip(fields, b"key", &value);
        assert_eq!(item.client_flags, u32::MAX);
        assert_eq!(item.explicit_cas, Some(u64::MAX - 3));
        assert_eq!(item.expiry_unix_secs, 1_700_000_000);
        assert_eq!(item.bits & (BIT_STALE | BIT_WIN), BIT_STALE | BIT_WIN);
        assert_eq!(
            item.key_start,
            2 + 3 + 4 + 8 + 4,
            "bits, key len, varint, flags, cas, expiry"
        );
    }

    #[test]
    fn empty_value_round_trips() {
        let item = round_trip(HeaderFields::default(), b"k", b"");
        assert_eq!(item.value_len, 0);
    }
}
