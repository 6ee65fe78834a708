//! memcached's `lru_crawler` commands, answered as memcached 1.6.18 answers them.
//!
//! memcached's crawler is a thread that walks its LRUs to reclaim expired items
//! (`crawl`, tuned by `sleep` and `tocrawl`) or to list keys (`metadump`).
//! tailcache has no LRUs: background maintenance (`Engine::maintenance_step`, run by
//! the runtime between polls) reclaims whole segments once all their items have
//! expired, and reads never return an expired item. `crawl` walks the index once,
//! in bulk background steps, unlinking expired and flushed items at once
//! ([`crate::lru_crawl`]); `sleep`, `tocrawl`, `enable` and `disable` give memcached's
//! replies (with its argument checks, and the enabled state that `crawl`/`metadump`
//! check); `metadump` lists keys in bounded steps ([`MetadumpJob`]).
//!
//! As in memcached, a metadump pipelined behind other requests whose replies have
//! not gone out yet is refused (`ERROR cannot pipeline other commands before
//! metadump`). Differences from memcached, by design: several dumps may run at once (memcached
//! has one crawler and answers `BUSY currently processing crawler request`);
//! requests pipelined after a metadump are served after it (memcached hands the
//! connection to its crawler thread and drops them); every item is in class 1, as
//! `stats items` and `stats cachedump` say.

use std::sync::atomic::Ordering;
use std::time::Instant;

use tailcache_protocol::memcache::{classic_encode, CrawlTarget, LruCrawler};
use tailcache_storage::{DumpCursor, DumpedItem, Expiry};

use crate::context::ServerContext;
use crate::exec::record;
use crate::observability::metrics::CommandKind;

/// The one slab class tailcache reports (see `stats items`).
const ITEM_CLASS: u32 = 1;
/// memcached refuses an `lru_crawler sleep` above one second (in microseconds).
const MAX_SLEEP_MICROS: u32 = 1_000_000;

/// A key dump in progress: resumable, bounded output per step.
#[derive(Debug, Clone)]
pub struct MetadumpJob {
    /// Where the walk of the index stands.
    cursor: DumpCursor,
    /// What was asked for: all, hash, or class ids (only class 1 holds items).
    target: CrawlTarget,
    /// `END` has been written.
    finished: bool,
}

impl MetadumpJob {
    /// A dump of `target` from the start of the index.
    pub fn new(target: CrawlTarget) -> Self {
        Self {
            cursor: DumpCursor::default(),
            target,
            finished: false,
        }
    }

    /// Appends the lines of up to `max_buckets` index buckets (and "END\r\n" when finished) to `out`; true when finished.
    ///
    /// A bucket holds a handful of items (7), each line at most about 850 bytes
    /// (a 250-byte key url-encodes to 750), so a step appends at most about
    /// `max_buckets * 6 KiB`. Called again after it finished, it appends nothing.
    pub fn step(&mut self, ctx: &ServerContext, out: &mut Vec<u8>, max_buckets: usize) -> bool {
        if self.finished {
            return true;
        }
        let lists_items = match self.target {
            CrawlTarget::All | CrawlTarget::Hash => true,
            CrawlTarget::Classes(ids) => ids.contains(ITEM_CLASS),
            CrawlTarget::BadClass => false,
        };
        // A class list without class 1 walks nothing: memcached's other LRUs are empty.
        let done = !lists_items
            || ctx.engine.dump_step(&mut self.cursor, max_buckets, |item| {
                metadump_line(out, item)
            });
        if done {
            out.extend_from_slice(b"END\r\n");
            self.finished = true;
        }
        done
    }

    /// Runs steps for about `budget`, or until about `max_bytes` were appended to
    /// `out`; true when finished. This is one step of the scheduler's bulk group.
    pub fn run_for(
        &mut self,
        ctx: &ServerContext,
        out: &mut Vec<u8>,
        budget: std::time::Duration,
        max_bytes: usize,
    ) -> bool {
        let started = std::time::Instant::now();
        let start_len = out.len();
        loop {
            if self.step(ctx, out, BUCKETS_PER_STEP) {
                return true;
            }
            if out.len() - start_len >= max_bytes || started.elapsed() >= budget {
                return false;
            }
        }
    }
}

/// Index buckets listed between two looks at the clock: about 100 items.
const BUCKETS_PER_STEP: usize = 16;

