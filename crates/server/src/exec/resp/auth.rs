//! RESP access control, as Redis 7.0: with `requirepass` or an ACL file, a
//! connection must AUTH (or HELLO ... AUTH) before anything but QUIT; a
//! read-only user (`+@read`) runs only reading commands. Replies are Redis's
//! bytes (checked against a real redis-server in tests/access_resp.rs).
//!
//! Until a connection authenticates, its requests are bounded as Redis
//! bounds them (10 arguments, 16 KiB a bulk) and it is closed once
//! `auth_timeout_secs` have passed since it connected (checked whenever it
//! sends something: the runtime has no per-connection timer for the service).

use std::time::{Duration, Instant};

use tailcache_protocol::resp::{
    Command, ConnectionCommand, DataCommand, Limits, ParseError, ProtocolError, ServerError,
};

use crate::context::ServerContext;
use crate::observability::metrics::Counter;
use crate::security::access_files::{Permission, RespUsers};

/// Redis's limit on arguments before authentication.
const UNAUTHENTICATED_MAX_ARGS: usize = 10;
/// Redis's limit on one bulk before authentication.
const UNAUTHENTICATED_MAX_BULK_BYTES: usize = 16 * 1024;

/// Where a RESP connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RespAccess {
    /// No password is configured: everything is allowed, AUTH is an error.
    Open,
    /// Must authenticate by `deadline`.
    Pending {
        /// When it is closed if still unauthenticated.
        deadline: Instant,
    },
    /// Authenticated (or the default user needs no password) with these rights.
    Granted(Permission),
}

/// What the gate decided about one parsed command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Run it.
    Run,
    /// Answered here (an error, or AUTH's `+OK`): do not run it.
    Answered,
}

impl RespAccess {
    /// The state of a new connection.
    pub fn new(ctx: &ServerContext) -> Self {
        let Some(users) = ctx.config.access.credentials.resp.as_ref() else {
            return RespAccess::Open;
        };
        match users.unauthenticated_permission() {
            Some(permission) => RespAccess::Granted(permission),
            None => RespAccess::Pending {
                deadline: Instant::now() + Duration::from_secs(ctx.config.access.auth_timeout_secs),
            },
        }
    }

    /// When the connection is closed unless it authenticates first.
    pub fn deadline(&self) -> Option<Instant> {
        match self {
            RespAccess::Pending { deadline } => Some(*deadline),
            RespAccess::Open | RespAccess::Granted(_) => None,
        }
    }

    /// Whether the connection has outlived its time to authenticate.
    pub fn timed_out(&self) -> bool {
        matches!(self, RespAccess::Pending { deadline } if Instant::now() >= *deadline)
    }

    /// The parser limits to use now: Redis's small ones until authenticated.
    pub fn limits(&self, authenticated: &Limits) -> Limits {
        match self {
            RespAccess::Pending { .. } => Limits {
                max_arg_count: UNAUTHENTICATED_MAX_ARGS,
                max_bulk_len_bytes: UNAUTHENTICATED_MAX_BULK_BYTES,
                max_inline_len_bytes: UNAUTHENTICATED_MAX_BULK_BYTES,
                ..*authenticated
            },
            _ => *authenticated,
        }
    }

    /// Writes the reply to a parse error: Redis's own words where the
    /// unauthenticated limits refused the request.
    pub fn encode_parse_error(&self, error: &ParseError<'_>, out: &mut Vec<u8>) {
        let unauthenticated = matches!(self, RespAccess::Pending { .. });
        match error {
            ParseError::Protocol(ProtocolError::InvalidMultibulkLength) if unauthenticated => {
                out.extend_from_slice(b"-ERR Protocol error: unauthenticated multibulk length\r\n")
            }
            ParseError::Protocol(ProtocolError::InvalidBulkLength) if unauthenticated => {
                out.extend_from_slice(b"-ERR Protocol error: unauthenticated bulk length\r\n")
            }
            _ => error.encode(out),
        }
    }

    /// Decides whether `command` may run; AUTH and HELLO's AUTH are checked
    /// here and change the state. `frame` is the request's bytes (for NOPERM).
    pub fn gate(
        &mut self,
        ctx: &ServerContext,
        command: &Command<'_>,
        frame: &[u8],
        out: &mut Vec<u8>,
    ) -> Gate {
        let users = ctx.config.access.credentials.resp.as_ref();
        // AUTH and HELLO's AUTH: checked in every state, as Redis checks them.
        let credentials = match command {
            Command::Connection(ConnectionCommand::Auth { username, password }) => {
                Some((*username, *password, true))
            }
            Command::Connection(ConnectionCommand::Hello(hello)) => hello
                .auth
                .map(|(user, password)| (Some(user), password, false)),
            _ => None,
        };
        if let Some((user, password, is_auth)) = credentials {
            return self.authenticate(ctx, users, user, password, is_auth, out);
        }
        match *self {
            RespAccess::Open => Gate::Run,
            RespAccess::Pending { .. } => match command {
                Command::Connection(ConnectionCommand::Quit) => Gate::Run,
                Command::Connection(ConnectionCommand::Hello(_)) => {
                    out.extend_from_slice(HELLO_NOAUTH);
                    Gate::Answered
                }
                _ => {
                    ServerError::NoAuth.encode(out);
                    Gate::Answered
                }
            },
            RespAccess::Granted(Permission::ReadWrite) => Gate::Run,
            RespAccess::Granted(Permission::ReadOnly) if is_read(command) => Gate::Run,
            RespAccess::Granted(Permission::ReadOnly) => {
                out.extend_from_slice(b"-NOPERM this user has no permissions to run the '");
                push_command_name(frame, command, out);
                out.extend_from_slice(b"' command\r\n");
                Gate::Answered
            }
        }
    }

