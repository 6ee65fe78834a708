//! Connection commands: HELLO, AUTH, SELECT, CLIENT, COMMAND, FLUSHALL/FLUSHDB, PING.

use super::args::Args;
use super::command::{
    ClientInfoAttribute, Command, ConnectionCommand, DataCommand, FlushMode, Hello, ProtocolVersion,
};
use super::error::CommandError;
use super::parse::next_arg;
use super::spec::arity_ok;
use crate::number::parse_redis_i64;

/// Parses `HELLO [protover [AUTH user pass] [SETNAME name]]`.
pub(crate) fn parse_hello<'a>(mut rest: Args<'a>) -> Result<Command<'a>, CommandError<'a>> {
    let mut hello = Hello {
        version: None,
        auth: None,
        client_name: None,
    };
    let Some(version) = rest.next() else {
        return Ok(Command::Connection(ConnectionCommand::Hello(hello)));
    };
    hello.version = Some(match parse_redis_i64(version) {
        None => return Err(CommandError::HelloVersionNotInteger),
        Some(2) => ProtocolVersion::Resp2,
        Some(3) => ProtocolVersion::Resp3,
        Some(_) => return Err(CommandError::NoProto),
    });
    while let Some(option) = rest.next() {
        let more = rest.len();
        if option.eq_ignore_ascii_case(b"auth") && more >= 2 {
            hello.auth = Some((next_arg(&mut rest), next_arg(&mut rest)));
        } else if option.eq_ignore_ascii_case(b"setname") && more >= 1 {
            hello.client_name = Some(checked_client_name(next_arg(&mut rest))?);
        } else {
            return Err(CommandError::HelloSyntax { option });
        }
    }
    Ok(Command::Connection(ConnectionCommand::Hello(hello)))
}

/// Parses `AUTH [username] password`.
pub(crate) fn parse_auth<'a>(mut rest: Args<'a>) -> Result<Command<'a>, CommandError<'a>> {
    match rest.len() {
        1 => Ok(Command::Connection(ConnectionCommand::Auth {
            username: None,
            password: next_arg(&mut rest),
        })),
        2 => Ok(Command::Connection(ConnectionCommand::Auth {
            username: Some(next_arg(&mut rest)),
            password: next_arg(&mut rest),
        })),
        _ => Err(CommandError::Syntax),
    }
}

/// Parses `SELECT index`: only database 0 exists.
pub(crate) fn parse_select<'a>(mut rest: Args<'a>) -> Result<Command<'a>, CommandError<'a>> {
    match parse_redis_i64(next_arg(&mut rest)) {
        None => Err(CommandError::NotInteger),
        Some(0) => Ok(Command::Connection(ConnectionCommand::Select)),
        Some(_) => Err(CommandError::DbIndexOutOfRange),
    }
}

/// Parses `FLUSHALL|FLUSHDB [ASYNC|SYNC]`.
pub(crate) fn parse_flush<'a>(mut rest: Args<'a>) -> Result<Command<'a>, CommandError<'a>> {
    let mode = match (rest.next(), rest.len()) {
        (None, _) => FlushMode::Default,
        (Some(mode), 0) if mode.eq_ignore_ascii_case(b"async") => FlushMode::Async,
        (Some(mode), 0) if mode.eq_ignore_ascii_case(b"sync") => FlushMode::Sync,
        _ => return Err(CommandError::Syntax),
    };
    Ok(Command::Data(DataCommand::Flush { mode }))
}

/// Parses `PING [message]`.
pub(crate) fn parse_ping<'a>(mut rest: Args<'a>) -> Result<Command<'a>, CommandError<'a>> {
    match rest.len() {
        0 | 1 => Ok(Command::Connection(ConnectionCommand::Ping {
            message: rest.next(),
        })),
        _ => Err(CommandError::WrongArity { command: "ping" }),
    }
}

/// A subcommand's name as Redis prints it, and its arity (name and subcommand included).
struct Subcommand {
    name: &'static str,
    arity: i32,
}

