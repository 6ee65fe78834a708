//! A RESP connection: framing, per-connection state (protocol version,
//! client name and id) and the connection-level commands; key commands are
//! in [`super::commands`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tailcache_runtime::TurnBudget;

use tailcache_protocol::resp::{
    self, command_table, encode, Command, ConnectionCommand, DataCommand, FrameProgress, Limits,
    Parsed, ProtocolVersion,
};
use tailcache_protocol::ErrorAction;

use super::auth::{Gate, RespAccess};
use super::multikey::{MultiKey, MultiKeyInProgress};
use crate::conn_registry::{ConnEntry, RespClient};
use crate::context::ServerContext;
use crate::exec::conn_loop::Step;
use crate::exec::{max_item_size_bytes, record};
use crate::observability::metrics::{CommandKind, Counter};

/// Ids handed to RESP connections (`CLIENT ID`), unique for the process.
static NEXT_CLIENT_ID: AtomicU64 = AtomicU64::new(1);

/// Per-connection state of the RESP protocol.
#[derive(Debug)]
pub struct RespConn {
    limits: Limits,
    /// RESP2 until `HELLO 3`.
    pub version: ProtocolVersion,
    /// `CLIENT SETNAME`; at most `MAX_CLIENT_NAME_BYTES` (the parser refuses longer).
    name: Option<Vec<u8>>,
    id: u64,
    /// How far the request still arriving at the front has been checked, so
    /// that it is not parsed again from its start at every read; `None` until
    /// the parser finds a request incomplete.
    progress: Option<FrameProgress>,
    /// Whether it must still authenticate, and what it may run.
    access: RespAccess,
    /// Its row in `stats conns` and `CLIENT LIST`, when it has one.
    entry: Option<Arc<ConnEntry>>,
    /// An MGET, DEL or EXISTS served in part: the input starts with its keys left.
    multi_key: Option<MultiKeyInProgress>,
}

impl RespConn {
    /// When it is closed unless it authenticates first (requirepass, ACL users).
    pub fn auth_deadline(&self) -> Option<std::time::Instant> {
        self.access.deadline()
    }

    /// A RESP2 connection with limits from the server's configuration;
    /// `entry` is its row in the connection registry.
    pub fn new(ctx: &ServerContext, entry: Option<Arc<ConnEntry>>) -> Self {
        let limits = Limits {
            max_bulk_len_bytes: max_item_size_bytes(ctx),
            ..Limits::default()
        };
        let conn = Self {
            limits,
            version: ProtocolVersion::Resp2,
            name: None,
            id: NEXT_CLIENT_ID.fetch_add(1, Ordering::Relaxed),
            progress: None,
            access: RespAccess::new(ctx),
            entry,
            multi_key: None,
        };
        conn.publish();
        conn
    }

    /// Tells the registry its id, name and protocol version (`CLIENT LIST`).
    fn publish(&self) {
        if let Some(entry) = &self.entry {
            entry.set_resp_client(RespClient {
                id: self.id,
                name: self.name.clone().unwrap_or_default(),
                resp_version: match self.version {
                    ProtocolVersion::Resp2 => 2,
                    ProtocolVersion::Resp3 => 3,
                },
            });
        }
    }