/// What `lru_crawler ...` asks for.
#[derive(Debug)]
pub enum CrawlerOutcome {
    /// The whole reply is already appended to `out`.
    Replied,
    /// A metadump to run: its lines and `END` come from [`MetadumpJob::step`].
    StartDump(MetadumpJob),
}

/// Answers `lru_crawler <command>` as memcached 1.6.18 does (`process_lru_crawler_command`).
pub fn lru_crawler(ctx: &ServerContext, command: LruCrawler, out: &mut Vec<u8>) -> CrawlerOutcome {
    let started = Instant::now();
    let outcome = answer(ctx, command, out);
    record(ctx, CommandKind::Other, started);
    outcome
}

fn answer(ctx: &ServerContext, command: LruCrawler, out: &mut Vec<u8>) -> CrawlerOutcome {
    let enabled = ctx.shared.lru_crawler_enabled.load(Ordering::Relaxed);
    let reply: &[u8] = match command {
        LruCrawler::Crawl(_) | LruCrawler::Metadump(_) if !enabled => {
            b"CLIENT_ERROR lru crawler disabled\r\n"
        }
        LruCrawler::Metadump(_) if !ctx.config.dump_enabled => b"ERROR metadump not allowed\r\n",
        // As memcached: replies still waiting to go out (requests pipelined before
        // it) refuse the dump, so its lines never mix with them.
        LruCrawler::Metadump(_) if !out.is_empty() => {
            b"ERROR cannot pipeline other commands before metadump\r\n"
        }
        LruCrawler::Crawl(target) | LruCrawler::Metadump(target) => match target {
            CrawlTarget::BadClass => b"BADCLASS invalid class id\r\n",
            CrawlTarget::Classes(ids) if ids.is_empty() => b"NOTSTARTED no items to crawl\r\n",
            // memcached walks the hash table for metadump only.
            CrawlTarget::Hash if matches!(command, LruCrawler::Crawl(_)) => {
                b"ERROR an unknown error happened\r\n"
            }
            _ if matches!(command, LruCrawler::Metadump(_)) => {
                return CrawlerOutcome::StartDump(MetadumpJob::new(target));
            }
            // One walk of the whole index, whatever the classes (everything is class 1).
            _ if ctx.shared.lru_crawl.start() => b"OK\r\n",
            _ => b"BUSY currently processing crawler request\r\n",
        },
        // The crawler's pacing settings: nothing here crawls, so they are only checked.
        LruCrawler::Sleep(micros) if micros > MAX_SLEEP_MICROS => {
            b"CLIENT_ERROR sleep must be one second or less\r\n"
        }
        LruCrawler::Sleep(_) | LruCrawler::Tocrawl(_) => b"OK\r\n",
        // memcached refuses to start a crawler thread that is running.
        LruCrawler::Enable if ctx.shared.lru_crawler_enabled.swap(true, Ordering::Relaxed) => {
            b"ERROR failed to start lru crawler thread\r\n"
        }
        LruCrawler::Enable => b"OK\r\n",
        LruCrawler::Disable => {
            ctx.shared
                .lru_crawler_enabled
                .store(false, Ordering::Relaxed);
            b"OK\r\n"
        }
    };
    out.extend_from_slice(reply);
    CrawlerOutcome::Replied
}

