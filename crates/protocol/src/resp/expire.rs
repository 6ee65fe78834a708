//! EXPIRE and PEXPIRE: flags first, then the number, as Redis's `expireGenericCommand`.

use super::args::Args;
use super::command::{Command, DataCommand, ExpireCondition, ExpireTime, TimeUnit};
use super::error::CommandError;
use super::limits::Limits;
use super::parse::{checked_key, next_arg};
use crate::number::parse_redis_i64;

/// Parses `EXPIRE|PEXPIRE key time [NX|XX|GT|LT ...]`; `rest` starts at the key.
pub(crate) fn parse_expire<'a>(
    mut rest: Args<'a>,
    unit: TimeUnit,
    limits: &Limits,
) -> Result<Command<'a>, CommandError<'a>> {
    let key = checked_key(next_arg(&mut rest), limits)?;
    let amount = next_arg(&mut rest);
    let condition = parse_condition(rest)?;
    let amount = parse_redis_i64(amount).ok_or(CommandError::NotInteger)?;
    let time = ExpireTime { amount, unit };
    if unit == TimeUnit::Seconds && amount.checked_mul(1000).is_none() {
        return Err(CommandError::InvalidExpireTime { command: "expire" });
    }
    Ok(Command::Data(DataCommand::Expire {
        key,
        time,
        condition,
    }))
}

fn parse_condition<'a>(flags: Args<'a>) -> Result<ExpireCondition, CommandError<'a>> {
    let mut condition = ExpireCondition::default();
    for flag in flags {
        if flag.eq_ignore_ascii_case(b"nx") {
            condition.nx = true;
        } else if flag.eq_ignore_ascii_case(b"xx") {
            condition.xx = true;
        } else if flag.eq_ignore_ascii_case(b"gt") {
            condition.gt = true;
        } else if flag.eq_ignore_ascii_case(b"lt") {
            condition.lt = true;
        } else {
            return Err(CommandError::UnsupportedOption(flag));
        }
    }
    if condition.nx && (condition.xx || condition.gt || condition.lt) {
        return Err(CommandError::ExpireNxConflict);
    }
    if condition.gt && condition.lt {
        return Err(CommandError::ExpireGtLtConflict);
    }
    Ok(condition)
}
