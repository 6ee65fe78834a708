//! Meta command requests (mg ms md ma me) and their keys.

use super::meta_flags::MetaFlags;

/// Longest decoded `b` (base64) key: 250 base64 characters decode to at most 187 bytes.
pub const MAX_DECODED_KEY_BYTES: usize = 192;

/// Which meta command; decides which return code `q` (quiet) hides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetaCommand {
    /// mg: `q` hides `EN` (miss).
    Get,
    /// ms: `q` hides `HD` (stored).
    Set,
    /// md: `q` hides `HD` (deleted).
    Delete,
    /// ma: `q` hides `HD` (success without a value).
    Arithmetic,
    /// mn.
    Noop,
    /// me.
    Debug,
}

/// A meta command's key as sent, plus whether it is base64 (`b` flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetaKey<'a> {
    wire: &'a [u8],
    base64: bool,
    /// Whether `k` (and `me`) print the key base64-encoded with a `b` flag.
    echo_base64: bool,
}

impl<'a> MetaKey<'a> {
    /// A key as it appears on the wire; `base64` keys were checked to decode.
    pub(crate) fn new(wire: &'a [u8], base64: bool) -> Self {
        MetaKey {
            wire,
            base64,
            echo_base64: base64,
        }
    }

    /// This key, echoed base64-encoded (with ` b` after a `k`) when `binary`, else
    /// raw, whatever the request said: memcached prints a found item's key as the item
    /// was stored (`ms ... b` marks it binary), so `mg` hits and `me` depend on the item.
    pub fn echoed_as(self, binary: bool) -> Self {
        MetaKey {
            echo_base64: binary,
            ..self
        }
    }

    /// Whether [`echo`](Self::echo) writes base64 (and a `k` flag is followed by ` b`).
    pub fn echoes_base64(&self) -> bool {
        self.echo_base64
    }

    /// The key exactly as sent (base64 text when [`is_base64`](Self::is_base64)). A `k`
    /// return flag echoes [`echo`](Self::echo) instead.
    pub fn wire(&self) -> &'a [u8] {
        self.wire
    }

    /// Whether the client sent the key base64-encoded (`b` flag).
    pub fn is_base64(&self) -> bool {
        self.base64
    }

    /// Appends what a `k` return flag echoes: the key bytes, raw, or base64-encoded
    /// when [`echoes_base64`](Self::echoes_base64) (memcached's canonical form:
    /// `Zm8=Zm9v` -> `Zm8=`).
    pub fn echo(&self, out: &mut Vec<u8>) {
        let mut scratch = [0u8; MAX_DECODED_KEY_BYTES];
        let bytes = self.bytes(&mut scratch);
        if self.echo_base64 {
            encode_base64(out, bytes);
        } else {
            out.extend_from_slice(bytes);
        }
    }

    /// The key to look up: the wire bytes, or the decoded bytes written into `scratch`.
    pub fn bytes<'s>(&'s self, scratch: &'s mut [u8; MAX_DECODED_KEY_BYTES]) -> &'s [u8] {
        if !self.base64 {
            return self.wire;
        }
        // The parser rejected keys that do not decode, so the fallback is unreachable.
        let decoded_bytes = decode_key(self.wire, scratch).unwrap_or(0);
        &scratch[..decoded_bytes]
    }
}

