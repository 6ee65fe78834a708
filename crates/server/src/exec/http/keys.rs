//! The HTTP/1.1 key-value API on --http-port: `GET|HEAD|PUT|DELETE
//! /keys/{key}` against the engine, with keep-alive and pipelining.

use std::time::Instant;

use tailcache_protocol::http::{
    self, response, HttpError, KeyMethod, KeyRequest, Limits, Parsed, Request, Route, Status,
};
use tailcache_storage::{CacheError, Expiry, ItemMeta, StoreMode, StoreOptions};

use crate::context::ServerContext;
use crate::exec::conn_loop::Step;
use crate::exec::{delete_counted, max_item_size_bytes, record, ttl};
use crate::observability::metrics::{CommandKind, Counter};

/// Per-connection state of the HTTP protocol.
#[derive(Debug)]
pub struct HttpConn {
    limits: Limits,
    /// Whether to send `100 Continue` is settled (and, if asked, sent) for the
    /// request now arriving: its head is not parsed again for it.
    continue_settled: bool,
}

impl HttpConn {
    /// A connection whose bodies may be as large as an item.
    pub fn new(ctx: &ServerContext) -> Self {
        let limits = Limits {
            max_body_bytes: max_item_size_bytes(ctx),
            ..Limits::default()
        };
        Self {
            limits,
            continue_settled: false,
        }
    }

    /// Answers the request at the front of `rest`, or `100 Continue` for a
    /// body the client waits to send.
    pub fn step(&mut self, ctx: &ServerContext, rest: &[u8], output: &mut Vec<u8>) -> Step {
        match http::parse(rest, &self.limits) {
            Ok(Parsed::Complete {
                request,
                consumed_bytes: consumed,
            }) => {
                self.continue_settled = false;
                let token = ctx.config.access.credentials.http_token.as_ref();
                if !crate::security::http_auth::authorized(&request, token) {
                    ctx.metrics.incr(Counter::HttpAuthErrors);
                    crate::security::http_auth::encode_unauthorized(output, request.is_head());
                    return Step::Close(consumed.max(1));
                }
                if self.answer(ctx, &request, output) {
                    Step::Next(consumed)
                } else {
                    // At least one byte, as the loop counts a completed request.
                    Step::Close(consumed.max(1))
                }
            }
            Ok(Parsed::Incomplete { .. }) => {
                if !self.continue_settled {
                    if let Some(expected) = http::expects_continue(rest, &self.limits) {
                        self.continue_settled = true;
                        if expected {
                            response::continue_100(output);
                        }
                    }
                }
                Step::NeedMore
            }
            Err(error) => {
                ctx.metrics.incr(Counter::ProtocolErrors);
                error.encode(output, false, false);
                Step::Close(0)
            }
        }
    }

    /// Answers one request; false when the connection must close after it.
    fn answer(&self, ctx: &ServerContext, request: &Request<'_>, out: &mut Vec<u8>) -> bool {
        let started = Instant::now();
        let keep_alive = request.keep_alive;
        let head_only = request.is_head();
        let kind = match http::route(request, &self.limits) {
            Ok(Route::Key(key)) => key_request(ctx, &key, out, keep_alive),
            Ok(Route::Health) => {
                response::simple(
                    out,
                    Status::Ok,
                    Some(b"text/plain"),
                    b"ok\n",
                    keep_alive,
                    head_only,
                );
                CommandKind::Other
            }
            Ok(Route::Metrics | Route::Stats) => {
                HttpError::ServedOnAdminAddress.encode(out, keep_alive, head_only);
                CommandKind::Other
            }
            Err(error) => {
                ctx.metrics.incr(Counter::ProtocolErrors);
                error.encode(out, keep_alive, head_only);
                if error.must_close() {
                    record(ctx, CommandKind::Other, started);
                    return false;
                }
                CommandKind::Other
            }
        };
        record(ctx, kind, started);
        keep_alive
    }
}

fn key_request(
    ctx: &ServerContext,
    key: &KeyRequest<'_>,
    out: &mut Vec<u8>,
    keep_alive: bool,
) -> CommandKind {
    match key.method {
        KeyMethod::Get | KeyMethod::Head => {
            get(ctx, key, out, keep_alive);
            CommandKind::Get
        }
        KeyMethod::Put => {
            put(ctx, key, out, keep_alive);
            CommandKind::Set
        }
        KeyMethod::Delete => {
            let status = if delete_counted(ctx, &key.key) {
                Status::NoContent
            } else {
                Status::NotFound
            };
            response::simple(out, status, None, b"", keep_alive, false);
            CommandKind::Delete
        }
    }
}

fn get(ctx: &ServerContext, key: &KeyRequest<'_>, out: &mut Vec<u8>, keep_alive: bool) {
    let head_only = key.method == KeyMethod::Head;
    ctx.metrics.incr(Counter::CmdGet);
    let now = ttl::now_unix_secs(ctx);
    if let Some(ttl_secs) = key.ttl_secs {
        ctx.metrics.incr(Counter::CmdTouch);
        let _ = ctx
            .engine
            .touch(&key.key, ttl::expiry_after_secs(ttl_secs, now));
    }
    let head = |out: &mut Vec<u8>, meta: &ItemMeta| {
        response::status_line(out, Status::Ok);
        response::header(out, b"Content-Type", b"application/octet-stream");
        response::integer_header(out, b"X-Flags", u64::from(meta.client_flags));
        if meta.expiry != Expiry::Never {
            let remaining = ttl::remaining_secs(meta.expiry, now);
            response::integer_header(out, b"X-TTL", remaining.max(0) as u64);
        }
        response::content_length(out, meta.value_len);
        if !keep_alive {
            response::header(out, b"Connection", b"close");
        }
        response::end_head(out);
    };
    // The head is written from the item's metadata, the body copied after it.
    let found = if head_only {
        ctx.engine
            .get_meta(&key.key)
            .map(|meta| meta.inspect(|meta| head(out, meta)))
    } else {
        ctx.engine.get_with_header(&key.key, out, head)
    };
    if matches!(found, Ok(Some(_))) {
        ctx.metrics.incr(Counter::GetHits);
    } else {
        ctx.metrics.incr(Counter::GetMisses);
        response::simple(
            out,
            Status::NotFound,
            Some(b"text/plain; charset=utf-8"),
            b"no such key\n",
            keep_alive,
            head_only,
        );
    }
}

fn put(ctx: &ServerContext, key: &KeyRequest<'_>, out: &mut Vec<u8>, keep_alive: bool) {
    ctx.metrics.incr(Counter::CmdSet);
    let options = StoreOptions {
        client_flags: key.flags.unwrap_or(0),
        expiry: key.ttl_secs.map_or(Expiry::Never, |secs| {
            ttl::expiry_after_secs(secs, ttl::now_unix_secs(ctx))
        }),
        ..StoreOptions::default()
    };
    let (status, body): (Status, &[u8]) =
        match ctx
            .engine
            .store(StoreMode::Set, &key.key, key.value, options)
        {
            Ok(_) => (Status::Created, b""),
            Err(CacheError::ValueTooLarge { .. }) => {
                ctx.metrics.incr(Counter::StoreTooLarge);
                (
                    Status::PayloadTooLarge,
                    b"value larger than the item size limit\n",
                )
            }
            Err(_) => {
                ctx.metrics.incr(Counter::StoreNoMemory);
                (
                    Status::ServiceUnavailable,
                    b"out of memory storing the value\n",
                )
            }
        };
    let content_type = (!body.is_empty()).then_some(&b"text/plain; charset=utf-8"[..]);
    response::simple(out, status, content_type, body, keep_alive, false);
}
