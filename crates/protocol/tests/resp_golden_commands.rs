//! Every supported command parses to the expected typed value, in both request forms.

mod resp_support;

use resp_support::command;
use tailcache_protocol::resp::{
    parse, ClientInfoAttribute, Command, ConnectionCommand, DataCommand, ExpireCondition,
    ExpireTime, Expiry, FlushMode, GetExOption, Hello, Limits, Parsed, ProtocolVersion, Set,
    SetCondition, TimeUnit,
};

/// Parses `line` as multibulk and as inline, checks both agree, and returns the result.
fn parsed(line: &str) -> Command<'static> {
    let multibulk: &'static [u8] = Box::leak(command(line).into_boxed_slice());
    let inline: &'static [u8] = Box::leak(format!("{line}\r\n").into_bytes().into_boxed_slice());
    let limits = Limits::default();
    let from_multibulk = match parse(multibulk, &limits) {
        Ok(Parsed::Complete {
            request: command,
            consumed_bytes: consumed,
        }) => {
            assert_eq!(consumed, multibulk.len());
            command
        }
        other => panic!("{line}: {other:?}"),
    };
    match parse(inline, &limits) {
        Ok(Parsed::Complete {
            request: command,
            consumed_bytes: consumed,
        }) => {
            assert_eq!(consumed, inline.len());
            assert_eq!(
                command, from_multibulk,
                "{line}: inline and multibulk differ"
            );
        }
        other => panic!("{line} (inline): {other:?}"),
    }
    from_multibulk
}

fn set(key: &'static [u8], value: &'static [u8]) -> Set<'static> {
    Set {
        key,
        value,
        condition: SetCondition::Always,
        expiry: None,
        keep_ttl: false,
        get: false,
    }
}

#[test]
fn key_commands() {
    assert_eq!(
        parsed("GET k"),
        Command::Data(DataCommand::Get { key: b"k" })
    );
    assert_eq!(
        parsed("get k"),
        Command::Data(DataCommand::Get { key: b"k" })
    );
    assert_eq!(
        parsed("STRLEN k"),
        Command::Data(DataCommand::Strlen { key: b"k" })
    );
    assert_eq!(
        parsed("GETDEL k"),
        Command::Data(DataCommand::GetDel { key: b"k" })
    );
    assert_eq!(
        parsed("TYPE k"),
        Command::Data(DataCommand::Type { key: b"k" })
    );
    assert_eq!(
        parsed("PERSIST k"),
        Command::Data(DataCommand::Persist { key: b"k" })
    );
    assert_eq!(
        parsed("TTL k"),
        Command::Data(DataCommand::Ttl {
            key: b"k",
            unit: TimeUnit::Seconds
        })
    );
    assert_eq!(
        parsed("PTTL k"),
        Command::Data(DataCommand::Ttl {
            key: b"k",
            unit: TimeUnit::Millis
        })
    );
    assert_eq!(
        parsed("APPEND k v"),
        Command::Data(DataCommand::Append {
            key: b"k",
            value: b"v"
        })
    );
    assert_eq!(
        parsed("INCR k"),
        Command::Data(DataCommand::IncrBy {
            key: b"k",
            delta: 1
        })
    );
    assert_eq!(
        parsed("DECR k"),
        Command::Data(DataCommand::IncrBy {
            key: b"k",
            delta: -1
        })
    );
    assert_eq!(
        parsed("INCRBY k -5"),
        Command::Data(DataCommand::IncrBy {
            key: b"k",
            delta: -5
        })
    );
    assert_eq!(
        parsed("DECRBY k 5"),
        Command::Data(DataCommand::IncrBy {
            key: b"k",
            delta: -5
        })
    );
    assert_eq!(
        parsed("DECRBY k 9223372036854775807"),
        Command::Data(DataCommand::IncrBy {
            key: b"k",
            delta: -i64::MAX
        })
    );
}