/// Decodes a base64 key into `scratch` exactly as memcached 1.6's `base64_decode`: bytes
/// outside the alphabet are skipped, `=` counts as a zero digit, decoding stops after
/// the first block holding padding (one `=` drops one byte, two drop two, more fail).
/// `None` when that fails or gives no bytes (memcached's "error decoding key").
pub(crate) fn decode_key(wire: &[u8], scratch: &mut [u8; MAX_DECODED_KEY_BYTES]) -> Option<usize> {
    fn digit(byte: u8) -> Option<u8> {
        match byte {
            b'A'..=b'Z' => Some(byte - b'A'),
            b'a'..=b'z' => Some(byte - b'a' + 26),
            b'0'..=b'9' => Some(byte - b'0' + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            b'=' => Some(0),
            _ => None,
        }
    }
    let count = wire.iter().filter(|&&b| digit(b).is_some()).count();
    if count == 0 || count % 4 != 0 || count / 4 * 3 > scratch.len() {
        return None;
    }
    let (mut block, mut filled, mut padding, mut len) = ([0u8; 4], 0, 0, 0);
    for &byte in wire {
        let Some(value) = digit(byte) else { continue };
        padding += usize::from(byte == b'=');
        block[filled] = value;
        filled += 1;
        if filled == 4 {
            scratch[len] = (block[0] << 2) | (block[1] >> 4);
            scratch[len + 1] = (block[1] << 4) | (block[2] >> 2);
            scratch[len + 2] = (block[2] << 6) | block[3];
            len += 3;
            filled = 0;
            if padding > 0 {
                if padding > 2 {
                    return None;
                }
                len -= padding;
                break;
            }
        }
    }
    (len > 0).then_some(len)
}

/// Appends `bytes` base64-encoded (standard alphabet, padded), as memcached echoes a
/// `b` key: the decoded key encoded again, so the echo is canonical.
pub(crate) fn encode_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                ALPHABET[((v >> (18 - 6 * i)) & 63) as usize]
            } else {
                b'='
            });
        }
    }
}

/// `mg <key> <flags>*`: meta get.
#[derive(Debug, Clone)]
pub struct MetaGet<'a> {
    /// The key.
    pub key: MetaKey<'a>,
    /// Options and return flags.
    pub flags: MetaFlags<'a>,
}

/// ms's `M` mode switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetMode {
    /// `MS` (default): store.
    Set,
    /// `ME`: add; `NS` if the key exists.
    Add,
    /// `MR`: replace; `NS` if the key is absent.
    Replace,
    /// `MA`: append; with `N` vivify a miss using the N TTL.
    Append,
    /// `MP`: prepend; with `N` vivify a miss using the N TTL.
    Prepend,
}

/// `ms <key> <datalen> <flags>*` and its data block: meta set.
#[derive(Debug, Clone)]
pub struct MetaSet<'a> {
    /// The key.
    pub key: MetaKey<'a>,
    /// The data block, without its `\r\n`.
    pub value: &'a [u8],
    /// Set, add, replace, append or prepend (`M` flag).
    pub mode: SetMode,
    /// Options (`F` client flags, `T` ttl, `C` compare cas, `I` invalidate, ...) and
    /// return flags.
    pub flags: MetaFlags<'a>,
}

/// `md <key> <flags>*`: meta delete.
#[derive(Debug, Clone)]
pub struct MetaDelete<'a> {
    /// The key.
    pub key: MetaKey<'a>,
    /// Options (`C`, `I` mark stale, `T` with I, `x` drop value) and return flags.
    pub flags: MetaFlags<'a>,
}

/// ma's `M` mode switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArithMode {
    /// `MI` or `M+` (default): add, wrapping at 2^64.
    Increment,
    /// `MD` or `M-`: subtract, stopping at 0.
    Decrement,
}

/// `ma <key> <flags>*`: meta arithmetic.
#[derive(Debug, Clone)]
pub struct MetaArithmetic<'a> {
    /// The key.
    pub key: MetaKey<'a>,
    /// Increment or decrement.
    pub mode: ArithMode,
    /// `D` token, default 1.
    pub delta: u64,
    /// `J` token, default 0: value of an item created on a miss (only with `N`).
    pub initial_value: u64,
    /// Options and return flags.
    pub flags: MetaFlags<'a>,
}

/// `me <key> [b]`: meta debug.
#[derive(Debug, Clone, Copy)]
pub struct MetaDebug<'a> {
    /// The key.
    pub key: MetaKey<'a>,
}
