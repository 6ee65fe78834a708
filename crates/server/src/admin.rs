//! The admin endpoint: `/metrics`, `/stats`, `/health` over HTTP/1.1 (the
//! protocol crate's parser), on its own single-worker runtime so that it
//! never competes with the data workers.

use std::sync::Arc;

use tailcache_protocol::http::{self, response, Method, Parsed, Status};
use tailcache_runtime::{Processed, Service, ServiceFactory};

use crate::context::SharedState;

/// Largest admin request head; admin requests carry no body.
pub const MAX_ADMIN_REQUEST_BYTES: usize = 8 * 1024;

/// Makes the admin service (one worker).
pub struct AdminFactory {
    shared: Arc<SharedState>,
}

impl AdminFactory {
    /// An admin endpoint over the shared server state.
    pub fn new(shared: Arc<SharedState>) -> Self {
        Self { shared }
    }
}

impl ServiceFactory for AdminFactory {
    type Service = AdminService;

    fn new_worker(&self, _worker_index: usize) -> AdminService {
        let limits = http::Limits {
            max_request_line_bytes: MAX_ADMIN_REQUEST_BYTES,
            max_head_bytes: MAX_ADMIN_REQUEST_BYTES,
            max_body_bytes: 0,
            ..http::Limits::default()
        };
        AdminService {
            shared: self.shared.clone(),
            limits,
        }
    }
}

/// Answers admin requests.
pub struct AdminService {
    shared: Arc<SharedState>,
    limits: http::Limits,
}

impl Service for AdminService {
    type Conn = ();

    fn new_conn(&mut self, _listener_tag: usize) {}

    fn process(&mut self, _conn: &mut (), input: &[u8], output: &mut Vec<u8>) -> Processed {
        match http::parse(input, &self.limits) {
            Ok(Parsed::Incomplete { .. }) => Processed::default(),
            Err(error) => {
                // The parser cannot frame what follows: answer, then close.
                error.encode(output, false, false);
                Processed {
                    consumed: input.len(),
                    close_after_flush: true,
                }
            }
            Ok(Parsed::Complete { request, consumed }) => {
                let head_only = request.is_head();
                let keep_alive = request.keep_alive;
                if !matches!(request.method, Method::Get | Method::Head) {
                    let body = b"admin paths take GET or HEAD\n";
                    response::simple(
                        output,
                        Status::MethodNotAllowed,
                        TEXT,
                        body,
                        keep_alive,
                        false,
                    );
                } else {
                    let (status, kind, body) = self.page(request.path);
                    response::simple(output, status, kind, body.as_bytes(), keep_alive, head_only);
                }
                Processed {
                    consumed,
                    close_after_flush: !keep_alive,
                }
            }
        }
    }
}

const TEXT: Option<&[u8]> = Some(b"text/plain; charset=utf-8");

impl AdminService {
    fn page(&self, path: &[u8]) -> (Status, Option<&'static [u8]>, String) {
        match path {
            b"/metrics" => (
                Status::Ok,
                Some(b"text/plain; version=0.0.4".as_slice()),
                crate::prometheus::render(&self.shared),
            ),
            b"/stats" => (
                Status::Ok,
                Some(b"application/json".as_slice()),
                crate::stats_json::render(&self.shared),
            ),
            b"/health" => (Status::Ok, TEXT, "OK\n".to_owned()),
            _ => (
                Status::NotFound,
                TEXT,
                "not found: try /metrics, /stats, /health\n".to_owned(),
            ),
        }
    }
}