#[test]
fn multi_key_commands_iterate_lazily() {
    let Command::Data(DataCommand::MGet { keys }) = parsed("MGET a bb ccc") else {
        panic!()
    };
    assert_eq!(keys.collect::<Vec<_>>(), [&b"a"[..], b"bb", b"ccc"]);
    let Command::Data(DataCommand::Del { keys }) = parsed("DEL a") else {
        panic!()
    };
    assert_eq!(keys.len(), 1);
    let Command::Data(DataCommand::Exists { keys }) = parsed("EXISTS a a") else {
        panic!()
    };
    assert_eq!(keys.collect::<Vec<_>>(), [&b"a"[..], b"a"]);
    let Command::Data(DataCommand::MSet { pairs }) = parsed("MSET a 1 b 2") else {
        panic!()
    };
    assert_eq!(pairs.len(), 2);
    assert_eq!(
        pairs.collect::<Vec<_>>(),
        [(&b"a"[..], &b"1"[..]), (b"b", b"2")]
    );
}

#[test]
fn set_options() {
    assert_eq!(
        parsed("SET k v"),
        Command::Data(DataCommand::Set(set(b"k", b"v")))
    );
    assert_eq!(
        parsed("SET k v EX 10"),
        Command::Data(DataCommand::Set(Set {
            expiry: Some(Expiry::Seconds(10)),
            ..set(b"k", b"v")
        }))
    );
    assert_eq!(
        parsed("set k v px 10 nx get"),
        Command::Data(DataCommand::Set(Set {
            expiry: Some(Expiry::Millis(10)),
            condition: SetCondition::IfAbsent,
            get: true,
            ..set(b"k", b"v")
        }))
    );
    assert_eq!(
        parsed("SET k v XX EXAT 1700000000"),
        Command::Data(DataCommand::Set(Set {
            expiry: Some(Expiry::UnixSeconds(1_700_000_000)),
            condition: SetCondition::IfPresent,
            ..set(b"k", b"v")
        }))
    );
    assert_eq!(
        parsed("SET k v PXAT 9223372036854775807"),
        Command::Data(DataCommand::Set(Set {
            expiry: Some(Expiry::UnixMillis(i64::MAX)),
            ..set(b"k", b"v")
        }))
    );
    assert_eq!(
        parsed("SET k v KEEPTTL"),
        Command::Data(DataCommand::Set(Set {
            keep_ttl: true,
            ..set(b"k", b"v")
        }))
    );
    // As in Redis, the same expiry kind may repeat (the last wins), and so may NX.
    assert_eq!(
        parsed("SET k v EX 1 EX 2 NX NX"),
        Command::Data(DataCommand::Set(Set {
            expiry: Some(Expiry::Seconds(2)),
            condition: SetCondition::IfAbsent,
            ..set(b"k", b"v")
        }))
    );
}

#[test]
fn expiry_conversion_follows_redis_overflow_rules() {
    assert_eq!(Expiry::Seconds(2).to_unix_millis(1_000), Some(3_000));
    assert_eq!(Expiry::Millis(2).to_unix_millis(1_000), Some(1_002));
    assert_eq!(Expiry::UnixSeconds(5).to_unix_millis(1_000), Some(5_000));
    assert_eq!(Expiry::UnixMillis(5).to_unix_millis(1_000), Some(5));
    assert_eq!(Expiry::Millis(i64::MAX).to_unix_millis(1), None);
    let expire = ExpireTime {
        amount: -5,
        unit: TimeUnit::Seconds,
    };
    assert_eq!(expire.to_unix_millis(10_000), Some(5_000));
    let overflow = ExpireTime {
        amount: i64::MAX,
        unit: TimeUnit::Millis,
    };
    assert_eq!(overflow.to_unix_millis(1), None);
    assert_eq!(overflow.command_name(), "pexpire");
}