    /// Handles the command (or empty line, or framing error) at the front of `rest`,
    /// within what is left of the turn's `budget`.
    pub fn step(
        &mut self,
        ctx: &ServerContext,
        rest: &[u8],
        output: &mut Vec<u8>,
        budget: &mut TurnBudget,
    ) -> Step {
        if self.access.timed_out() {
            return Step::Close(0);
        }
        if let Some(progress) = self.multi_key.take() {
            let (step, left) =
                super::multikey::go_on(ctx, progress, rest, output, self.version, budget);
            self.multi_key = left;
            return step;
        }
        let limits = self.access.limits(&self.limits);
        if let Some(progress) = self.progress.as_mut() {
            if progress.still_arriving(rest, &limits) {
                return Step::NeedMore;
            }
            // Whatever the parser says now, the request is whole or refused.
            self.progress = None;
        }
        match resp::parse(rest, &limits) {
            // Ignored without a reply, before any gate, as Redis does.
            Ok(Parsed::Complete {
                request: Command::Empty,
                consumed_bytes,
            }) => Step::Next(consumed_bytes),
            Ok(Parsed::Complete {
                request: command,
                consumed_bytes: consumed,
            }) => {
                let frame = &rest[..consumed.min(rest.len())];
                if self.access.gate(ctx, &command, frame, output) == Gate::Answered {
                    record(ctx, CommandKind::Other, Instant::now());
                    Step::Next(consumed)
                } else if let Some((kind, keys)) = many_keys(&command) {
                    let (step, left) =
                        super::multikey::start(ctx, kind, keys, rest, output, self.version, budget);
                    self.multi_key = left;
                    debug_assert!(
                        left.is_some() || step == Step::Next(consumed),
                        "a whole many-key request ends with its last key"
                    );
                    step
                } else if self.execute(ctx, command, output) {
                    Step::Close(consumed)
                } else {
                    Step::Next(consumed)
                }
            }
            Ok(Parsed::Incomplete { .. }) => {
                // Checked once here; later reads look only at the new bytes.
                let mut progress = FrameProgress::default();
                progress.still_arriving(rest, &limits);
                self.progress = Some(progress);
                Step::NeedMore
            }
            Err(error) => {
                ctx.metrics.incr(Counter::ProtocolErrors);
                self.access.encode_parse_error(&error, output);
                match error.action() {
                    ErrorAction::Close => Step::Close(0),
                    ErrorAction::Skip { bytes } => Step::Next(bytes),
                }
            }
        }
    }

    /// Runs one command; true when the connection must close after it.
    fn execute(&mut self, ctx: &ServerContext, command: Command<'_>, out: &mut Vec<u8>) -> bool {
        let started = Instant::now();
        let (kind, close) = match command {
            Command::Data(data) => (
                super::commands::execute(ctx, data, out, self.version),
                false,
            ),
            Command::Connection(command) => {
                let close = command == ConnectionCommand::Quit;
                (self.connection_command(ctx, command, out), close)
            }
            // Answered before it gets here (no reply, nothing counted).
            Command::Empty => return false,
        };
        record(ctx, kind, started);
        close
    }

    /// PING, ECHO, HELLO, AUTH, SELECT, QUIT, CLIENT, COMMAND, INFO and CONFIG.
    fn connection_command(
        &mut self,
        ctx: &ServerContext,
        command: ConnectionCommand<'_>,
        out: &mut Vec<u8>,
    ) -> CommandKind {
        let version = self.version;
        match command {
            ConnectionCommand::Info { sections } => {
                super::info::info(ctx, sections, out, version);
                return CommandKind::Stats;
            }
            ConnectionCommand::ConfigGet { patterns } => {
                super::config::config_get(ctx, patterns, out, version);
                return CommandKind::Stats;
            }
            ConnectionCommand::ConfigResetStat => {
                super::config::config_reset_stat(ctx, out);
                return CommandKind::Stats;
            }
            ConnectionCommand::Ping { message: None } => encode::simple_string(out, b"PONG"),
            ConnectionCommand::Ping {
                message: Some(message),
            }
            | ConnectionCommand::Echo { message } => encode::bulk(out, message),
            ConnectionCommand::Hello(hello) => {
                if let Some(requested) = hello.version {
                    self.version = requested;
                }
                if let Some(name) = hello.client_name {
                    self.set_name(name);
                }
                self.publish();
                super::info::hello(out, self.id, self.version);
            }
            // AUTH is answered by the access gate (auth.rs) before this; SELECT 0
            // (the one database) and QUIT answer OK.
            ConnectionCommand::Auth { .. }
            | ConnectionCommand::Select
            | ConnectionCommand::Quit => encode::ok(out),
            ConnectionCommand::ClientList => client_list(ctx, out, version),
            ConnectionCommand::ClientSetName { name } => {
                self.set_name(name);
                encode::ok(out);
            }
            ConnectionCommand::ClientGetName => match &self.name {
                Some(name) => encode::bulk(out, name),
                None => encode::null(out, version),
            },
            ConnectionCommand::ClientId => {
                encode::integer(out, i64::try_from(self.id).unwrap_or(i64::MAX))
            }
            ConnectionCommand::ClientInfo => self.client_info(out),
            // Library name and version are accepted and not kept.
            ConnectionCommand::ClientSetInfo { .. } => encode::ok(out),
            ConnectionCommand::CommandTable => command_table::encode_command_table(out, version),
            ConnectionCommand::CommandCount => command_table::encode_command_count(out),
            ConnectionCommand::CommandDocs { names } => {
                command_table::encode_command_docs(out, names, version)
            }
            ConnectionCommand::CommandInfo { names } => {
                command_table::encode_command_info(out, names, version)
            }
        }
        CommandKind::Other
    }

