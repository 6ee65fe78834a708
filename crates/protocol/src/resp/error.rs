//! Errors the RESP parser reports, each with Redis's exact reply bytes.

use super::args::Args;
use crate::number::write_u64;
use crate::ErrorAction;

/// A request that cannot be framed. Redis replies `-ERR Protocol error: ...` and closes
/// the connection, because it no longer knows where the next request starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    /// `*N` is not an integer, or N is above [`Limits::max_arg_count`](super::Limits).
    InvalidMultibulkLength,
    /// `$N` is not an integer, negative, or above `max_bulk_len_bytes`.
    InvalidBulkLength,
    /// A multibulk element did not start with `$` (the byte found is kept).
    ExpectedDollar(u8),
    /// No `\r\n` after a `*N` header within `max_inline_len_bytes`.
    TooBigMbulkCountString,
    /// No `\r\n` after a `$N` header within `max_inline_len_bytes`.
    TooBigBulkCountString,
    /// An inline line longer than `max_inline_len_bytes`.
    TooBigInlineRequest,
    /// An inline quote is not closed, or a closing quote is followed by a non-space.
    UnbalancedQuotes,
    /// An inline request uses backslash escapes inside quotes or a quote inside a word
    /// (tailcache refuses these; Redis unescapes them).
    UnsupportedInlineQuoting,
    /// The request's declared size exceeds `max_request_bytes` (Redis closes such a
    /// client at its query buffer limit without a reply; tailcache says why).
    RequestTooLarge,
    /// A bulk string's data is not followed by `\r\n` (Redis skips two bytes unchecked;
    /// tailcache refuses, since such a client is out of step).
    ExpectedCrlfAfterBulk,
    /// A `POST` or `Host:` command: an HTTP request, perhaps from a browser tricked into
    /// cross-protocol scripting. Redis closes the connection without a reply (its
    /// `securityWarningCommand`), so nothing after it runs.
    CrossProtocolScripting,
}