#[test]
fn getex_and_expire_options() {
    assert_eq!(
        parsed("GETEX k"),
        Command::Data(DataCommand::GetEx {
            key: b"k",
            option: None
        })
    );
    assert_eq!(
        parsed("GETEX k PERSIST"),
        Command::Data(DataCommand::GetEx {
            key: b"k",
            option: Some(GetExOption::Persist)
        })
    );
    assert_eq!(
        parsed("GETEX k PXAT 5"),
        Command::Data(DataCommand::GetEx {
            key: b"k",
            option: Some(GetExOption::Expire(Expiry::UnixMillis(5)))
        })
    );
    let expire = |amount, unit, condition| {
        Command::Data(DataCommand::Expire {
            key: b"k",
            time: ExpireTime { amount, unit },
            condition,
        })
    };
    assert_eq!(
        parsed("EXPIRE k 10"),
        expire(10, TimeUnit::Seconds, ExpireCondition::default())
    );
    assert_eq!(
        parsed("EXPIRE k -10"),
        expire(-10, TimeUnit::Seconds, ExpireCondition::default())
    );
    assert_eq!(
        parsed("PEXPIRE k 10 xx gt"),
        expire(
            10,
            TimeUnit::Millis,
            ExpireCondition {
                xx: true,
                gt: true,
                ..Default::default()
            }
        )
    );
    assert_eq!(
        parsed("EXPIRE k 10 NX"),
        expire(
            10,
            TimeUnit::Seconds,
            ExpireCondition {
                nx: true,
                ..Default::default()
            }
        )
    );
    assert_eq!(
        parsed("EXPIRE k 10 LT"),
        expire(
            10,
            TimeUnit::Seconds,
            ExpireCondition {
                lt: true,
                ..Default::default()
            }
        )
    );
}

#[test]
fn server_and_connection_commands() {
    assert_eq!(parsed("DBSIZE"), Command::Data(DataCommand::DbSize));
    assert_eq!(
        parsed("FLUSHALL"),
        Command::Data(DataCommand::Flush {
            mode: FlushMode::Default
        })
    );
    assert_eq!(
        parsed("FLUSHDB async"),
        Command::Data(DataCommand::Flush {
            mode: FlushMode::Async
        })
    );
    assert_eq!(
        parsed("FLUSHALL SYNC"),
        Command::Data(DataCommand::Flush {
            mode: FlushMode::Sync
        })
    );
    assert_eq!(
        parsed("PING"),
        Command::Connection(ConnectionCommand::Ping { message: None })
    );
    assert_eq!(
        parsed("PING hi"),
        Command::Connection(ConnectionCommand::Ping {
            message: Some(b"hi")
        })
    );
    assert_eq!(
        parsed("ECHO hi"),
        Command::Connection(ConnectionCommand::Echo { message: b"hi" })
    );
    let Command::Connection(ConnectionCommand::Info { sections }) = parsed("INFO server clients")
    else {
        panic!()
    };
    assert_eq!(sections.collect::<Vec<_>>(), [&b"server"[..], b"clients"]);
    assert_eq!(
        parsed("SELECT 0"),
        Command::Connection(ConnectionCommand::Select)
    );
    assert_eq!(parsed("QUIT"), Command::Connection(ConnectionCommand::Quit));
    assert_eq!(
        parsed("AUTH pw"),
        Command::Connection(ConnectionCommand::Auth {
            username: None,
            password: b"pw"
        })
    );
    assert_eq!(
        parsed("AUTH u pw"),
        Command::Connection(ConnectionCommand::Auth {
            username: Some(b"u"),
            password: b"pw"
        })
    );
}

#[test]
fn hello_variants() {
    let hello = |version, auth, client_name| {
        Command::Connection(ConnectionCommand::Hello(Hello {
            version,
            auth,
            client_name,
        }))
    };
    assert_eq!(parsed("HELLO"), hello(None, None, None));
    assert_eq!(
        parsed("HELLO 2"),
        hello(Some(ProtocolVersion::Resp2), None, None)
    );
    assert_eq!(
        parsed("HELLO 3 AUTH default secret SETNAME app"),
        hello(
            Some(ProtocolVersion::Resp3),
            Some((&b"default"[..], &b"secret"[..])),
            Some(b"app")
        )
    );
    assert_eq!(
        parsed("hello 3 setname app"),
        hello(Some(ProtocolVersion::Resp3), None, Some(b"app"))
    );
}

