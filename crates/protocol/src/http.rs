//! HTTP/1.1: the key-value API (`GET|HEAD|PUT|DELETE /keys/{key}`) and the admin paths.
//!
//! [`parse`] frames one request at the front of a read buffer (request line, bounded
//! headers, a `Content-Length` body) and returns a [`Request`] that borrows the buffer;
//! a prefix is [`Parsed::Incomplete`]. Pipelined requests are parsed one after the
//! other; keep-alive follows HTTP/1.1 (`Connection: close`, and HTTP/1.0's default).
//! Chunked bodies are refused with `501 Not Implemented` (the connection then closes,
//! since the body cannot be skipped without decoding it).
//!
//! [`route`] maps a request to what the server does ([`Route`]): a key operation with
//! its TTL and flags, or an admin path; its errors are responses that keep the
//! connection open. [`response`] writes responses straight into a `Vec<u8>`;
//! [`client`] writes requests (for the load generator and tests).
//!
//! ```
//! use tailcache_protocol::http::{parse, route, Limits, Parsed, Route, KeyMethod};
//! let limits = Limits::default();
//! let input = b"PUT /keys/a%20b?ttl=60 HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi";
//! let Ok(Parsed::Complete { request, consumed_bytes: consumed }) = parse(input, &limits) else { panic!() };
//! assert_eq!(consumed, input.len());
//! let Ok(Route::Key(key)) = route(&request, &limits) else { panic!() };
//! assert_eq!(key.method, KeyMethod::Put);
//! assert_eq!(&*key.key, b"a b");
//! assert_eq!(key.ttl_secs, Some(60));
//! assert_eq!(key.value, b"hi");
//! ```

pub mod client;
mod error;
mod headers;
mod limits;
mod percent;
mod request;
pub mod response;
mod route;
mod status;

pub use error::{HttpError, NumberParam};
pub use headers::Headers;
pub use limits::Limits;
pub use request::{expects_continue, parse, Method, Parsed, Request, Version};
pub use route::{route, KeyMethod, KeyRequest, Route};
pub use status::Status;
