//! The admin endpoint: the status page `/`, `/metrics`, `/stats`, `/health`
//! and `/lru_crawler/metadump` over HTTP/1.1 (the protocol crate's parser), on its
//! own single-worker runtime so that it never competes with the data workers.

use std::sync::Arc;
use std::time::Duration;

use tailcache_protocol::http::{self, response, Method, Parsed, Status, Version};
use tailcache_protocol::memcache::CrawlTarget;
use tailcache_runtime::{JobProgress, Processed, Service, ServiceFactory, TaskGroup};

use crate::context::{ServerContext, SharedState};
use crate::exec::memcache::crawler::MetadumpJob;

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
            // A dump only reads the engine; worker 0's metrics are never touched.
            ctx: ServerContext::new(self.shared.clone(), 0),
            shared: self.shared.clone(),
            limits,
        }
    }
}

/// Answers admin requests.
pub struct AdminService {
    ctx: ServerContext,
    shared: Arc<SharedState>,
    limits: http::Limits,
}

/// An admin connection: the key dump it is streaming, if any.
#[derive(Debug, Default)]
pub struct AdminConn {
    dump: Option<AdminDump>,
}

/// `GET /lru_crawler/metadump` in progress: run by the runtime as bulk steps
/// (the admin runtime's scheduler), each appending one bounded piece while the
/// client keeps up; the connection closes after the last.
#[derive(Debug)]
struct AdminDump {
    job: MetadumpJob,
    /// HTTP/1.1: pieces go out as chunks; HTTP/1.0: the close ends the body.
    chunked: bool,
    /// The piece being built, reused.
    piece: Vec<u8>,
}

/// Dump output appended per `process` call, about (one step may go a little over):
/// well under the high-water mark, so the client's reading paces the dump.
const DUMP_PIECE_BYTES: usize = 64 * 1024;
impl AdminDump {
    /// Appends the next piece of the body, for about `budget`; true once the
    /// body is complete.
    fn go_on(&mut self, ctx: &ServerContext, output: &mut Vec<u8>, budget: Duration) -> bool {
        self.piece.clear();
        let finished = self
            .job
            .run_for(ctx, &mut self.piece, budget, DUMP_PIECE_BYTES);
        if !self.chunked {
            output.extend_from_slice(&self.piece);
            return finished;
        }
        if !self.piece.is_empty() {
            output.extend_from_slice(format!("{:x}\r\n", self.piece.len()).as_bytes());
            output.extend_from_slice(&self.piece);
            output.extend_from_slice(b"\r\n");
        }
        if finished {
            output.extend_from_slice(b"0\r\n\r\n");
        }
        finished
    }
}

impl Service for AdminService {
    type Conn = AdminConn;

    fn new_conn(&mut self, _listener_tag: usize) -> AdminConn {
        AdminConn::default()
    }

    fn job_group(&self, conn: &AdminConn) -> Option<TaskGroup> {
        conn.dump.as_ref().map(|_| TaskGroup::Bulk)
    }

    fn job_step(
        &mut self,
        conn: &mut AdminConn,
        output: &mut Vec<u8>,
        budget: Duration,
    ) -> JobProgress {
        let Some(dump) = conn.dump.as_mut() else {
            return JobProgress::DoneAndClose;
        };
        if dump.go_on(&self.ctx, output, budget) {
            conn.dump = None;
            return JobProgress::DoneAndClose;
        }
        JobProgress::More
    }

