//! Meta flags: one letter each, some with a token (`T30`, `Oabc`), parsed with the
//! same rules and error precedence as memcached's `_meta_flag_preparse`.

use super::error::ParseErrorKind;
use super::meta::{decode_key, MAX_DECODED_KEY_BYTES};
use super::tokens::Tokens;
use crate::number::{parse_client_flags, parse_memcache_i64, parse_memcache_u64};

/// Longest opaque (`O`) token, letter excluded; memcached rejects 32 and more.
pub const MAX_OPAQUE_BYTES: usize = 31;

/// Every flag of a meta command line. All meta commands accept every flag (as memcached
/// does); each command uses the ones that concern it.
///
/// The flags stay borrowed: the parser validates every token and records which letters
/// were present; accessors read a token again when asked (each letter appears at most
/// once, so that is one short scan). This keeps requests small and parsing copy-free.
/// Return flags (`k O b c f h l s t`) are written back in the order the client sent
/// them: see [`meta_encode`](super::meta_encode).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetaFlags<'a> {
    /// Bit `n` is set when the flag letter with ASCII code `n` was sent.
    present: u128,
    /// The flag tokens exactly as sent.
    tokens: &'a [u8],
}

impl<'a> MetaFlags<'a> {
    /// Whether the flag `letter` was sent.
    #[inline]
    pub fn has(&self, letter: u8) -> bool {
        letter < 128 && self.present & (1u128 << letter) != 0
    }

    /// The token after flag `letter` (`30` for `T30`), if the flag was sent.
    pub fn token(&self, letter: u8) -> Option<&'a [u8]> {
        if !self.has(letter) {
            return None;
        }
        Tokens::new(self.tokens)
            .find(|token| token[0] == letter)
            .map(|token| &token[1..])
    }

    /// The flag letters in the order the client sent them.
    pub fn letters(&self) -> impl Iterator<Item = u8> + 'a {
        Tokens::new(self.tokens).map(|token| token[0])
    }

    /// The flag tokens as sent, unsplit.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.tokens
    }

    /// `b`: the key is base64; `k` returns it base64 followed by a `b` flag.
    pub fn base64_key(&self) -> bool {
        self.has(b'b')
    }
    /// `c`: return the cas.
    pub fn return_cas(&self) -> bool {
        self.has(b'c')
    }
    /// `f`: return the client flags.
    pub fn return_client_flags(&self) -> bool {
        self.has(b'f')
    }
    /// `h`: return whether the item was hit before (0/1), as it was before this command.
    pub fn return_hit_before(&self) -> bool {
        self.has(b'h')
    }
    /// `I`: invalidate. ms: a `C` cas older than the item's is accepted but marks the
    /// item stale; md: mark stale and bump the cas instead of deleting.
    pub fn invalidate(&self) -> bool {
        self.has(b'I')
    }
    /// `k`: return the key.
    pub fn return_key(&self) -> bool {
        self.has(b'k')
    }
    /// `l`: return seconds since last access, as it was before this command.
    pub fn return_last_access(&self) -> bool {
        self.has(b'l')
    }
    /// `q`: quiet; hides the command's common code (see [`quiet_hides`](super::meta_encode::quiet_hides)).
    pub fn quiet(&self) -> bool {
        self.has(b'q')
    }
    /// `s`: return the item size.
    pub fn return_size(&self) -> bool {
        self.has(b's')
    }
    /// `t`: return the remaining TTL in seconds (-1 for none).
    pub fn return_ttl(&self) -> bool {
        self.has(b't')
    }
    /// `u`: do not bump the item in the LRU nor update hit/last-access.
    pub fn no_bump(&self) -> bool {
        self.has(b'u')
    }
    /// `v`: return the value (mg), return the new number (ma).
    pub fn return_value(&self) -> bool {
        self.has(b'v')
    }
    /// `x`: md removes the value but keeps the item.
    pub fn remove_value(&self) -> bool {
        self.has(b'x')
    }
    /// `P`/`L`: proxy hints, ignored as memcached ignores them.
    pub fn proxy_hint(&self) -> bool {
        self.has(b'P') || self.has(b'L')
    }
    /// `O(token)`: opaque bytes, echoed as `O<token>`; at most [`MAX_OPAQUE_BYTES`].
    pub fn opaque(&self) -> Option<&'a [u8]> {
        self.token(b'O')
    }
    /// Whether the opaque is longer than [`MAX_OPAQUE_BYTES`]. memcached reports it
    /// (`CLIENT_ERROR opaque token too long`) where it copies the opaque into the reply:
    /// ms after its mode check; md before touching the item; mg and ma only after the
    /// command ran, applying the `T`/`N` flags sent before the `O` (see
    /// [`before_opaque`](Self::before_opaque)).
    pub fn opaque_too_long(&self) -> bool {
        self.opaque()
            .is_some_and(|opaque| opaque.len() > MAX_OPAQUE_BYTES)
    }

    /// Whether flag `letter` was sent before the `O` flag (or was sent and there is no
    /// `O`): what memcached applied when it stopped at an over-long opaque.
    pub fn before_opaque(&self, letter: u8) -> bool {
        self.has(letter)
            && self
                .letters()
                .take_while(|&l| l != b'O')
                .any(|l| l == letter)
    }

    /// `M(token)`: the mode letter, typed per command by the parser (ms:
    /// [`SetMode`](super::SetMode), ma: [`ArithMode`](super::ArithMode)); mg and md ignore it.
    pub fn mode(&self) -> Option<u8> {
        self.token(b'M').map(|token| token[0])
    }
    /// `F(token)`: client flags to store (ms; 0 when absent).
    pub fn client_flags(&self) -> Option<u32> {
        self.token(b'F').and_then(parse_client_flags)
    }
    /// `C(token)`: act only if the item's cas equals this.
    pub fn compare_cas(&self) -> Option<u64> {
        self.token(b'C').and_then(parse_memcache_u64)
    }
    /// `E(token)`: use this as the new cas if the item is modified.
    pub fn new_cas(&self) -> Option<u64> {
        self.token(b'E').and_then(parse_memcache_u64)
    }
    /// `J(token)`: ma initial value on an `N` vivify.
    pub fn initial_value(&self) -> Option<u64> {
        self.token(b'J').and_then(parse_memcache_u64)
    }
    /// `D(token)`: ma delta.
    pub fn delta(&self) -> Option<u64> {
        self.token(b'D').and_then(parse_memcache_u64)
    }
    /// `N(token)`: vivify on miss with this exptime (mg, ma; ms in append/prepend mode).
    pub fn vivify_exptime(&self) -> Option<i64> {
        self.token(b'N').and_then(parse_exptime)
    }
    /// `R(token)`: mg wins the recache right if the remaining TTL is below this.
    pub fn recache_below_secs(&self) -> Option<i64> {
        self.token(b'R').and_then(parse_exptime)
    }
    /// `T(token)`: exptime to set (mg: touch; ms: ttl; md: with `I`; ma: on success).
    pub fn exptime(&self) -> Option<i64> {
        self.token(b'T').and_then(parse_exptime)
    }
}

