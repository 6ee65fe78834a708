//! Wire formats tailcache speaks: memcache text, meta and binary, RESP2/3 and HTTP/1.1.
//!
//! Bytes in, requests out; responses in, bytes out. No I/O and no storage: the server
//! wires these parsers and encoders to sockets and the engine. Every parser answers
//! with the one [`Parsed`] shape: a whole request and the bytes it took, or a prefix
//! and how many bytes to wait for; a refused request's error says what comes next
//! with one [`ErrorAction`]: skip its bytes, or close.

pub mod http;
pub mod memcache;
pub mod number;
mod parsed;
pub mod resp;

pub use parsed::{ErrorAction, Parsed};