    fn set_name(&mut self, name: &[u8]) {
        self.name = (!name.is_empty()).then(|| name.to_vec());
        self.publish();
    }

    fn client_info(&self, out: &mut Vec<u8>) {
        let resp = match self.version {
            ProtocolVersion::Resp2 => 2,
            ProtocolVersion::Resp3 => 3,
        };
        let name = self.name.as_deref().unwrap_or_default();
        let mut line = format!("id={} name=", self.id).into_bytes();
        line.extend_from_slice(name);
        line.extend_from_slice(format!(" db=0 resp={resp} lib-name= lib-ver=\n").as_bytes());
        encode::verbatim_text(out, &line, self.version);
    }
}

/// `CLIENT LIST`: one line per RESP connection, with Redis's names for the
/// fields kept here (`id addr laddr fd name age idle flags db resp`).
fn client_list(ctx: &ServerContext, out: &mut Vec<u8>, version: ProtocolVersion) {
    let now = ctx.engine.now_unix_secs();
    let started = u32::try_from(ctx.shared.started_unix_secs()).unwrap_or(now);
    let mut text = Vec::new();
    for row in ctx.shared.conns.rows(now, started) {
        let (Some(client), Some(listen_addr)) = (&row.resp, &row.listen_addr) else {
            continue;
        };
        text.extend_from_slice(
            format!(
                "id={} addr={} laddr={} fd={} name=",
                client.id,
                redis_addr(&row.addr),
                redis_addr(listen_addr),
                row.fd
            )
            .as_bytes(),
        );
        text.extend_from_slice(&client.name);
        text.extend_from_slice(
            format!(
                " age={} idle={} flags=N db=0 resp={}\n",
                row.age_secs, row.secs_since_last_cmd, client.resp_version
            )
            .as_bytes(),
        );
    }
    encode::verbatim_text(out, &text, version);
}

/// An address as Redis shows it: `IP:PORT`, or `PATH:0` for a unix socket.
fn redis_addr(addr: &str) -> String {
    match addr.split_once(':') {
        Some(("unix", path)) => format!("{path}:0"),
        Some((_, rest)) => rest.to_owned(),
        None => addr.to_owned(),
    }
}

/// An MGET, DEL or EXISTS sent as a multibulk array, which is served in slices
/// (`multikey`); an inline one is short (one line) and runs whole.
fn many_keys<'a>(command: &Command<'a>) -> Option<(MultiKey, resp::Args<'a>)> {
    let (kind, keys) = match command {
        Command::Data(DataCommand::MGet { keys }) => (MultiKey::Get, keys),
        Command::Data(DataCommand::Del { keys }) => (MultiKey::Del, keys),
        Command::Data(DataCommand::Exists { keys }) => (MultiKey::Exists, keys),
        _ => return None,
    };
    (!keys.is_inline()).then_some((kind, *keys))
}
