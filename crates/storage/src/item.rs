//! The item format inside a segment: a compact header, then key, then value.
//!
//! ```text
//! +------+---------+------------------+----------+-----------+---------+------------+-----+-------+
//! | bits | key_len | value_len varint | access 2 | [flags 4] | [cas 8] | [expiry 4] | key | value |
//! +------+---------+------------------+----------+-----------+---------+------------+-----+-------+
//!   1 B     1 B        1..=5 B                     if FLAGS    if CAS    if EXPIRY
//! ```
//!
//! Optional fields are present only when their bit is set, so a 16-byte key with a
//! 32-byte value, no flags and no TTL costs 5 bytes of header. `access` is the last
//! access time (memcached's item time, meta `l`) in seconds after its segment's time
//! base, saturating: coarse on purpose, two bytes instead of four. An item's CAS is
//! derived from where it was written (`segment cas_base + offset`); an item stores
//! its CAS only when that would not do: it was moved (touch, merge) and must keep
//! its CAS, the derived one would not be larger than the key's previous CAS, or the
//! client chose it (meta `E`).
//!
//! Only `bits`, the access field and the expiry field are ever rewritten in place (under the item's
//! chain lock); key and value bytes never change while an index slot points to them.

/// Client flags are stored (non-zero).
const BIT_FLAGS: u8 = 1;
/// An explicit CAS is stored.
const BIT_CAS: u8 = 2;
/// An expiry time is stored (the item has a TTL).
const BIT_EXPIRY: u8 = 4;
/// Meta protocol: the item was invalidated and is served as stale.
pub(crate) const BIT_STALE: u8 = 8;
/// Meta protocol: a win token was handed out for this item.
pub(crate) const BIT_WIN: u8 = 16;
/// The item was unlinked from the index (replaced, deleted, given up): set under the
/// item's bucket lock once it is, so a job emptying its segment passes it by without
/// looking it up. Never cleared: an unlinked item is never linked again.
pub(crate) const BIT_DEAD: u8 = 32;
/// Meta protocol: the item was stored with a base64 (binary) key (`ms … b`), so `mg k`
/// and `me` print its key in base64.
pub(crate) const BIT_KEY_BINARY: u8 = 64;
/// Bits that describe the item rather than the header's layout.
pub(crate) const META_BITS: u8 = BIT_STALE | BIT_WIN | BIT_KEY_BINARY;

/// Smallest header: bits, key length, one varint byte, access time.
pub(crate) const MIN_HEADER_BYTES: usize = 3 + ACCESS_BYTES;
/// Largest header: bits, key length, 5 varint bytes, access time, flags, CAS, expiry.
pub(crate) const MAX_HEADER_BYTES: usize = 2 + 5 + ACCESS_BYTES + 4 + 8 + 4;
/// Bytes of the access-time field.
pub(crate) const ACCESS_BYTES: usize = 2;
/// A segment's time base is this far before it opens, so an item moved into it
/// (touch, merge) keeps an access time up to 4 hours old exactly; new writes are
/// exact for the 14 hours after that.
pub(crate) const ACCESS_LOOKBACK_SECS: u32 = 4 * 3600;
/// Bytes an explicit CAS adds to a header.
pub(crate) const EXPLICIT_CAS_BYTES: usize = 8;

/// What a header says: the item's fields and where its key and value are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// Header bits (meta bits included).
    pub bits: u8,
    /// Client flags (0 when not stored).
    pub client_flags: u32,
    /// Explicit CAS, if stored.
    pub explicit_cas: Option<u64>,
    /// Absolute expiry in unix seconds, 0 = never.
    pub expiry_unix_secs: u32,
    /// Last access, in seconds after the segment's time base (saturating).
    pub access_secs: u16,
    /// Bytes of the header; the key starts here.
    pub header_len: usize,
    /// Key length in bytes.
    pub key_len: usize,
    /// Value length in bytes.
    pub value_len: usize,
}

