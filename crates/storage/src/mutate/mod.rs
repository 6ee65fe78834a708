//! The write path: every write is one decision over the key's current item, applied
//! under one hold of the key's two index buckets.
//!
//! A write first runs optimistically. It notes the buckets' versions, finds the key's
//! current item and lets the operation decide (`Mutation::decide`) as if nothing else
//! were happening, then checks the versions; a failed condition is answered only from
//! a read that checked out, and never after freeing memory, so a failing add, cas or
//! replace never evicts anything. A new version is written into room reserved in its
//! TTL bucket's active segment (copying a large value takes no lock), and only then
//! are the buckets taken, and only if their versions have not moved since the read
//! (`Index::try_lock_at`): the hold covers relinking one slot and nothing else. If the
//! versions moved, another writer got there first and the write starts over; the room
//! it wrote stays in its segment as a dead item, reclaimed with the segment.
//!
//! After `OPTIMISTIC_ATTEMPTS` lost races (a key written by many clients at once) the
//! write takes the buckets first and decides and writes under the hold, so it cannot
//! lose again. Taking a free segment never waits for eviction under a hold: when the
//! pool is empty the write lets go, frees memory itself (`free_inline`), and starts over.

use crate::cache::{check_key, Cache, Found, Liveness, Now};
use crate::error::CacheError;
use crate::expiry;
use crate::index::{Index, Pair, PairGuard};
use crate::item::{self, Fields, MAX_HEADER_BYTES};
use crate::meta::ItemMeta;
use crate::slot;
use crate::stats::Counter;
use crate::sync::{fence, Ordering};
use crate::ttl::{NoSpace, Room};

/// Races lost before a write takes the buckets up front.
const OPTIMISTIC_ATTEMPTS: usize = 8;
/// Attempts in all; past the optimistic ones only an empty pool makes a write start
/// over, each time after freeing memory itself.
const MAX_ATTEMPTS: usize = OPTIMISTIC_ATTEMPTS + 32;

/// What an operation decided to do with the key's current item.
pub(crate) enum Plan<'a> {
    /// Write nothing; optionally count the item as read.
    Keep { bump: bool },
    /// Rewrite the current item's header bits and/or expiry where it is.
    InPlace {
        set_bits: u8,
        clear_bits: u8,
        expiry_unix_secs: Option<u32>,
        bump: bool,
    },
    /// Unlink the current item.
    Remove,
    /// Append a new version and point the key at it.
    Write(NewItem<'a>),
}

/// A new version of the key's item.
pub(crate) struct NewItem<'a> {
    pub meta_bits: u8,
    pub client_flags: u32,
    pub expiry_unix_secs: u32,
    pub cas: NewCas,
    /// The value, in up to two parts.
    pub value: [Part<'a>; 2],
    pub freq: Freq,
}

/// Where a new version's CAS comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NewCas {
    /// A new one, larger than every CAS handed out before.
    Fresh,
    /// The current item's, because the item only moved (touch).
    Keep(u64),
    /// The client's (meta `E`).
    Given(u64),
}

/// A piece of a new value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Part<'a> {
    None,
    Bytes(&'a [u8]),
    /// The current item's whole value.
    Current,
}

/// The new version's read counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freq {
    /// Not read yet (a new value).
    Zero,
    /// Read once (created by a read).
    One,
    /// As the current item's, plus one when `bump` (a move).
    Keep { bump: bool },
}

/// One write, as the driver runs it.
pub(crate) trait Mutation {
    /// What the caller gets back.
    type Output;
    /// Decides from the key's live item (`None`: absent, expired or flushed). Runs
    /// again on every attempt, and its answer counts only if the read checks out, so
    /// it must not act: only decide (it may copy the current value for the caller).
    fn decide(
        &mut self,
        cache: &Cache,
        current: Option<&Found>,
        now: &Now<'_>,
    ) -> Result<Plan<'_>, CacheError>;
    /// Builds the result once the plan is applied.
    fn finish(self, applied: Applied) -> Self::Output;
}

/// What a write did to the key.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Applied {
    /// The live item before.
    pub before: Option<ItemMeta>,
    /// The item after (`None`: absent or removed).
    pub after: Option<ItemMeta>,
}

mod link;
mod write;

use self::write::Written;

/// How a write looks at the key's buckets this attempt.
enum Hold<'a> {
    /// Read without a lock under these versions.
    Versions(Observed),
    /// Held.
    Held(PairGuard<'a>),
}

/// What an optimistic read must find unchanged before it writes: the bucket the key
/// was found in (a replacement touches that bucket alone, and a held bucket keeps
/// its keys from moving), or both buckets when the key is absent (an insert may go
/// to either, or move an item between them).
#[derive(Debug, Clone, Copy)]
struct Observed {
    lock: Pair,
    versions: (u64, u64),
}

/// Why an attempt did not finish.
enum Retry {
    /// Another writer changed the buckets first.
    Raced,
    /// No free segment: free memory, then try again.
    NoSpace,
}