impl ProtocolError {
    /// The text after `-ERR Protocol error: `.
    fn detail(&self) -> &'static str {
        match self {
            ProtocolError::InvalidMultibulkLength => "invalid multibulk length",
            ProtocolError::InvalidBulkLength => "invalid bulk length",
            ProtocolError::ExpectedDollar(_) => "expected '$', got '",
            ProtocolError::TooBigMbulkCountString => "too big mbulk count string",
            ProtocolError::TooBigBulkCountString => "too big bulk count string",
            ProtocolError::TooBigInlineRequest => "too big inline request",
            ProtocolError::UnbalancedQuotes => "unbalanced quotes in request",
            ProtocolError::UnsupportedInlineQuoting => {
                "escapes and quotes inside words are not supported in inline requests"
            }
            ProtocolError::ExpectedCrlfAfterBulk => "expected '\\r\\n' after bulk data",
            ProtocolError::RequestTooLarge => "request too large",
            ProtocolError::CrossProtocolScripting => "",
        }
    }

    /// Appends the reply, e.g. `-ERR Protocol error: invalid bulk length\r\n`.
    /// Nothing for [`ProtocolError::CrossProtocolScripting`], which closes silently.
    pub fn encode(&self, out: &mut Vec<u8>) {
        if *self == ProtocolError::CrossProtocolScripting {
            return;
        }
        out.extend_from_slice(b"-ERR Protocol error: ");
        out.extend_from_slice(self.detail().as_bytes());
        if let ProtocolError::ExpectedDollar(byte) = self {
            push_sanitized(out, &[*byte]);
            out.push(b'\'');
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// A well-framed request Redis would refuse. The connection stays open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandError<'a> {
    /// `-ERR wrong number of arguments for '<command>' command` (lowercase name;
    /// `client|setname` style for subcommands).
    WrongArity {
        /// The name Redis prints.
        command: &'static str,
    },
    /// `-ERR syntax error`.
    Syntax,
    /// `-ERR value is not an integer or out of range`.
    NotInteger,
    /// `-ERR invalid expire time in '<command>' command`.
    InvalidExpireTime {
        /// The lowercase command name.
        command: &'static str,
    },
    /// `-ERR decrement would overflow` (DECRBY of i64::MIN).
    DecrementOverflow,
    /// `-ERR unknown command '<name>', with args beginning with: '<arg>' ...`.
    UnknownCommand {
        /// The name as sent.
        name: &'a [u8],
        /// The arguments after the name.
        args: Args<'a>,
    },
    /// `-ERR unknown subcommand '<sub>'. Try <COMMAND> HELP.`.
    UnknownSubcommand {
        /// The uppercase parent command (`CLIENT`, `COMMAND`).
        command: &'static str,
        /// The subcommand as sent.
        subcommand: &'a [u8],
    },
    /// `-ERR Unsupported option <option>` (EXPIRE family flags).
    UnsupportedOption(&'a [u8]),
    /// `-ERR NX and XX, GT or LT options at the same time are not compatible`.
    ExpireNxConflict,
    /// `-ERR GT and LT options at the same time are not compatible`.
    ExpireGtLtConflict,
    /// `-ERR Protocol version is not an integer or out of range` (HELLO).
    HelloVersionNotInteger,
    /// `-NOPROTO unsupported protocol version` (HELLO with a version other than 2 or 3).
    NoProto,
    /// `-ERR Syntax error in HELLO option '<option>'`.
    HelloSyntax {
        /// The option as sent.
        option: &'a [u8],
    },
    /// `-ERR DB index is out of range` (SELECT of anything but 0: tailcache has one db).
    DbIndexOutOfRange,
    /// `-ERR Client names cannot contain spaces, newlines or special characters.`.
    InvalidClientName,
    /// `-ERR Client names are limited to N bytes` (tailcache's own limit; Redis has none).
    ClientNameTooLong {
        /// The limit.
        max_bytes: usize,
    },
    /// `-ERR Unrecognized option '<option>'` (CLIENT SETINFO, as Redis 7.2).
    UnrecognizedClientInfoOption(&'a [u8]),
    /// `-ERR CONFIG SET is not supported ...`: tailcache takes its settings at
    /// start only.
    ConfigSetUnsupported,
    /// `-ERR key too long (max N bytes)` (tailcache's own limit; Redis has none).
    KeyTooLong {
        /// The configured limit.
        max_bytes: usize,
    },
}

/// Redis prints at most this many bytes of an unknown command's name, and stops adding
/// its arguments once the list reaches this length.
const UNKNOWN_COMMAND_PRINT_BYTES: usize = 128;

impl CommandError<'_> {
    /// Appends the reply, exactly as redis-server 7 sends it.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            CommandError::WrongArity { command } => {
                out.extend_from_slice(b"-ERR wrong number of arguments for '");
                out.extend_from_slice(command.as_bytes());
                out.extend_from_slice(b"' command");
            }
            CommandError::Syntax => out.extend_from_slice(b"-ERR syntax error"),
            CommandError::NotInteger => {
                out.extend_from_slice(b"-ERR value is not an integer or out of range")
            }
            CommandError::InvalidExpireTime { command } => {
                out.extend_from_slice(b"-ERR invalid expire time in '");
                out.extend_from_slice(command.as_bytes());
                out.extend_from_slice(b"' command");
            }
            CommandError::DecrementOverflow => {
                out.extend_from_slice(b"-ERR decrement would overflow")
            }
            CommandError::UnknownCommand { name, args } => encode_unknown_command(out, name, args),
            CommandError::UnknownSubcommand {
                command,
                subcommand,
            } => {
                out.extend_from_slice(b"-ERR unknown subcommand '");
                push_sanitized(out, truncate(subcommand, UNKNOWN_COMMAND_PRINT_BYTES));
                out.extend_from_slice(b"'. Try ");
                out.extend_from_slice(command.as_bytes());
                out.extend_from_slice(b" HELP.");
            }
            CommandError::UnsupportedOption(option) => {
                out.extend_from_slice(b"-ERR Unsupported option ");
                push_sanitized(out, option);
            }
            CommandError::ExpireNxConflict => out.extend_from_slice(
                b"-ERR NX and XX, GT or LT options at the same time are not compatible",
            ),
            CommandError::ExpireGtLtConflict => {
                out.extend_from_slice(b"-ERR GT and LT options at the same time are not compatible")
            }
            CommandError::HelloVersionNotInteger => {
                out.extend_from_slice(b"-ERR Protocol version is not an integer or out of range")
            }
            CommandError::NoProto => {
                out.extend_from_slice(b"-NOPROTO unsupported protocol version")
            }
            CommandError::HelloSyntax { option } => {
                out.extend_from_slice(b"-ERR Syntax error in HELLO option '");
                push_sanitized(out, option);
                out.push(b'\'');
            }
            CommandError::ConfigSetUnsupported => out.extend_from_slice(
                b"-ERR CONFIG SET is not supported: tailcache takes its settings at start",
            ),
            CommandError::DbIndexOutOfRange => {
                out.extend_from_slice(b"-ERR DB index is out of range")
            }
            CommandError::InvalidClientName => out.extend_from_slice(
                b"-ERR Client names cannot contain spaces, newlines or special characters.",
            ),
            CommandError::ClientNameTooLong { max_bytes } => {
                out.extend_from_slice(b"-ERR Client names are limited to ");
                out.extend_from_slice(max_bytes.to_string().as_bytes());
                out.extend_from_slice(b" bytes");
            }
            CommandError::UnrecognizedClientInfoOption(option) => {
                out.extend_from_slice(b"-ERR Unrecognized option '");
                push_sanitized(out, option);
                out.push(b'\'');
            }
            CommandError::KeyTooLong { max_bytes } => {
                out.extend_from_slice(b"-ERR key too long (max ");
                write_u64(out, max_bytes as u64);
                out.extend_from_slice(b" bytes)");
            }
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// Redis formats names and arguments with `%.*s`: a NUL ends them.
fn truncate(bytes: &[u8], max_len: usize) -> &[u8] {
    let bytes = &bytes[..bytes.len().min(max_len)];
    match memchr::memchr(0, bytes) {
        Some(nul) => &bytes[..nul],
        None => bytes,
    }
}

fn encode_unknown_command(out: &mut Vec<u8>, name: &[u8], args: Args<'_>) {
    out.extend_from_slice(b"-ERR unknown command '");
    push_sanitized(out, truncate(name, UNKNOWN_COMMAND_PRINT_BYTES));
    out.extend_from_slice(b"', with args beginning with: ");
    let mut printed_len = 0usize;
    for arg in args {
        if printed_len >= UNKNOWN_COMMAND_PRINT_BYTES {
            break;
        }
        let shown = truncate(arg, UNKNOWN_COMMAND_PRINT_BYTES - printed_len);
        out.push(b'\'');
        push_sanitized(out, shown);
        out.extend_from_slice(b"' ");
        printed_len += shown.len() + 3;
    }
}

/// Appends `bytes` with `\r` and `\n` turned into spaces, as Redis does to every error
/// so a reply can never break the protocol.
pub(crate) fn push_sanitized(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend(
        bytes
            .iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
}

/// Why [`parse`](super::parse) could not produce a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError<'a> {
    /// The stream cannot be framed: reply, then close the connection.
    Protocol(ProtocolError),
    /// The request is framed but refused: reply, drop `consumed` bytes, go on.
    Command {
        /// What to reply.
        error: CommandError<'a>,
        /// Bytes the refused request occupies.
        consumed: usize,
    },
}

impl ParseError<'_> {
    /// What the connection does after the reply: close after a protocol error (the
    /// stream can no longer be framed), or skip the refused command's bytes.
    pub fn action(&self) -> ErrorAction {
        match self {
            ParseError::Protocol(_) => ErrorAction::Close,
            ParseError::Command { consumed, .. } => ErrorAction::Skip { bytes: *consumed },
        }
    }

    /// Appends the error reply (`-ERR ...\r\n`); the same bytes in RESP2 and RESP3.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ParseError::Protocol(error) => error.encode(out),
            ParseError::Command { error, .. } => error.encode(out),
        }
    }
}

impl From<ProtocolError> for ParseError<'_> {
    fn from(error: ProtocolError) -> Self {
        ParseError::Protocol(error)
    }
}
