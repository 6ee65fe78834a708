//! RESP2/RESP3: Redis's wire protocol, the string-and-key subset a cache needs.
//!
//! Requests arrive as multibulk arrays (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) or as inline
//! lines (`GET k\r\n`). [`parse`] turns the front of a read buffer into a typed
//! [`Command`] that borrows the buffer; it allocates nothing. A prefix of a request is
//! [`Parsed::Incomplete`], never an error. Errors carry Redis's exact reply bytes
//! ([`ParseError::encode`]) and say what comes next ([`ParseError::action`]): Redis
//! closes on protocol errors, and skips a refused command.
//!
//! Responses are written straight into a caller's `Vec<u8>` by the functions in
//! [`encode`], in RESP2 or RESP3 form ([`ProtocolVersion`]); [`command_table`] and
//! [`encode_hello_reply`] build the replies clients inspect at connect time.
//!
//! Commands: GET SET MGET MSET DEL EXISTS INCR DECR INCRBY DECRBY APPEND STRLEN GETDEL
//! GETEX EXPIRE PEXPIRE TTL PTTL PERSIST TYPE DBSIZE FLUSHALL FLUSHDB PING ECHO INFO
//! HELLO AUTH SELECT CLIENT (SETNAME GETNAME ID INFO SETINFO) COMMAND (COUNT DOCS INFO)
//! QUIT. Anything else is `unknown command`, as Redis says it.
//!
//! Where tailcache answers differently from redis-server 7.0, on purpose:
//! - `SELECT n` for n ≠ 0 is `-ERR DB index is out of range` (one database).
//! - Keys longer than [`Limits::max_key_len_bytes`] get `-ERR key too long (max N bytes)`.
//! - Bulk data not followed by `\r\n` is a protocol error (Redis skips two bytes blindly).
//! - Inline requests with backslash escapes in quotes, or quotes inside a word, are a
//!   protocol error (Redis unescapes them; doing so would need a copy).
//! - `CLIENT SETINFO` is accepted as in Redis 7.2 (redis-py sends it).
//! - Argument count, bulk length and inline length limits are [`Limits`], with Redis's
//!   errors for each (`invalid multibulk length`, `invalid bulk length`,
//!   `too big inline request`).
//!
//! A session drains its read buffer like this (pipelined requests, one reply each):
//!
//! ```
//! use tailcache_protocol::resp::{
//!     encode, parse, Command, ConnectionCommand, DataCommand, Limits, Parsed,
//! };
//! use tailcache_protocol::ErrorAction;
//!
//! let limits = Limits::default();
//! let mut input: &[u8] = b"PING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\nNOPE\r\n*1\r\n$4\r\nQU";
//! let mut output = Vec::new();
//! loop {
//!     match parse(input, &limits) {
//!         Ok(Parsed::Complete { request: command, consumed_bytes: consumed }) => {
//!             match command {
//!                 Command::Connection(ConnectionCommand::Ping { message: None }) => {
//!                     encode::simple_string(&mut output, b"PONG")
//!                 }
//!                 Command::Data(DataCommand::Get { key }) => {
//!                     assert_eq!(key, b"k");
//!                     encode::null(&mut output, Default::default());
//!                 }
//!                 Command::Empty => {} // ignored without a reply, as Redis does
//!                 other => unreachable!("{other:?}"),
//!             }
//!             input = &input[consumed..];
//!         }
//!         Ok(Parsed::Incomplete { .. }) => break, // keep `input`, read more, parse again
//!         Err(error) => {
//!             error.encode(&mut output);
//!             match error.action() {
//!                 ErrorAction::Close => break, // flush `output`, then close
//!                 ErrorAction::Skip { bytes } => input = &input[bytes..],
//!             }
//!         }
//!     }
//! }
//! assert_eq!(input, b"*1\r\n$4\r\nQU");
//! assert_eq!(
//!     output,
//!     b"+PONG\r\n$-1\r\n-ERR unknown command 'NOPE', with args beginning with: \r\n"
//! );
//! ```

mod args;
mod command;
pub mod command_table;
mod config;
mod connection_commands;
pub mod encode;
mod error;
mod expire;
mod frame;
mod hello;
mod limits;
mod parse;
mod resume;
mod server_error;
mod set;
mod spec;

pub use args::{Args, Pairs};
pub use command::{
    ClientInfoAttribute, Command, ConnectionCommand, DataCommand, ExpireCondition, ExpireTime,
    Expiry, FlushMode, GetExOption, Hello, ProtocolVersion, Set, SetCondition, TimeUnit,
};
pub use config::glob_matches;
pub use error::{CommandError, ParseError, ProtocolError};
pub use frame::{parse_frame, Frame, FrameParsed};
pub use hello::{encode_hello_reply, HelloReply};
pub use limits::Limits;
pub use parse::{parse, parse_command, Parsed};
pub use resume::FrameProgress;
pub use server_error::ServerError;
