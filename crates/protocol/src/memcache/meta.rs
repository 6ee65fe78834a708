//! Meta command requests (mg ms md ma me) and their keys.

use base64::Engine as _;

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
}

impl<'a> MetaKey<'a> {
    /// A key as it appears on the wire; `base64` keys were checked to decode.
    pub(crate) fn new(wire: &'a [u8], base64: bool) -> Self {
        MetaKey { wire, base64 }
    }

    /// The key exactly as sent (base64 text when [`is_base64`](Self::is_base64)); this is
    /// what a `k` return flag echoes.
    pub fn wire(&self) -> &'a [u8] {
        self.wire
    }

    /// Whether the client sent the key base64-encoded (`b` flag).
    pub fn is_base64(&self) -> bool {
        self.base64
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

/// Decodes a base64 key into `scratch`; `None` if it is not valid, non-empty base64.
pub(crate) fn decode_key(wire: &[u8], scratch: &mut [u8; MAX_DECODED_KEY_BYTES]) -> Option<usize> {
    match base64::engine::general_purpose::STANDARD.decode_slice(wire, scratch) {
        Ok(0) | Err(_) => None,
        Ok(decoded_bytes) => Some(decoded_bytes),
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