/// `key=<url-encoded key> exp=<-1|unix time> la=<unix time> cas=<n> fetch=<yes|no>
/// cls=1 size=<n>\n`: memcached 1.6.18's `crawler_metadump_eval` (lines end in a bare
/// `\n`; later versions add `flags=`, 1.6.18 does not).
fn metadump_line(out: &mut Vec<u8>, item: &DumpedItem<'_>) {
    use std::io::Write as _;
    out.extend_from_slice(b"key=");
    classic_encode::encode_uri_key(out, item.key);
    let meta = &item.meta;
    let expiry = match meta.expiry {
        Expiry::Never => -1,
        Expiry::At(unix_secs) => i64::from(unix_secs),
    };
    let fetched = if meta.hit_before { "yes" } else { "no" };
    // Writing to a Vec cannot fail.
    let _ = writeln!(
        out,
        " exp={expiry} la={} cas={} fetch={fetched} cls={ITEM_CLASS} size={}",
        meta.last_access_unix_secs, meta.cas, item.size_bytes
    );
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;

    use tailcache_protocol::memcache::ClassIds;
    use tailcache_storage::{StoreMode, StoreOptions};

    use super::*;
    use crate::context::SharedState;
    use crate::startup::config::Config;
    use crate::startup::engine::build_engine;

    fn ctx_with_keys(keys: usize) -> ServerContext {
        let config = Config {
            threads: 1,
            memory_limit_mib: 16,
            segment_size_bytes: 1 << 20,
            ..Config::default()
        };
        let engine = Arc::new(build_engine(&config).expect("test engine"));
        for n in 0..keys {
            let key = format!("key:{n}");
            engine
                .store(
                    StoreMode::Set,
                    key.as_bytes(),
                    b"v",
                    StoreOptions::default(),
                )
                .expect("store");
        }
        let shared = Arc::new(SharedState::new(engine, Arc::new(config), 1));
        ServerContext::new(shared, 0)
    }

    #[test]
    fn a_step_lists_at_most_its_buckets_and_the_dump_lists_every_key_once() {
        const KEYS: usize = 3000;
        const ITEMS_PER_BUCKET: usize = 7;
        let ctx = ctx_with_keys(KEYS);
        let mut job = MetadumpJob::new(CrawlTarget::All);
        let mut seen = HashSet::new();
        let mut steps = 0;
        loop {
            let mut out = Vec::new();
            let finished = job.step(&ctx, &mut out, 2);
            steps += 1;
            let text = String::from_utf8(out).expect("keys here are ASCII");
            let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
            if finished {
                assert_eq!(lines.pop(), Some("END\r\n"));
            }
            assert!(lines.len() <= 2 * ITEMS_PER_BUCKET, "{} lines", lines.len());
            for line in lines {
                let key = line.strip_prefix("key=").and_then(|l| l.split(' ').next());
                let key = key.expect("a key= line").replace("%3A", ":");
                assert!(
                    line.contains(" cls=1 size=") && line.ends_with('\n'),
                    "{line}"
                );
                assert!(line.contains(" exp=-1 ") && line.contains(" fetch=no "));
                assert!(seen.insert(key), "listed twice: {line}");
            }
            if finished {
                break;
            }
        }
        assert_eq!(seen.len(), KEYS);
        assert!(steps > KEYS / (2 * ITEMS_PER_BUCKET), "{steps} steps");
        let mut after = Vec::new();
        assert!(job.step(&ctx, &mut after, 2));
        assert!(after.is_empty(), "END is written once");
    }

    #[test]
    fn a_class_list_without_class_one_is_empty() {
        let ctx = ctx_with_keys(10);
        let mut ids = ClassIds::default();
        assert!(ids.insert(2));
        let mut out = Vec::new();
        assert!(MetadumpJob::new(CrawlTarget::Classes(ids)).step(&ctx, &mut out, 1));
        assert_eq!(out, b"END\r\n");
    }

    #[test]
    fn bad_arguments_answer_as_memcached() {
        let ctx = ctx_with_keys(0);
        let reply = |command| {
            let mut out = Vec::new();
            assert!(matches!(
                lru_crawler(&ctx, command, &mut out),
                CrawlerOutcome::Replied
            ));
            String::from_utf8(out).expect("ASCII")
        };
        let empty = CrawlTarget::Classes(ClassIds::default());
        assert_eq!(
            reply(LruCrawler::Sleep(1_000_001)),
            "CLIENT_ERROR sleep must be one second or less\r\n"
        );
        assert_eq!(reply(LruCrawler::Sleep(1_000_000)), "OK\r\n");
        assert_eq!(reply(LruCrawler::Tocrawl(5)), "OK\r\n");
        assert_eq!(
            reply(LruCrawler::Metadump(CrawlTarget::BadClass)),
            "BADCLASS invalid class id\r\n"
        );
        assert_eq!(
            reply(LruCrawler::Metadump(empty)),
            "NOTSTARTED no items to crawl\r\n"
        );
        assert_eq!(
            reply(LruCrawler::Crawl(CrawlTarget::Hash)),
            "ERROR an unknown error happened\r\n"
        );
        assert_eq!(reply(LruCrawler::Crawl(CrawlTarget::All)), "OK\r\n");
    }
}