impl Header {
    /// Offset of the value from the start of the item.
    pub(crate) fn value_start(&self) -> usize {
        self.header_len + self.key_len
    }

    /// Total bytes the item takes in its segment.
    pub(crate) fn total_len(&self) -> usize {
        self.value_start() + self.value_len
    }

    /// The header's fields, to write the item again elsewhere.
    pub(crate) fn fields(&self) -> Fields {
        Fields {
            meta_bits: self.bits & META_BITS,
            client_flags: self.client_flags,
            explicit_cas: self.explicit_cas,
            expiry_unix_secs: self.expiry_unix_secs,
            access_secs: self.access_secs,
        }
    }

    /// Offset of the 2-byte access field from the start of the item.
    pub(crate) fn access_field_offset(&self) -> usize {
        2 + varint_len(self.value_len)
    }

    /// Offset of the 4-byte expiry field from the start of the item, if it has one.
    pub(crate) fn expiry_field_offset(&self) -> Option<usize> {
        (self.bits & BIT_EXPIRY != 0).then(|| self.header_len - 4)
    }
}

/// What to write in a new item's header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Fields {
    /// Meta bits to set ([`BIT_STALE`], [`BIT_WIN`]).
    pub meta_bits: u8,
    /// Client flags.
    pub client_flags: u32,
    /// CAS to store explicitly.
    pub explicit_cas: Option<u64>,
    /// Absolute expiry, 0 = never.
    pub expiry_unix_secs: u32,
    /// Last access, in seconds after the segment's time base.
    pub access_secs: u16,
}

impl Fields {
    /// Bytes of the header for these fields and this value length.
    pub(crate) fn header_len(&self, value_len: usize) -> usize {
        let mut len = 2 + varint_len(value_len) + ACCESS_BYTES;
        if self.client_flags != 0 {
            len += 4;
        }
        if self.explicit_cas.is_some() {
            len += EXPLICIT_CAS_BYTES;
        }
        if self.expiry_unix_secs != 0 {
            len += 4;
        }
        len
    }

    /// Bytes of the whole item.
    pub(crate) fn item_len(&self, key_len: usize, value_len: usize) -> usize {
        self.header_len(value_len) + key_len + value_len
    }
}

fn varint_len(value: usize) -> usize {
    let mut len = 1;
    let mut rest = value >> 7;
    while rest != 0 {
        rest >>= 7;
        len += 1;
    }
    len
}

/// Encodes the header into `out` and returns its length. `key_len` is 1..=250 and
/// `value_len` below 2^32 (the item size limit sees to both).
pub(crate) fn encode(
    fields: &Fields,
    key_len: usize,
    value_len: usize,
    out: &mut [u8; MAX_HEADER_BYTES],
) -> usize {
    debug_assert!((1..=crate::MAX_KEY_LEN).contains(&key_len));
    let mut bits = fields.meta_bits & META_BITS;
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
    out[1] = u8::try_from(key_len).expect("keys are at most 250 bytes");
    let mut at = 2;
    let mut rest = u32::try_from(value_len).expect("values are below 4 GiB");
    loop {
        let byte = (rest & 0x7f) as u8;
        rest >>= 7;
        out[at] = if rest == 0 { byte } else { byte | 0x80 };
        at += 1;
        if rest == 0 {
            break;
        }
    }
    out[at..at + ACCESS_BYTES].copy_from_slice(&fields.access_secs.to_le_bytes());
    at += ACCESS_BYTES;
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
    at
}

