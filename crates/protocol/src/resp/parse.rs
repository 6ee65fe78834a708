//! From a framed request to a typed [`Command`], with Redis's checks in Redis's order:
//! unknown command, then arity, then each command's own syntax and numbers.

use super::args::{Args, Pairs};
use super::command::{Command, ConnectionCommand, DataCommand, TimeUnit};
use super::connection_commands;
use super::error::{CommandError, ParseError, ProtocolError};
use super::expire::parse_expire;
use super::frame::{parse_frame, FrameParsed};
use super::limits::Limits;
use super::set::{parse_getex, parse_set};
use super::spec::{arity_ok, lookup, CommandId};
use crate::number::parse_redis_i64;

/// What the front of the input holds (the crate's one shape); a request Redis
/// ignores without a reply is [`Command::Empty`].
pub type Parsed<'a> = crate::Parsed<Command<'a>>;

/// Parses the request at the front of `input`.
///
/// Never allocates. On `Err`, encode the error and follow [`ParseError::action`]:
/// close after flushing, or skip the refused request's bytes and go on.
pub fn parse<'a>(input: &'a [u8], limits: &Limits) -> Result<Parsed<'a>, ParseError<'a>> {
    match parse_frame(input, limits)? {
        // A frame says nothing of its length until it is whole: one byte more.
        FrameParsed::Incomplete => Ok(Parsed::Incomplete {
            needed_bytes_hint: input.len() + 1,
        }),
        FrameParsed::Empty { consumed } => Ok(Parsed::Complete {
            request: Command::Empty,
            consumed_bytes: consumed,
        }),
        FrameParsed::Complete(frame) if is_http_command(frame.args) => {
            Err(ProtocolError::CrossProtocolScripting.into())
        }
        FrameParsed::Complete(frame) => match parse_command(frame.args, limits) {
            Ok(command) => Ok(Parsed::Complete {
                request: command,
                consumed_bytes: frame.consumed,
            }),
            Err(error) => Err(ParseError::Command {
                error,
                consumed: frame.consumed,
            }),
        },
    }
}

/// Redis's guard against cross-protocol scripting: a request whose command is `POST` or
/// `Host:` (any case), inline or multibulk, is an HTTP request sent to the RESP port.
fn is_http_command(mut args: Args<'_>) -> bool {
    args.next().is_some_and(|name| {
        name.eq_ignore_ascii_case(b"post") || name.eq_ignore_ascii_case(b"host:")
    })
}

/// Turns a request's arguments (command name first) into a [`Command`].
pub fn parse_command<'a>(args: Args<'a>, limits: &Limits) -> Result<Command<'a>, CommandError<'a>> {
    let mut rest = args;
    let name = next_arg(&mut rest);
    let Some(spec) = lookup(name) else {
        return Err(CommandError::UnknownCommand { name, args: rest });
    };
    if !arity_ok(spec.arity, args.len()) {
        return Err(CommandError::WrongArity { command: spec.name });
    }
    dispatch(spec.id, rest, limits)
}