#[test]
fn client_and_command_subcommands() {
    assert_eq!(
        parsed("CLIENT SETNAME app-1"),
        Command::Connection(ConnectionCommand::ClientSetName { name: b"app-1" })
    );
    assert_eq!(
        parsed("CLIENT GETNAME"),
        Command::Connection(ConnectionCommand::ClientGetName)
    );
    assert_eq!(
        parsed("client id"),
        Command::Connection(ConnectionCommand::ClientId)
    );
    assert_eq!(
        parsed("CLIENT INFO"),
        Command::Connection(ConnectionCommand::ClientInfo)
    );
    assert_eq!(
        parsed("CLIENT SETINFO LIB-NAME redis-py"),
        Command::Connection(ConnectionCommand::ClientSetInfo {
            attribute: ClientInfoAttribute::LibName,
            value: b"redis-py"
        })
    );
    assert_eq!(
        parsed("CLIENT SETINFO lib-ver 5.0.1"),
        Command::Connection(ConnectionCommand::ClientSetInfo {
            attribute: ClientInfoAttribute::LibVersion,
            value: b"5.0.1"
        })
    );
    assert_eq!(
        parsed("COMMAND"),
        Command::Connection(ConnectionCommand::CommandTable)
    );
    assert_eq!(
        parsed("COMMAND COUNT"),
        Command::Connection(ConnectionCommand::CommandCount)
    );
    let Command::Connection(ConnectionCommand::CommandDocs { names }) =
        parsed("COMMAND DOCS get set")
    else {
        panic!()
    };
    assert_eq!(names.len(), 2);
    let Command::Connection(ConnectionCommand::CommandInfo { names }) = parsed("COMMAND INFO")
    else {
        panic!()
    };
    assert_eq!(names.len(), 0);
}

#[test]
fn inline_quotes_group_words_and_blank_lines_are_skipped() {
    let limits = Limits::default();
    let input = b"\r\n  SET \"a key\" 'a value'  \r\n";
    assert_eq!(
        parse(input, &limits),
        Ok(Parsed::Complete {
            request: Command::Empty,
            consumed_bytes: 2
        })
    );
    match parse(&input[2..], &limits) {
        Ok(Parsed::Complete {
            request: Command::Data(DataCommand::Set(set)),
            ..
        }) => {
            assert_eq!(set.key, b"a key");
            assert_eq!(set.value, b"a value");
        }
        other => panic!("{other:?}"),
    }
    // A bare `\n` ends an inline line too, and `*0`/`*-1` are skipped as Redis does.
    assert!(matches!(
        parse(b"PING\n", &limits),
        Ok(Parsed::Complete {
            consumed_bytes: 5,
            ..
        })
    ));
    assert_eq!(
        parse(b"*0\r\n", &limits),
        Ok(Parsed::Complete {
            request: Command::Empty,
            consumed_bytes: 4
        })
    );
    assert_eq!(
        parse(b"*-1\r\n", &limits),
        Ok(Parsed::Complete {
            request: Command::Empty,
            consumed_bytes: 5
        })
    );
    // Backslashes are literal inside single quotes, as in Redis.
    match parse(b"ECHO 'x\\ny'\r\n", &limits) {
        Ok(Parsed::Complete {
            request: Command::Connection(ConnectionCommand::Echo { message }),
            ..
        }) => {
            assert_eq!(message, b"x\\ny")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn binary_safe_multibulk_arguments() {
    let request = resp_support::multibulk(&[b"SET", b"k\r\n\0", b"\xff\r\nvalue"]);
    match parse(&request, &Limits::default()) {
        Ok(Parsed::Complete {
            request: Command::Data(DataCommand::Set(set)),
            ..
        }) => {
            assert_eq!(set.key, b"k\r\n\0");
            assert_eq!(set.value, b"\xff\r\nvalue");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn command_names_match_case_insensitively_and_exactly() {
    assert_eq!(
        parsed("gEt k"),
        Command::Data(DataCommand::Get { key: b"k" })
    );
    assert_eq!(
        parsed("FlushAll"),
        Command::Data(DataCommand::Flush {
            mode: FlushMode::Default
        })
    );
    let limits = Limits::default();
    for name in [&b"GETX"[..], b"GE", b"get\0", b"FLUSHALLS", b"\xc7et"] {
        let request = resp_support::multibulk(&[name, b"k"]);
        match parse(&request, &limits) {
            Err(tailcache_protocol::resp::ParseError::Command {
                error: tailcache_protocol::resp::CommandError::UnknownCommand { name: got, .. },
                ..
            }) => assert_eq!(got, name),
            other => panic!("{name:?}: {other:?}"),
        }
    }
}