/// Decodes the header at the start of `bytes` (up to [`MAX_HEADER_BYTES`] of them),
/// for an item that must end within `room` bytes of its start. `None` when the
/// bytes are not a well-formed header: a lock-free reader may have copied them while
/// a writer reused them, and then finds out here or at its version check.
pub(crate) fn decode(bytes: &[u8], room: usize) -> Option<Header> {
    let bits = *bytes.first()?;
    let key_len = *bytes.get(1)? as usize;
    let mut at = 2;
    let mut value_len = 0usize;
    let mut shift = 0;
    loop {
        let byte = *bytes.get(at)?;
        at += 1;
        value_len |= ((byte & 0x7f) as usize) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            break;
        }
        if shift >= 35 {
            return None;
        }
    }
    let mut field = |present: bool, len: usize| -> Option<Option<&[u8]>> {
        if !present {
            return Some(None);
        }
        let bytes = bytes.get(at..at + len)?;
        at += len;
        Some(Some(bytes))
    };
    let access_secs = field(true, ACCESS_BYTES)?
        .map_or(0, |b| u16::from_le_bytes(b.try_into().expect("2 bytes")));
    let client_flags = field(bits & BIT_FLAGS != 0, 4)?
        .map_or(0, |b| u32::from_le_bytes(b.try_into().expect("4 bytes")));
    let explicit_cas =
        field(bits & BIT_CAS != 0, 8)?.map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
    let expiry_unix_secs = field(bits & BIT_EXPIRY != 0, 4)?
        .map_or(0, |b| u32::from_le_bytes(b.try_into().expect("4 bytes")));
    let header = Header {
        bits,
        client_flags,
        explicit_cas,
        expiry_unix_secs,
        access_secs,
        header_len: at,
        key_len,
        value_len,
    };
    let well_formed = (1..=crate::MAX_KEY_LEN).contains(&key_len)
        && header.total_len() <= room
        && (bits & BIT_EXPIRY == 0 || expiry_unix_secs != 0)
        && (bits & BIT_FLAGS == 0 || client_flags != 0);
    well_formed.then_some(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(fields: Fields, key_len: usize, value_len: usize) -> Header {
        let mut buf = [0u8; MAX_HEADER_BYTES];
        let len = encode(&fields, key_len, value_len, &mut buf);
        assert_eq!(len, fields.header_len(value_len));
        let header = decode(&buf[..len], usize::MAX).expect("well formed");
        assert_eq!(header.header_len, len);
        assert_eq!((header.key_len, header.value_len), (key_len, value_len));
        assert_eq!(header.fields(), fields);
        header
    }

    #[test]
    fn minimal_item_has_five_byte_header() {
        let header = round_trip(Fields::default(), 16, 32);
        assert_eq!(header.header_len, MIN_HEADER_BYTES);
        assert_eq!(header.total_len(), 53);
        assert_eq!(header.access_field_offset(), 3);
        assert_eq!(header.expiry_field_offset(), None);
    }

    #[test]
    fn every_field_at_its_limit_fits_the_largest_header() {
        let fields = Fields {
            meta_bits: BIT_STALE | BIT_WIN,
            client_flags: u32::MAX,
            explicit_cas: Some(u64::MAX - 3),
            expiry_unix_secs: 1_700_000_000,
            access_secs: u16::MAX,
        };
        let header = round_trip(fields, 250, u32::MAX as usize);
        assert_eq!(header.access_field_offset(), 7);
        assert_eq!(header.header_len, MAX_HEADER_BYTES);
        assert_eq!(header.expiry_field_offset(), Some(MAX_HEADER_BYTES - 4));
    }

    #[test]
    fn empty_value_round_trips() {
        assert_eq!(round_trip(Fields::default(), 1, 0).value_len, 0);
    }

    #[test]
    fn malformed_headers_are_refused_not_trusted() {
        // Key length 0, a varint that never ends, a field past the bytes given, an
        // item longer than its room: all are what a torn read can produce.
        assert_eq!(decode(&[0, 0, 5, 0, 0], 100), None);
        assert_eq!(decode(&[0, 3, 0x80, 0x80, 0x80, 0x80, 0x80, 1], 100), None);
        assert_eq!(decode(&[BIT_CAS, 3, 5, 0, 0, 1, 2], 100), None);
        assert_eq!(decode(&[0, 3, 5, 0], 100), None);
        assert_eq!(decode(&[0, 3, 5, 0, 0], 12), None);
        assert!(decode(&[0, 3, 5, 0, 0], 13).is_some());
        assert_eq!(decode(&[], 100), None);
    }
}