    /// Checks a user and password. For AUTH the reply (`+OK` or the error) is
    /// written here; for HELLO only an error is, and HELLO itself replies.
    fn authenticate(
        &mut self,
        ctx: &ServerContext,
        users: Option<&RespUsers>,
        user: Option<&[u8]>,
        password: &[u8],
        is_auth: bool,
        out: &mut Vec<u8>,
    ) -> Gate {
        let granted = match users {
            Some(users) => users.authenticate(user, password),
            // No users configured: Redis's default user takes any password.
            None if user.is_none() => {
                ServerError::AuthNotConfigured.encode(out);
                return Gate::Answered;
            }
            None => (user == Some(b"default".as_slice())).then_some(Permission::ReadWrite),
        };
        let Some(permission) = granted else {
            ctx.metrics.incr(Counter::RespAuthErrors);
            // A failed AUTH keeps what the connection had, as in Redis.
            ServerError::WrongPass.encode(out);
            return Gate::Answered;
        };
        if users.is_some() {
            *self = RespAccess::Granted(permission);
        }
        if is_auth {
            out.extend_from_slice(b"+OK\r\n");
            return Gate::Answered;
        }
        Gate::Run
    }
}

/// Redis's reply to HELLO without AUTH before authenticating.
const HELLO_NOAUTH: &[u8] = b"-NOAUTH HELLO must be called with the client already \
authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate \
the client and select the RESP protocol version at the same time\r\n";

/// Commands in Redis's `@read` category (plus QUIT, which needs no rights):
/// what a `+@read` user may run. Everything else is refused, as Redis refuses
/// `@connection` commands (PING, INFO, CLIENT, COMMAND) to such a user.
fn is_read(command: &Command<'_>) -> bool {
    matches!(
        command,
        Command::Data(DataCommand::Get { .. })
            | Command::Data(DataCommand::MGet { .. })
            | Command::Data(DataCommand::Exists { .. })
            | Command::Data(DataCommand::Strlen { .. })
            | Command::Data(DataCommand::Ttl { .. })
            | Command::Data(DataCommand::Type { .. })
            | Command::Data(DataCommand::DbSize)
            | Command::Connection(ConnectionCommand::Quit)
    )
}

/// Appends the command's name as Redis shows it in NOPERM, lowercased:
/// `set`, or `client|setname` for a subcommand. `frame` is a request the
/// parser accepted whole: `*N` and `$L` headers, or an inline line.
fn push_command_name(frame: &[u8], command: &Command<'_>, out: &mut Vec<u8>) {
    let has_subcommand = matches!(
        command,
        Command::Connection(ConnectionCommand::ClientSetName { .. })
            | Command::Connection(ConnectionCommand::ClientGetName)
            | Command::Connection(ConnectionCommand::ClientId)
            | Command::Connection(ConnectionCommand::ClientInfo)
            | Command::Connection(ConnectionCommand::ClientList)
            | Command::Connection(ConnectionCommand::ClientSetInfo { .. })
            | Command::Connection(ConnectionCommand::CommandCount)
            | Command::Connection(ConnectionCommand::CommandDocs { .. })
            | Command::Connection(ConnectionCommand::CommandInfo { .. })
            | Command::Connection(ConnectionCommand::ConfigGet { .. })
            | Command::Connection(ConnectionCommand::ConfigResetStat)
    );
    let words = request_words(frame);
    for (index, word) in words
        .into_iter()
        .take(1 + usize::from(has_subcommand))
        .enumerate()
    {
        if index > 0 {
            out.push(b'|');
        }
        // Only printable bytes: the name goes into a one-line reply.
        out.extend(
            word.iter()
                .filter(|b| b.is_ascii_graphic())
                .map(u8::to_ascii_lowercase),
        );
    }
}

/// The first two words of a request frame.
fn request_words(frame: &[u8]) -> Vec<&[u8]> {
    let mut words = Vec::with_capacity(2);
    if frame.first() != Some(&b'*') {
        let line = frame.split(|&b| b == b'\n').next().unwrap_or_default();
        words.extend(
            line.split(u8::is_ascii_whitespace)
                .filter(|w| !w.is_empty())
                .take(2),
        );
        return words;
    }
    let mut lines = frame.split(|&b| b == b'\n').skip(1);
    while words.len() < 2 {
        let (Some(header), Some(body)) = (lines.next(), lines.next()) else {
            break;
        };
        let len: usize = std::str::from_utf8(header.get(1..).unwrap_or_default())
            .ok()
            .and_then(|text| text.trim_end().parse().ok())
            .unwrap_or(0);
        words.push(body.get(..len).unwrap_or(body));
    }
    words
}

#[cfg(test)]
mod tests {
    use super::request_words;

    #[test]
    fn words_of_multibulk_and_inline_requests() {
        let frame = b"*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$1\r\nx\r\n";
        assert_eq!(request_words(frame), [b"CLIENT".as_slice(), b"SETNAME"]);
        assert_eq!(request_words(b"set k v\r\n"), [b"set".as_slice(), b"k"]);
    }
}