/// Parses the flag tokens of a meta line; `key` is the wire key (checked when `b` is set).
/// Returns the flags (or the error memcached reports) and how many flag tokens there
/// were, counted in the same pass so that the caller can apply the token limit first.
///
/// Precedence is memcached's: an unknown or repeated letter stops flag parsing at once;
/// a bad token records its error and parsing goes on, a later bad token overwriting it.
/// An over-long opaque is not an error here: memcached finds it later, at a point that
/// differs per command (see [`MetaFlags::opaque_too_long`]).
pub(crate) fn parse_flags<'a>(
    flag_tokens: Tokens<'a>,
    key: &[u8],
) -> (Result<MetaFlags<'a>, ParseErrorKind>, usize) {
    let mut flags = MetaFlags {
        present: 0,
        tokens: flag_tokens.remainder(),
    };
    let mut token_count = 0;
    let mut fatal: Option<ParseErrorKind> = None;
    let mut token_error: Option<ParseErrorKind> = None;
    for token in flag_tokens {
        token_count += 1;
        if fatal.is_some() {
            continue;
        }
        let letter = token[0];
        // memcached reports bytes >= 127 as duplicates, not as invalid.
        if letter >= 127 || flags.has(letter) {
            fatal = Some(ParseErrorKind::DuplicateFlag);
            continue;
        }
        flags.present |= 1u128 << letter;
        match check_flag(letter, &token[1..], key) {
            FlagCheck::Ok => {}
            FlagCheck::Invalid => fatal = Some(ParseErrorKind::InvalidFlag),
            FlagCheck::BadToken(kind) => token_error = Some(kind),
            FlagCheck::BadTokenQuiet => {
                token_error.get_or_insert(ParseErrorKind::BadCommandLine);
            }
        }
    }
    let result = match fatal.or(token_error) {
        Some(kind) => Err(kind),
        None => Ok(flags),
    };
    (result, token_count)
}

/// memcached's `safe_strtol` for `N`, `T` and `R`: a 64-bit number, stored into 32 bits
/// (`T4294967396` is `T100`).
fn parse_exptime(token: &[u8]) -> Option<i64> {
    parse_memcache_i64(token).map(|value| i64::from(value as i32))
}

enum FlagCheck {
    Ok,
    Invalid,
    /// Bad token; memcached sets its error string to this.
    BadToken(ParseErrorKind),
    /// Bad token without an error string of its own (`F`): the default string applies.
    BadTokenQuiet,
}

/// Validates one flag's token, so that the accessors can parse it again infallibly.
fn check_flag(letter: u8, arg: &[u8], key: &[u8]) -> FlagCheck {
    use FlagCheck::*;
    let valid_or = |valid: bool, error| if valid { Ok } else { BadToken(error) };
    match letter {
        b'c' | b'f' | b'h' | b'I' | b'k' | b'l' | b'q' | b's' | b't' | b'u' | b'v' | b'x'
        | b'P' | b'L' | b'O' => Ok,
        b'b' => {
            let mut scratch = [0u8; MAX_DECODED_KEY_BYTES];
            valid_or(
                decode_key(key, &mut scratch).is_some(),
                ParseErrorKind::KeyDecode,
            )
        }
        b'M' => valid_or(arg.len() == 1, ParseErrorKind::ModeLength),
        b'F' => match parse_client_flags(arg) {
            Some(_) => Ok,
            None => BadTokenQuiet,
        },
        b'N' | b'T' | b'R' => valid_or(parse_memcache_i64(arg).is_some(), ParseErrorKind::BadToken),
        b'C' | b'E' => valid_or(parse_memcache_u64(arg).is_some(), ParseErrorKind::BadToken),
        b'J' => valid_or(
            parse_memcache_u64(arg).is_some(),
            ParseErrorKind::InvalidInitialValue,
        ),
        b'D' => valid_or(
            parse_memcache_u64(arg).is_some(),
            ParseErrorKind::InvalidDeltaToken,
        ),
        _ => Invalid,
    }
}