fn dispatch<'a>(
    id: CommandId,
    rest: Args<'a>,
    limits: &Limits,
) -> Result<Command<'a>, CommandError<'a>> {
    match id {
        CommandId::Get => Ok(Command::Data(DataCommand::Get {
            key: only_key(rest, limits)?,
        })),
        CommandId::Set => parse_set(rest, limits),
        CommandId::MGet => Ok(Command::Data(DataCommand::MGet {
            keys: checked_keys(rest, 1, limits)?,
        })),
        CommandId::MSet => parse_mset(rest, limits),
        CommandId::Del => Ok(Command::Data(DataCommand::Del {
            keys: checked_keys(rest, 1, limits)?,
        })),
        CommandId::Exists => Ok(Command::Data(DataCommand::Exists {
            keys: checked_keys(rest, 1, limits)?,
        })),
        CommandId::Incr => Ok(Command::Data(DataCommand::IncrBy {
            key: only_key(rest, limits)?,
            delta: 1,
        })),
        CommandId::Decr => Ok(Command::Data(DataCommand::IncrBy {
            key: only_key(rest, limits)?,
            delta: -1,
        })),
        CommandId::IncrBy | CommandId::DecrBy => {
            parse_incr_by(rest, id == CommandId::DecrBy, limits)
        }
        CommandId::Append => {
            let mut rest = rest;
            let key = checked_key(next_arg(&mut rest), limits)?;
            Ok(Command::Data(DataCommand::Append {
                key,
                value: next_arg(&mut rest),
            }))
        }
        CommandId::Strlen => Ok(Command::Data(DataCommand::Strlen {
            key: only_key(rest, limits)?,
        })),
        CommandId::GetDel => Ok(Command::Data(DataCommand::GetDel {
            key: only_key(rest, limits)?,
        })),
        CommandId::GetEx => parse_getex(rest, limits),
        CommandId::Expire => parse_expire(rest, TimeUnit::Seconds, limits),
        CommandId::PExpire => parse_expire(rest, TimeUnit::Millis, limits),
        CommandId::Ttl => Ok(Command::Data(DataCommand::Ttl {
            key: only_key(rest, limits)?,
            unit: TimeUnit::Seconds,
        })),
        CommandId::PTtl => Ok(Command::Data(DataCommand::Ttl {
            key: only_key(rest, limits)?,
            unit: TimeUnit::Millis,
        })),
        CommandId::Persist => Ok(Command::Data(DataCommand::Persist {
            key: only_key(rest, limits)?,
        })),
        CommandId::Type => Ok(Command::Data(DataCommand::Type {
            key: only_key(rest, limits)?,
        })),
        CommandId::DbSize => Ok(Command::Data(DataCommand::DbSize)),
        CommandId::FlushAll | CommandId::FlushDb => connection_commands::parse_flush(rest),
        CommandId::Ping => connection_commands::parse_ping(rest),
        CommandId::Echo => Ok(Command::Connection(ConnectionCommand::Echo {
            message: first(rest),
        })),
        CommandId::Info => Ok(Command::Connection(ConnectionCommand::Info {
            sections: rest,
        })),
        CommandId::Hello => connection_commands::parse_hello(rest),
        CommandId::Auth => connection_commands::parse_auth(rest),
        CommandId::Select => connection_commands::parse_select(rest),
        CommandId::Client => connection_commands::parse_client(rest),
        CommandId::Command => connection_commands::parse_command_command(rest),
        CommandId::Config => super::config::parse_config(rest),
        CommandId::Quit => Ok(Command::Connection(ConnectionCommand::Quit)),
    }
}

/// The next argument; the arity check has already guaranteed it exists, so a missing
/// one (a bug) yields an empty slice rather than a panic.
pub(crate) fn next_arg<'a>(args: &mut Args<'a>) -> &'a [u8] {
    let arg = args.next();
    debug_assert!(arg.is_some(), "arity check let a short request through");
    arg.unwrap_or_default()
}

fn first<'a>(mut args: Args<'a>) -> &'a [u8] {
    next_arg(&mut args)
}

/// `key` if it fits the key limit.
pub(crate) fn checked_key<'a>(
    key: &'a [u8],
    limits: &Limits,
) -> Result<&'a [u8], CommandError<'a>> {
    if key.len() > limits.max_key_len_bytes {
        return Err(CommandError::KeyTooLong {
            max_bytes: limits.max_key_len_bytes,
        });
    }
    Ok(key)
}

fn only_key<'a>(args: Args<'a>, limits: &Limits) -> Result<&'a [u8], CommandError<'a>> {
    checked_key(first(args), limits)
}

/// Checks every `step`-th argument (from the first) against the key limit.
fn checked_keys<'a>(
    args: Args<'a>,
    step: usize,
    limits: &Limits,
) -> Result<Args<'a>, CommandError<'a>> {
    for key in args.step_by(step) {
        checked_key(key, limits)?;
    }
    Ok(args)
}

fn parse_mset<'a>(rest: Args<'a>, limits: &Limits) -> Result<Command<'a>, CommandError<'a>> {
    if !rest.len().is_multiple_of(2) {
        return Err(CommandError::WrongArity { command: "mset" });
    }
    Ok(Command::Data(DataCommand::MSet {
        pairs: Pairs::new(checked_keys(rest, 2, limits)?),
    }))
}

fn parse_incr_by<'a>(
    mut rest: Args<'a>,
    negate: bool,
    limits: &Limits,
) -> Result<Command<'a>, CommandError<'a>> {
    let key = checked_key(next_arg(&mut rest), limits)?;
    let amount = parse_redis_i64(next_arg(&mut rest)).ok_or(CommandError::NotInteger)?;
    let delta = if negate {
        amount
            .checked_neg()
            .ok_or(CommandError::DecrementOverflow)?
    } else {
        amount
    };
    Ok(Command::Data(DataCommand::IncrBy { key, delta }))
}