    fn process(&mut self, conn: &mut AdminConn, input: &[u8], output: &mut Vec<u8>) -> Processed {
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
            Ok(Parsed::Complete {
                request,
                consumed_bytes: consumed,
            }) => {
                let keep_alive = request.keep_alive;
                if crate::observability::status_page::is_page(request.path)
                    && matches!(request.method, Method::Get | Method::Head)
                {
                    // The page holds no figures; the `/stats` it polls checks the token.
                    crate::observability::status_page::encode(
                        output,
                        keep_alive,
                        request.is_head(),
                    );
                    return Processed {
                        consumed,
                        close_after_flush: !keep_alive,
                    };
                }
                let token = self.shared.config.access.credentials.admin_token.as_ref();
                if !crate::security::http_auth::authorized(&request, token) {
                    self.shared
                        .admin_auth_failures
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    crate::security::http_auth::encode_unauthorized(output, request.is_head());
                    return Processed {
                        consumed,
                        close_after_flush: true,
                    };
                }
                let head_only = request.is_head();
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
                } else if request.path == b"/lru_crawler/metadump" {
                    return self.start_dump(conn, &request, consumed, output);
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
    /// `GET /lru_crawler/metadump[?hash|?all]`: memcached's `lru_crawler metadump`
    /// lines (`key=... exp=... la=... cas=... fetch=... cls=1 size=...`, then `END`),
    /// refused under -X as memcached refuses it. The response closes the connection.
    fn start_dump(
        &mut self,
        conn: &mut AdminConn,
        request: &http::Request<'_>,
        consumed: usize,
        output: &mut Vec<u8>,
    ) -> Processed {
        let keep_alive = request.keep_alive;
        let done = Processed {
            consumed,
            close_after_flush: !keep_alive,
        };
        if !self.ctx.config.dump_enabled {
            let body = b"key dumps are disabled (-X)\n";
            response::simple(output, Status::NotFound, TEXT, body, keep_alive, false);
            return done;
        }
        let target = match request.query {
            None | Some(b"" | b"all") => CrawlTarget::All,
            Some(b"hash") => CrawlTarget::Hash,
            Some(_) => {
                let body = b"metadump takes ?all or ?hash\n";
                response::simple(output, Status::BadRequest, TEXT, body, keep_alive, false);
                return done;
            }
        };
        let chunked = request.version == Version::Http11;
        response::status_line(output, Status::Ok);
        response::header(output, b"Content-Type", b"text/plain; charset=utf-8");
        if chunked {
            response::header(output, b"Transfer-Encoding", b"chunked");
        }
        // The length is not known before the end; the close ends an HTTP/1.0 body.
        response::header(output, b"Connection", b"close");
        response::end_head(output);
        if request.is_head() {
            return Processed {
                consumed,
                close_after_flush: true,
            };
        }
        conn.dump = Some(AdminDump {
            job: MetadumpJob::new(target),
            chunked,
            piece: Vec::with_capacity(DUMP_PIECE_BYTES + 8 * 1024),
        });
        // The runtime runs the dump as bulk steps, then closes (`DoneAndClose`).
        Processed {
            consumed,
            close_after_flush: false,
        }
    }

    fn page(&self, path: &[u8]) -> (Status, Option<&'static [u8]>, String) {
        match path {
            b"/metrics" => (
                Status::Ok,
                Some(b"text/plain; version=0.0.4".as_slice()),
                crate::observability::prometheus::render(&self.shared),
            ),
            b"/stats" => (
                Status::Ok,
                Some(b"application/json".as_slice()),
                crate::observability::stats_json::render(&self.shared),
            ),
            b"/health" => {
                let (status, body) = health(&self.shared);
                (status, TEXT, body)
            }
            _ => (
                Status::NotFound,
                TEXT,
                "not found: try /, /metrics, /stats, /health, /lru_crawler/metadump\n".to_owned(),
            ),
        }
    }
}

/// A data worker that has not reached a scheduling point for this long is
/// not serving its connections: far above the stall threshold (25 ms), so
/// that one slow step does not flap the health check.
const HEALTH_STALL_LIMIT: Duration = Duration::from_secs(1);

/// `/health`: OK while every data worker keeps reaching its scheduling
/// points; 503 naming the worker otherwise. A worker thread that dies ends
/// the process (see `exit_process_on_worker_failure`), so a live process
/// has all its workers.
fn health(shared: &SharedState) -> (Status, String) {
    health_of(shared.runtime_figures().map(|figures| &*figures.watchdog))
}

/// `/health` from the data workers' stall detector (none before they start).
fn health_of(watchdog: Option<&tailcache_runtime::WatchdogStats>) -> (Status, String) {
    let stalled = watchdog.and_then(|stats| stats.longest_ongoing_stall());
    match stalled {
        Some((worker, stalled_for)) if stalled_for >= HEALTH_STALL_LIMIT => (
            Status::ServiceUnavailable,
            format!(
                "STALLED worker {worker} for {} ms\n",
                stalled_for.as_millis()
            ),
        ),
        _ => (Status::Ok, "OK\n".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::startup::config::Config;
    use crate::startup::engine::build_engine;

    fn service(keys: usize, dump_enabled: bool) -> AdminService {
        let config = Config {
            threads: 1,
            memory_limit_mib: 16,
            segment_size_bytes: 1 << 20,
            dump_enabled,
            ..Config::default()
        };
        let engine = Arc::new(build_engine(&config).expect("test engine"));
        for n in 0..keys {
            let options = tailcache_storage::StoreOptions::default();
            let key = format!("admin:{n}");
            engine
                .store(
                    tailcache_storage::StoreMode::Set,
                    key.as_bytes(),
                    b"v",
                    options,
                )
                .expect("store");
        }
        let shared = Arc::new(SharedState::new(engine, Arc::new(config), 1));
        AdminFactory::new(shared).new_worker(0)
    }

    /// Serves `request` as the runtime does: `process`, then the job's bulk
    /// steps while there is one; returns each call's output.
    fn serve(svc: &mut AdminService, request: &[u8]) -> Vec<Vec<u8>> {
        let mut conn = svc.new_conn(0);
        let mut output = Vec::new();
        let processed = svc.process(&mut conn, request, &mut output);
        assert_eq!(processed.consumed, request.len());
        let mut pieces = vec![output];
        if processed.close_after_flush {
            return pieces;
        }
        for _ in 0..10_000 {
            assert_eq!(svc.job_group(&conn), Some(TaskGroup::Bulk));
            let mut output = Vec::new();
            let progress = svc.job_step(&mut conn, &mut output, Duration::from_secs(1));
            pieces.push(output);
            if progress == JobProgress::DoneAndClose {
                assert_eq!(svc.job_group(&conn), None);
                return pieces;
            }
            assert_eq!(progress, JobProgress::More);
        }
        panic!("the dump never finished");
    }

    #[test]
    fn metadump_streams_bounded_chunks_until_end() {
        const KEYS: usize = 3000;
        let mut svc = service(KEYS, true);
        let pieces = serve(
            &mut svc,
            b"GET /lru_crawler/metadump HTTP/1.1\r\nHost: t\r\n\r\n",
        );
        assert!(pieces.len() > 2, "{} pieces", pieces.len());
        for piece in &pieces {
            assert!(
                piece.len() < DUMP_PIECE_BYTES + 8 * 1024,
                "{} bytes",
                piece.len()
            );
        }
        let all: Vec<u8> = pieces.concat();
        let text = String::from_utf8(all).expect("ASCII");
        let (head, mut chunked) = text.split_once("\r\n\r\n").expect("a head");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.contains("Transfer-Encoding: chunked"), "{head}");
        let mut body = String::new();
        loop {
            let (size, rest) = chunked.split_once("\r\n").expect("a chunk size");
            let size = usize::from_str_radix(size, 16).expect("hex size");
            if size == 0 {
                assert_eq!(rest, "\r\n");
                break;
            }
            body.push_str(&rest[..size]);
            chunked = rest[size..].strip_prefix("\r\n").expect("chunk end");
        }
        let lines: Vec<&str> = body.split_inclusive('\n').collect();
        assert_eq!(lines.last(), Some(&"END\r\n"));
        assert_eq!(lines.len(), KEYS + 1);
        assert!(lines[0].starts_with("key=admin%3A"), "{}", lines[0]);
    }

    #[test]
    fn metadump_is_refused_under_minus_x_and_checks_its_query() {
        let mut svc = service(3, false);
        let pieces = serve(&mut svc, b"GET /lru_crawler/metadump HTTP/1.0\r\n\r\n");
        let text = String::from_utf8(pieces.concat()).expect("ASCII");
        assert!(text.starts_with("HTTP/1.1 404"), "{text}");
        let mut svc = service(3, true);
        let pieces = serve(&mut svc, b"GET /lru_crawler/metadump?x HTTP/1.0\r\n\r\n");
        let text = String::from_utf8(pieces.concat()).expect("ASCII");
        assert!(text.contains(" 400 "), "{text}");
        let pieces = serve(&mut svc, b"GET /lru_crawler/metadump?hash HTTP/1.0\r\n\r\n");
        let text = String::from_utf8(pieces.concat()).expect("ASCII");
        assert!(
            !text.contains("chunked") && text.ends_with("\nEND\r\n"),
            "{text}"
        );
        assert_eq!(text.matches("key=admin%3A").count(), 3);
    }

    #[test]
    fn status_page_is_served_without_the_token_and_its_figures_need_it() {
        let mut svc = service(0, false);
        let mut config = (*svc.shared.config).clone();
        config.access.credentials.admin_token =
            Some(crate::security::access::Secret::new("s3cret"));
        let shared = Arc::new(SharedState::new(
            svc.shared.engine.clone(),
            Arc::new(config),
            1,
        ));
        svc = AdminFactory::new(shared).new_worker(0);
        let get = |svc: &mut AdminService, request: &[u8]| {
            String::from_utf8(serve(svc, request).concat()).expect("UTF-8")
        };
        let page = get(&mut svc, b"GET / HTTP/1.0\r\n\r\n");
        assert!(page.starts_with("HTTP/1.1 200"), "{page}");
        assert!(page.contains("Content-Security-Policy: default-src 'none'"));
        assert!(page.ends_with("</html>\n"), "the whole page");
        let stats = get(&mut svc, b"GET /stats HTTP/1.0\r\n\r\n");
        assert!(stats.starts_with("HTTP/1.1 401"), "{stats}");
        let stats = get(
            &mut svc,
            b"GET /stats HTTP/1.0\r\nAuthorization: Bearer s3cret\r\n\r\n",
        );
        assert!(stats.starts_with("HTTP/1.1 200"), "{stats}");
        assert!(stats.contains("\"service_time_buckets\""), "{stats}");
        let post = get(&mut svc, b"POST / HTTP/1.1\r\nHost: t\r\n\r\n");
        assert!(
            post.starts_with("HTTP/1.1 401"),
            "only GET and HEAD skip the check"
        );
    }

    #[test]
    fn health_is_unavailable_while_a_worker_is_stalled() {
        use tailcache_runtime::{Heartbeat, Watchdog, WatchdogConfig, WatchdogStats};
        let svc = service(0, false);
        assert_eq!(
            health(&svc.shared).0,
            Status::Ok,
            "before the workers start"
        );
        let heart = Arc::new(Heartbeat::new(0));
        let stats = Arc::new(WatchdogStats::new());
        let config = WatchdogConfig {
            capture_backtraces: false,
            ..WatchdogConfig::with_threshold(Duration::from_millis(20))
        };
        let watchdog = Watchdog::start(config, vec![heart.clone()], stats.clone()).unwrap();
        assert_eq!(health_of(Some(&stats)).0, Status::Ok, "no stall yet");
        // A worker in a task that reaches no scheduling point.
        heart.enter("test-stuck");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let mut seen = health_of(Some(&stats));
        while seen.0 == Status::Ok && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            seen = health_of(Some(&stats));
        }
        assert_eq!(seen.0, Status::ServiceUnavailable, "{}", seen.1);
        assert!(seen.1.contains("worker 0"), "{}", seen.1);
        heart.idle();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while health_of(Some(&stats)).0 != Status::Ok && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(health_of(Some(&stats)).0, Status::Ok, "the stall ended");
        watchdog.stop();
    }
}
