//! Parse errors: what memcached replies to each bad input, and what happens to the stream.

use crate::ErrorAction;

/// What kind of bad input was seen; each maps to memcached's exact reply line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParseErrorKind {
    /// Unknown command, empty line, or a known command with the wrong token count: `ERROR`.
    UnknownCommand,
    /// Bad key length or number on a command line: `CLIENT_ERROR bad command line format`.
    BadCommandLine,
    /// `delete <key> <x>` where x is neither `0` nor `noreply`.
    DeleteUsage,
    /// The two bytes after a data block are not `\r\n`: `CLIENT_ERROR bad data chunk`.
    BadDataChunk,
    /// A data block longer than `Limits::max_value_bytes`:
    /// `SERVER_ERROR object too large for cache`; the block is swallowed.
    ObjectTooLarge,
    /// A touch/gat/flush_all time that is not a number: `CLIENT_ERROR invalid exptime argument`.
    InvalidExptime,
    /// An incr/decr delta that is not a u64: `CLIENT_ERROR invalid numeric delta argument`.
    InvalidDelta,
    /// More keys than `Limits::max_keys_per_get` (tailcache's own limit).
    TooManyKeys,
    /// A command line without `\n` in its first `Limits::max_line_bytes`: closed silently,
    /// as memcached does.
    LineTooLong,
    /// A get/gets line without `\n` in its first `Limits::max_get_line_bytes`: closed.
    GetLineTooLong,
    /// An unknown command whose last token starts with `HTTP/` (`GET / HTTP/1.0`): closed
    /// without a reply, as memcached does to stop cross-protocol requests from browsers.
    HttpRequest,
    /// Meta: a flag letter memcached does not know: `CLIENT_ERROR invalid flag`.
    InvalidFlag,
    /// Meta: a flag letter given twice: `CLIENT_ERROR duplicate flag`.
    DuplicateFlag,
    /// Meta: a numeric flag token that does not parse: `CLIENT_ERROR bad token in command line format`.
    BadToken,
    /// Meta: a `J` token that is not a u64: `CLIENT_ERROR invalid numeric initial value`.
    InvalidInitialValue,
    /// Meta: a `D` token that is not a u64: `CLIENT_ERROR invalid numeric delta value`.
    InvalidDeltaToken,
    /// Meta: an `O` token longer than 31 bytes: `CLIENT_ERROR opaque token too long`.
    OpaqueTooLong,
    /// Meta: a `b` key that is not base64: `CLIENT_ERROR error decoding key`.
    KeyDecode,
    /// mg: more tokens than `Limits::max_meta_tokens`: `CLIENT_ERROR options flags are too long`.
    MgFlagsTooLong,
    /// ms/md/ma: more tokens than `Limits::max_meta_tokens`: `CLIENT_ERROR options flags too long`.
    MetaFlagsTooLong,
    /// md/ma: any flag error: `CLIENT_ERROR invalid or duplicate flag`.
    InvalidOrDuplicateFlag,
    /// ms: `M` token with a letter other than E A P R S: `CLIENT_ERROR invalid mode for ms M token`.
    InvalidSetMode,
    /// ma: `M` token with a letter other than I + D -: `CLIENT_ERROR invalid mode for ma M token`.
    InvalidArithMode,
    /// ms/ma: `M` token not exactly one letter: `CLIENT_ERROR incorrect length for M token`.
    ModeLength,
}

impl ParseErrorKind {
    /// The exact reply line memcached 1.6 sends, `\r\n` included; empty when it sends none.
    pub fn reply(self) -> &'static [u8] {
        use ParseErrorKind::*;
        match self {
            UnknownCommand => b"ERROR\r\n",
            BadCommandLine => b"CLIENT_ERROR bad command line format\r\n",
            DeleteUsage => {
                b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n"
            }
            BadDataChunk => b"CLIENT_ERROR bad data chunk\r\n",
            ObjectTooLarge => b"SERVER_ERROR object too large for cache\r\n",
            InvalidExptime => b"CLIENT_ERROR invalid exptime argument\r\n",
            InvalidDelta => b"CLIENT_ERROR invalid numeric delta argument\r\n",
            TooManyKeys => b"CLIENT_ERROR too many keys in request\r\n",
            LineTooLong => b"",
            GetLineTooLong => b"SERVER_ERROR out of memory reading request\r\n",
            HttpRequest => b"",
            InvalidFlag => b"CLIENT_ERROR invalid flag\r\n",
            DuplicateFlag => b"CLIENT_ERROR duplicate flag\r\n",
            BadToken => b"CLIENT_ERROR bad token in command line format\r\n",
            InvalidInitialValue => b"CLIENT_ERROR invalid numeric initial value\r\n",
            InvalidDeltaToken => b"CLIENT_ERROR invalid numeric delta value\r\n",
            OpaqueTooLong => b"CLIENT_ERROR opaque token too long\r\n",
            KeyDecode => b"CLIENT_ERROR error decoding key\r\n",
            MgFlagsTooLong => b"CLIENT_ERROR options flags are too long\r\n",
            MetaFlagsTooLong => b"CLIENT_ERROR options flags too long\r\n",
            InvalidOrDuplicateFlag => b"CLIENT_ERROR invalid or duplicate flag\r\n",
            InvalidSetMode => b"CLIENT_ERROR invalid mode for ms M token\r\n",
            InvalidArithMode => b"CLIENT_ERROR invalid mode for ma M token\r\n",
            ModeLength => b"CLIENT_ERROR incorrect length for M token\r\n",
        }
    }
}

/// A request memcached would reject: the reply to send and what to do with the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParseError {
    kind: ParseErrorKind,
    action: ErrorAction,
    noreply: bool,
}

impl ParseError {
    /// An error after which parsing resumes `bytes` bytes on.
    pub(crate) fn skip(kind: ParseErrorKind, bytes: usize) -> Self {
        ParseError {
            kind,
            action: ErrorAction::Skip { bytes },
            noreply: false,
        }
    }

    /// An error after which the connection closes.
    pub(crate) fn close(kind: ParseErrorKind) -> Self {
        ParseError {
            kind,
            action: ErrorAction::Close,
            noreply: false,
        }
    }

    /// Marks the error as raised by a classic command that ended in `noreply`: memcached
    /// then sends no reply at all (it still skips or closes).
    pub(crate) fn with_noreply(mut self, noreply: bool) -> Self {
        self.noreply = noreply;
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ParseErrorKind {
        self.kind
    }

    /// Skip bytes or close the connection.
    pub fn action(&self) -> ErrorAction {
        self.action
    }

    /// Whether the request carried `noreply`, which silences the reply.
    pub fn noreply(&self) -> bool {
        self.noreply
    }

    /// The exact bytes to send back (`\r\n` included); empty under `noreply` or when
    /// memcached closes without a word.
    pub fn reply(&self) -> &'static [u8] {
        if self.noreply {
            b""
        } else {
            self.kind.reply()
        }
    }
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "memcache parse error {:?} ({:?})",
            self.kind, self.action
        )
    }
}

impl std::error::Error for ParseError {}