/// Parses `CLIENT SETNAME|GETNAME|ID|INFO|SETINFO|LIST ...`; `rest` starts at the subcommand.
pub(crate) fn parse_client<'a>(rest: Args<'a>) -> Result<Command<'a>, CommandError<'a>> {
    let mut args = rest;
    let subcommand = next_arg(&mut args);
    let table: [(&[u8], Subcommand); 6] = [
        (
            b"setname",
            Subcommand {
                name: "client|setname",
                arity: 3,
            },
        ),
        (
            b"getname",
            Subcommand {
                name: "client|getname",
                arity: 2,
            },
        ),
        (
            b"id",
            Subcommand {
                name: "client|id",
                arity: 2,
            },
        ),
        (
            b"info",
            Subcommand {
                name: "client|info",
                arity: 2,
            },
        ),
        (
            b"setinfo",
            Subcommand {
                name: "client|setinfo",
                arity: 4,
            },
        ),
        (
            b"list",
            Subcommand {
                name: "client|list",
                arity: -2,
            },
        ),
    ];
    let Some(index) = table
        .iter()
        .position(|(name, _)| subcommand.eq_ignore_ascii_case(name))
    else {
        return Err(CommandError::UnknownSubcommand {
            command: "CLIENT",
            subcommand,
        });
    };
    let spec = &table[index].1;
    if !arity_ok(spec.arity, rest.len() + 1) {
        return Err(CommandError::WrongArity { command: spec.name });
    }
    match index {
        0 => Ok(Command::Connection(ConnectionCommand::ClientSetName {
            name: checked_client_name(next_arg(&mut args))?,
        })),
        1 => Ok(Command::Connection(ConnectionCommand::ClientGetName)),
        2 => Ok(Command::Connection(ConnectionCommand::ClientId)),
        3 => Ok(Command::Connection(ConnectionCommand::ClientInfo)),
        4 => parse_client_setinfo(args),
        // Redis's TYPE and ID filters are not served.
        _ if args.len() > 0 => Err(CommandError::Syntax),
        _ => Ok(Command::Connection(ConnectionCommand::ClientList)),
    }
}

fn parse_client_setinfo<'a>(mut args: Args<'a>) -> Result<Command<'a>, CommandError<'a>> {
    let attribute = next_arg(&mut args);
    let value = next_arg(&mut args);
    let attribute = if attribute.eq_ignore_ascii_case(b"lib-name") {
        ClientInfoAttribute::LibName
    } else if attribute.eq_ignore_ascii_case(b"lib-ver") {
        ClientInfoAttribute::LibVersion
    } else {
        return Err(CommandError::UnrecognizedClientInfoOption(attribute));
    };
    Ok(Command::Connection(ConnectionCommand::ClientSetInfo {
        attribute,
        value,
    }))
}

/// Redis allows only `!`..`~` in client names (no spaces, newlines or specials).
fn is_valid_client_name(name: &[u8]) -> bool {
    name.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

/// Longest client name (CLIENT SETNAME, HELLO SETNAME). Redis has no bound of
/// its own; names are labels for `CLIENT INFO` and logs, and without a bound
/// every connection could keep up to an argument's size (1 MiB) as its name.
pub const MAX_CLIENT_NAME_BYTES: usize = 512;

fn checked_client_name<'a>(name: &'a [u8]) -> Result<&'a [u8], CommandError<'a>> {
    if name.len() > MAX_CLIENT_NAME_BYTES {
        Err(CommandError::ClientNameTooLong {
            max_bytes: MAX_CLIENT_NAME_BYTES,
        })
    } else if is_valid_client_name(name) {
        Ok(name)
    } else {
        Err(CommandError::InvalidClientName)
    }
}

/// Parses `COMMAND [COUNT | DOCS name... | INFO name...]`; `rest` starts after COMMAND.
pub(crate) fn parse_command_command<'a>(rest: Args<'a>) -> Result<Command<'a>, CommandError<'a>> {
    let mut args = rest;
    let Some(subcommand) = args.next() else {
        return Ok(Command::Connection(ConnectionCommand::CommandTable));
    };
    if subcommand.eq_ignore_ascii_case(b"count") {
        if args.len() != 0 {
            return Err(CommandError::WrongArity {
                command: "command|count",
            });
        }
        Ok(Command::Connection(ConnectionCommand::CommandCount))
    } else if subcommand.eq_ignore_ascii_case(b"docs") {
        Ok(Command::Connection(ConnectionCommand::CommandDocs {
            names: args,
        }))
    } else if subcommand.eq_ignore_ascii_case(b"info") {
        Ok(Command::Connection(ConnectionCommand::CommandInfo {
            names: args,
        }))
    } else {
        Err(CommandError::UnknownSubcommand {
            command: "COMMAND",
            subcommand,
        })
    }
}
