//! `CONFIG GET | SET | RESETSTAT`: parsing, and the glob match Redis applies
//! to parameter names. Tools such as redis-benchmark and redis_exporter read
//! a few parameters at start; tailcache answers them, and refuses to change
//! settings at run time.

use super::args::Args;
use super::command::{Command, ConnectionCommand};
use super::error::CommandError;
use super::parse::next_arg;

/// Parses `CONFIG GET pattern... | SET name value... | RESETSTAT`; `rest`
/// starts at the subcommand (the arity check guarantees there is one).
pub(crate) fn parse_config<'a>(rest: Args<'a>) -> Result<Command<'a>, CommandError<'a>> {
    let mut args = rest;
    let subcommand = next_arg(&mut args);
    if subcommand.eq_ignore_ascii_case(b"get") {
        if args.len() == 0 {
            return Err(CommandError::WrongArity {
                command: "config|get",
            });
        }
        Ok(Command::Connection(ConnectionCommand::ConfigGet {
            patterns: args,
        }))
    } else if subcommand.eq_ignore_ascii_case(b"set") {
        if args.len() < 2 || !args.len().is_multiple_of(2) {
            return Err(CommandError::WrongArity {
                command: "config|set",
            });
        }
        Err(CommandError::ConfigSetUnsupported)
    } else if subcommand.eq_ignore_ascii_case(b"resetstat") {
        if args.len() != 0 {
            return Err(CommandError::WrongArity {
                command: "config|resetstat",
            });
        }
        Ok(Command::Connection(ConnectionCommand::ConfigResetStat))
    } else {
        Err(CommandError::UnknownSubcommand {
            command: "CONFIG",
            subcommand,
        })
    }
}

/// Whether `name` matches the glob `pattern` as Redis's `CONFIG GET` reads
/// it: `*`, `?`, `[abc]`, `[a-z]`, `[^x]` and `\` escapes, ignoring ASCII
/// case. Linear backtracking over the last `*`, so a hostile pattern costs
/// at most pattern × name steps.
pub fn glob_matches(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    // Where to resume after the last `*`: (pattern after it, name position).
    let mut resume: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            p += 1;
            resume = Some((p, n));
            continue;
        }
        if let Some(next) = match_one(pattern, p, name[n]) {
            p = next;
            n += 1;
            continue;
        }
        match resume {
            Some((after_star, from)) => {
                p = after_star;
                n = from + 1;
                resume = Some((after_star, from + 1));
            }
            None => return false,
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&b| b == b'*')
}

/// Matches one pattern element at `p` against `c`; the index after it.
fn match_one(pattern: &[u8], p: usize, c: u8) -> Option<usize> {
    let c = c.to_ascii_lowercase();
    match *pattern.get(p)? {
        b'?' => Some(p + 1),
        b'[' => match_class(pattern, p + 1, c),
        b'\\' if p + 1 < pattern.len() => {
            (pattern[p + 1].to_ascii_lowercase() == c).then_some(p + 2)
        }
        literal => (literal.to_ascii_lowercase() == c).then_some(p + 1),
    }
}

/// Matches a `[...]` class starting after its `[`; the index after its `]`
/// (an unclosed class runs to the end of the pattern, as in Redis).
fn match_class(pattern: &[u8], mut p: usize, c: u8) -> Option<usize> {
    let negated = pattern.get(p) == Some(&b'^');
    if negated {
        p += 1;
    }
    let mut matched = false;
    while p < pattern.len() && pattern[p] != b']' {
        if pattern[p] == b'\\' && p + 1 < pattern.len() {
            matched |= pattern[p + 1].to_ascii_lowercase() == c;
            p += 2;
        } else if p + 2 < pattern.len() && pattern[p + 1] == b'-' && pattern[p + 2] != b']' {
            let (mut low, mut high) = (
                pattern[p].to_ascii_lowercase(),
                pattern[p + 2].to_ascii_lowercase(),
            );
            if low > high {
                std::mem::swap(&mut low, &mut high);
            }
            matched |= (low..=high).contains(&c);
            p += 3;
        } else {
            matched |= pattern[p].to_ascii_lowercase() == c;
            p += 1;
        }
    }
    let after = (p + 1).min(pattern.len());
    (matched != negated).then_some(after)
}

#[cfg(test)]
mod tests {
    use super::glob_matches;

    #[test]
    fn globs_match_as_redis_config_get_does() {
        let cases: &[(&str, &str, bool)] = &[
            ("maxmemory", "maxmemory", true),
            ("MAXMEMORY", "maxmemory", true),
            ("maxmemory*", "maxmemory-policy", true),
            ("*memory", "maxmemory", true),
            ("*", "save", true),
            ("sav?", "save", true),
            ("sav?", "saved", false),
            ("max*pol*", "maxmemory-policy", true),
            ("[ab]ppendonly", "appendonly", true),
            ("[^a]ppendonly", "appendonly", false),
            ("[a-c]ppendonly", "appendonly", true),
            ("[c-a]ppendonly", "appendonly", true),
            ("\\*", "*", true),
            ("\\*", "a", false),
            ("port", "tls-port", false),
            ("*port", "tls-port", true),
            ("", "port", false),
            ("**", "", true),
            ("[", "p", false),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(
                glob_matches(pattern.as_bytes(), name.as_bytes()),
                *want,
                "{pattern:?} against {name:?}"
            );
        }
    }

    #[test]
    fn a_hostile_pattern_is_linear() {
        let pattern = "*a".repeat(10_000) + "b";
        let name = "a".repeat(64);
        assert!(!glob_matches(pattern.as_bytes(), name.as_bytes()));
    }
}