impl Cache {
    /// Runs `op` on `key` (see the module docs).
    pub(crate) fn mutate<M: Mutation>(
        &self,
        key: &[u8],
        mut op: M,
    ) -> Result<M::Output, CacheError> {
        check_key(key)?;
        self.apply_due_flush();
        let hash = self.hash(key);
        let pair = self.index.pair(hash);
        let tag = Index::tag(hash);
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                self.counters.incr(Counter::WriteRetries);
            }
            let held = (attempt >= OPTIMISTIC_ATTEMPTS).then(|| self.index.lock(pair));
            match self.attempt(key, pair, tag, held, &mut op) {
                Ok(applied) => return Ok(op.finish(applied)),
                Err(Ok(Retry::Raced)) => continue,
                Err(Ok(Retry::NoSpace)) => self.free_inline()?,
                Err(Err(error)) => return Err(error),
            }
        }
        Err(CacheError::OutOfMemory)
    }

    /// The versions of both buckets of `pair`, for an optimistic read.
    pub(crate) fn begin_pair(&self, pair: Pair) -> (u64, u64) {
        let first = self.index.read_begin(pair.first);
        let second = if pair.second == pair.first {
            first
        } else {
            self.index.read_begin(pair.second)
        };
        (first, second)
    }

    /// Whether neither bucket of `pair` moved from `versions`.
    pub(crate) fn pair_valid(&self, pair: Pair, versions: (u64, u64)) -> bool {
        self.index.read_valid(pair.first, versions.0)
            && (pair.second == pair.first || self.index.read_valid(pair.second, versions.1))
    }

    /// One attempt: `Err(Ok(_))` to try again, `Err(Err(_))` for the operation's answer.
    fn attempt<M: Mutation>(
        &self,
        key: &[u8],
        pair: Pair,
        tag: u16,
        held: Option<PairGuard<'_>>,
        op: &mut M,
    ) -> Result<Applied, Result<Retry, CacheError>> {
        let now = self.now();
        let (current, hold) = match held {
            Some(guard) => {
                let current = self
                    .find_in_pair(pair, tag, key, &now)
                    .expect("an item under a held bucket is well formed");
                (current, Hold::Held(guard))
            }
            None => {
                let (current, observed) =
                    self.observe(pair, tag, key, &now).ok_or(Ok(Retry::Raced))?;
                (current, Hold::Versions(observed))
            }
        };
        let live = current.filter(Found::is_live);
        let plan = op.decide(self, live.as_ref(), &now);
        if let Hold::Versions(observed) = hold {
            if !self.pair_valid(observed.lock, observed.versions) {
                return Err(Ok(Retry::Raced));
            }
        }
        let plan = plan.map_err(Err)?;
        let before = live.map(|found| found.meta());
        let take = |hold| self.take(hold);
        match plan {
            Plan::Keep { bump } => {
                drop(hold);
                if let (true, Some(found)) = (bump, live) {
                    self.bump(&found);
                }
                Ok(Applied {
                    before,
                    after: before,
                })
            }
            Plan::InPlace {
                set_bits,
                clear_bits,
                expiry_unix_secs,
                bump,
            } => {
                let found = live.expect("an in-place change needs an item");
                let guard = take(hold).ok_or(Ok(Retry::Raced))?;
                let after = self.rewrite_in_place(&found, set_bits, clear_bits, expiry_unix_secs);
                if bump {
                    let freq = slot::freq(found.slot);
                    if freq == 1 {
                        let access = self.access_secs(found.segment, now.get());
                        let field = self.addr(found.segment, found.offset)
                            + found.header.access_field_offset();
                        self.heap.write(field, &access.to_le_bytes());
                    }
                    guard.set(
                        found.at,
                        slot::with_freq(found.slot, freq.saturating_add(1).min(slot::MAX_FREQ)),
                    );
                }
                drop(guard);
                Ok(Applied {
                    before,
                    after: Some(after),
                })
            }
            Plan::Remove => {
                let found = live.expect("a removal needs an item");
                let mut guard = take(hold).ok_or(Ok(Retry::Raced))?;
                self.unlink(&mut guard, &found);
                drop(guard);
                Ok(Applied {
                    before,
                    after: None,
                })
            }
            Plan::Write(new) => {
                let written = self.write_new(key, &new, current.as_ref(), live.as_ref(), &now);
                let written = match written {
                    Ok(Some(written)) => written,
                    Ok(None) => return Err(Ok(Retry::Raced)),
                    Err(NoSpace) => return Err(Ok(Retry::NoSpace)),
                };
                let segment = self.segment(written.room.segment);
                let Some(mut guard) = take(hold) else {
                    segment.remove_live(written.len);
                    segment.finish_write();
                    return Err(Ok(Retry::Raced));
                };
                let after = self.link(&mut guard, tag, &written, new.freq, current.as_ref(), &now);
                drop(guard);
                self.counters.incr(Counter::Sets);
                segment.finish_write();
                Ok(Applied {
                    before,
                    after: Some(after),
                })
            }
        }
    }

    /// The held buckets: already held, or taken now if unchanged since the read.
    fn take<'a>(&'a self, hold: Hold<'a>) -> Option<PairGuard<'a>> {
        match hold {
            Hold::Held(guard) => Some(guard),
            Hold::Versions(observed) => self.index.try_lock_at(observed.lock, observed.versions),
        }
    }

    /// Finds `key` without a lock, looking in its second bucket only if it is not in
    /// the first; `None` if the read raced a writer and must start over.
    // Inlined into the write driver, as `write_new` is (see there).
    #[inline(always)]
    fn observe(
        &self,
        pair: Pair,
        tag: u16,
        key: &[u8],
        now: &Now<'_>,
    ) -> Option<(Option<Found>, Observed)> {
        let one = |bucket: u32, version: u64| Observed {
            lock: Pair {
                first: bucket,
                second: bucket,
            },
            versions: (version, version),
        };
        let first = self.index.read_begin(pair.first);
        match self.find_in_bucket(pair.first, tag, key, now).ok()? {
            Some(found) => return Some((Some(found), one(pair.first, first))),
            None if pair.second == pair.first => return Some((None, one(pair.first, first))),
            None => {}
        }
        let second = self.index.read_begin(pair.second);
        let found = self.find_in_bucket(pair.second, tag, key, now).ok()?;
        Some(match found {
            Some(found) => (Some(found), one(pair.second, second)),
            None => (
                None,
                Observed {
                    lock: pair,
                    versions: (first, second),
                },
            ),
        })
    }
}
