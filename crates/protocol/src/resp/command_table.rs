//! Replies to `COMMAND`, `COMMAND COUNT`, `COMMAND INFO` and `COMMAND DOCS`, built from
//! the same table the parser uses, so redis-cli and redis-py see what we accept.

use super::args::Args;
use super::command::ProtocolVersion;
use super::encode;
use super::spec::lookup;
pub use super::spec::{command_specs, CommandSpec};

/// `COMMAND COUNT`: how many commands tailcache knows.
pub fn encode_command_count(out: &mut Vec<u8>) {
    encode::integer(out, command_specs().len() as i64);
}

/// `COMMAND`: one info entry per command.
pub fn encode_command_table(out: &mut Vec<u8>, version: ProtocolVersion) {
    encode::array_header(out, command_specs().len());
    for spec in command_specs() {
        encode_info_entry(out, spec, version);
    }
}

/// `COMMAND INFO name...`: an entry per name, null for unknown names; all when empty.
pub fn encode_command_info(out: &mut Vec<u8>, names: Args<'_>, version: ProtocolVersion) {
    if names.len() == 0 {
        return encode_command_table(out, version);
    }
    encode::array_header(out, names.len());
    for name in names {
        match lookup(name) {
            Some(spec) => encode_info_entry(out, spec, version),
            None => encode::null(out, version),
        }
    }
}

/// `COMMAND DOCS [name...]`: a map from each known command to its docs. tailcache
/// keeps no doc texts, so each value is an empty map (redis-cli then shows no hints).
pub fn encode_command_docs(out: &mut Vec<u8>, names: Args<'_>, version: ProtocolVersion) {
    let count = if names.len() == 0 {
        command_specs().len()
    } else {
        names.filter(|name| lookup(name).is_some()).count()
    };
    encode::map_header(out, count, version);
    let mut write_entry = |spec: &CommandSpec| {
        encode::bulk(out, spec.name.as_bytes());
        encode::map_header(out, 0, version);
    };
    if names.len() == 0 {
        command_specs().iter().for_each(&mut write_entry);
    } else {
        names.filter_map(lookup).for_each(&mut write_entry);
    }
}

/// Redis 7's 10-element entry: name, arity, flags, first key, last key, step, ACL
/// categories, tips, key specs, subcommands. As redis-server 7.0 does, flags, categories,
/// tips and key specs are sets in RESP3; subcommands is always an array.
fn encode_info_entry(out: &mut Vec<u8>, spec: &CommandSpec, version: ProtocolVersion) {
    encode::array_header(out, 10);
    encode::bulk(out, spec.name.as_bytes());
    encode::integer(out, i64::from(spec.arity));
    encode::set_header(out, spec.flags.len(), version);
    for flag in spec.flags {
        encode::simple_string(out, flag.as_bytes());
    }
    encode::integer(out, i64::from(spec.first_key));
    encode::integer(out, i64::from(spec.last_key));
    encode::integer(out, i64::from(spec.key_step));
    encode::set_header(out, 0, version);
    encode::set_header(out, 0, version);
    encode::set_header(out, 0, version);
    encode::array_header(out, 0);
}
