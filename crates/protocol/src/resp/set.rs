//! SET and GETEX options, parsed in the order and with the conflicts Redis uses
//! (`parseExtendedStringArgumentsOrReply`): option syntax first, then the number.

use super::args::Args;
use super::command::{Command, DataCommand, Expiry, GetExOption, Set, SetCondition};
use super::error::CommandError;
use super::limits::Limits;
use super::parse::{checked_key, next_arg};
use crate::number::parse_redis_i64;

/// Which command the options belong to: SET allows NX/XX/GET/KEEPTTL, GETEX PERSIST.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Owner {
    Set,
    GetEx,
}

/// The expiry kinds; each may repeat (the last wins) but two kinds conflict.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ExpiryKind {
    Ex,
    Px,
    ExAt,
    PxAt,
}

#[derive(Default)]
struct Options<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keep_ttl: bool,
    persist: bool,
    expiry: Option<(ExpiryKind, &'a [u8])>,
}

/// Parses `SET key value [options]`; `rest` starts at the key.
pub(crate) fn parse_set<'a>(
    mut rest: Args<'a>,
    limits: &Limits,
) -> Result<Command<'a>, CommandError<'a>> {
    let key = checked_key(next_arg(&mut rest), limits)?;
    let value = next_arg(&mut rest);
    let options = parse_options(rest, Owner::Set)?;
    let expiry = options
        .expiry
        .map(|(kind, amount)| to_expiry(kind, amount, "set"))
        .transpose()?;
    let condition = match (options.nx, options.xx) {
        (true, _) => SetCondition::IfAbsent,
        (_, true) => SetCondition::IfPresent,
        _ => SetCondition::Always,
    };
    Ok(Command::Data(DataCommand::Set(Set {
        key,
        value,
        condition,
        expiry,
        keep_ttl: options.keep_ttl,
        get: options.get,
    })))
}

/// Parses `GETEX key [options]`; `rest` starts at the key.
pub(crate) fn parse_getex<'a>(
    mut rest: Args<'a>,
    limits: &Limits,
) -> Result<Command<'a>, CommandError<'a>> {
    let key = checked_key(next_arg(&mut rest), limits)?;
    let options = parse_options(rest, Owner::GetEx)?;
    let option = match options.expiry {
        Some((kind, amount)) => Some(GetExOption::Expire(to_expiry(kind, amount, "getex")?)),
        None if options.persist => Some(GetExOption::Persist),
        None => None,
    };
    Ok(Command::Data(DataCommand::GetEx { key, option }))
}

fn parse_options<'a>(mut rest: Args<'a>, owner: Owner) -> Result<Options<'a>, CommandError<'a>> {
    let mut options = Options::default();
    while let Some(option) = rest.next() {
        let is_set = owner == Owner::Set;
        let no_expiry_set = options.expiry.is_none();
        if option.eq_ignore_ascii_case(b"nx") && !options.xx && is_set {
            options.nx = true;
        } else if option.eq_ignore_ascii_case(b"xx") && !options.nx && is_set {
            options.xx = true;
        } else if option.eq_ignore_ascii_case(b"get") && is_set {
            options.get = true;
        } else if option.eq_ignore_ascii_case(b"keepttl") && is_set && no_expiry_set {
            options.keep_ttl = true;
        } else if option.eq_ignore_ascii_case(b"persist") && !is_set && no_expiry_set {
            options.persist = true;
        } else if let Some(kind) = expiry_kind(option) {
            let compatible = !options.keep_ttl
                && !options.persist
                && options.expiry.is_none_or(|(previous, _)| previous == kind);
            let amount = rest.clone().next();
            match amount {
                Some(amount) if compatible => {
                    rest.next();
                    options.expiry = Some((kind, amount));
                }
                _ => return Err(CommandError::Syntax),
            }
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(options)
}

fn expiry_kind(option: &[u8]) -> Option<ExpiryKind> {
    [
        (&b"ex"[..], ExpiryKind::Ex),
        (b"px", ExpiryKind::Px),
        (b"exat", ExpiryKind::ExAt),
        (b"pxat", ExpiryKind::PxAt),
    ]
    .into_iter()
    .find(|(name, _)| option.eq_ignore_ascii_case(name))
    .map(|(_, kind)| kind)
}

/// Redis's `getExpireMillisecondsOrReply` without the "now" part: the amount must be an
/// integer, positive, and (in seconds) convertible to milliseconds.
fn to_expiry<'a>(
    kind: ExpiryKind,
    amount: &[u8],
    command: &'static str,
) -> Result<Expiry, CommandError<'a>> {
    let amount = parse_redis_i64(amount).ok_or(CommandError::NotInteger)?;
    let in_seconds = matches!(kind, ExpiryKind::Ex | ExpiryKind::ExAt);
    if amount <= 0 || (in_seconds && amount > i64::MAX / 1000) {
        return Err(CommandError::InvalidExpireTime { command });
    }
    Ok(match kind {
        ExpiryKind::Ex => Expiry::Seconds(amount),
        ExpiryKind::Px => Expiry::Millis(amount),
        ExpiryKind::ExAt => Expiry::UnixSeconds(amount),
        ExpiryKind::PxAt => Expiry::UnixMillis(amount),
    })
}
