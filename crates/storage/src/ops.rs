//! The writes callers make, each one decision over the key's current item with
//! memcached's semantics (`do_store_item`, `do_add_delta`, the meta commands), run by
//! the write path in `mutate`.

use crate::cache::{check_key, Cache, Found, Now};
use crate::decimal;
use crate::error::CacheError;
use crate::expiry::{self, Expiry};
use crate::item::{self, MAX_HEADER_BYTES};
use crate::meta::{
    ArithOutcome, Arithmetic, DeleteOptions, ItemMeta, ReadOptions, StoreMode, StoreOptions,
};
use crate::mutate::{Applied, Freq, Mutation, NewCas, NewItem, Part, Plan};

/// Longest value incr/decr will read as a number: 20 digits with room for the spaces
/// memcached pads shrunk numbers with.
const MAX_NUMBER_TEXT_BYTES: usize = 64;
/// Padding for a number rewritten shorter than it was (as memcached pads in place).
const SPACES: [u8; MAX_NUMBER_TEXT_BYTES] = [b' '; MAX_NUMBER_TEXT_BYTES];

impl Cache {
    /// Stores `value` under `key` as `mode` and `options` say; returns the new item's
    /// metadata. An already-expired store is written as memcached links it: it
    /// replaces the old item, is never readable, and a read of it counts as expired.
    pub fn store(
        &self,
        mode: StoreMode,
        key: &[u8],
        value: &[u8],
        options: StoreOptions,
    ) -> Result<ItemMeta, CacheError> {
        check_key(key)?;
        self.check_size(key.len(), value.len())?;
        self.mutate(
            key,
            Store {
                mode,
                value,
                options,
                key_len: key.len(),
            },
        )
    }

    /// Removes an item, or keeps it invalidated or emptied, as `options` say.
    pub fn delete(&self, key: &[u8], options: DeleteOptions) -> Result<(), CacheError> {
        self.mutate(key, Delete { options })
    }

    /// Increments or decrements a decimal u64 value (memcached `incr`/`decr`, meta `ma`).
    pub fn arithmetic(
        &self,
        key: &[u8],
        arithmetic: Arithmetic,
    ) -> Result<ArithOutcome, CacheError> {
        self.mutate(
            key,
            Arith {
                arithmetic,
                digits: [0; decimal::MAX_DIGITS],
                long_padding: Vec::new(),
                outcome: ArithOutcome::default(),
            },
        )?
    }

    /// Gives a live item a new expiry, keeping its CAS; an expiry that has passed
    /// removes it. Counts as a read.
    pub fn touch(&self, key: &[u8], expiry: Expiry) -> Result<ItemMeta, CacheError> {
        let options = ReadOptions {
            touch: Some(expiry),
            ..ReadOptions::default()
        };
        let outcome = self.read(key, options, None)?;
        outcome
            .map(|outcome| outcome.meta)
            .ok_or(CacheError::NotFound)
    }

    /// Refuses an item larger than the limit; it counts the largest header, so a
    /// stored item can always move (touch, merge) without growing past a segment.
    pub(crate) fn check_size(&self, key_len: usize, value_len: usize) -> Result<(), CacheError> {
        let limit = self.config.item_size_limit_bytes;
        if value_len > limit || MAX_HEADER_BYTES + key_len + value_len > limit {
            return Err(CacheError::ValueTooLarge {
                len: value_len,
                limit,
            });
        }
        Ok(())
    }
}

/// set, add, replace, cas, append, prepend and meta `ms`.
struct Store<'v> {
    mode: StoreMode,
    value: &'v [u8],
    options: StoreOptions,
    key_len: usize,
}

impl Mutation for Store<'_> {
    type Output = ItemMeta;

    fn decide(
        &mut self,
        cache: &Cache,
        current: Option<&Found>,
        _now: &Now<'_>,
    ) -> Result<Plan<'_>, CacheError> {
        let options = &self.options;
        let mut bits = 0;
        let mut client_flags = options.client_flags;
        let mut expiry = options.expiry.stored();
        let mut value = [Part::Bytes(self.value), Part::None];
        match (self.mode, current) {
            (StoreMode::Add, Some(_)) => return Err(CacheError::NotStored),
            (StoreMode::Add, None) => {}
            (StoreMode::Set | StoreMode::Replace, _) if options.compare_cas.is_some() => {
                let expected = options.compare_cas.unwrap_or_default();
                let found = current.ok_or(CacheError::NotFound)?;
                if found.cas != expected {
                    if !(options.stale_if_older && expected < found.cas) {
                        return Err(CacheError::Exists);
                    }
                    // memcached's CAS_STALE: the older write lands, marked stale,
                    // keeping the item's expiry and whether its token was sent.
                    expiry = found.header.expiry_unix_secs;
                    bits = item::BIT_STALE | (found.header.bits & item::BIT_WIN);
                }
            }
            (StoreMode::Replace, None) => return Err(CacheError::NotStored),
            (StoreMode::Set | StoreMode::Replace, _) => {}
            (StoreMode::Append | StoreMode::Prepend, None) => match options.vivify_on_miss {
                Some(vivify) => expiry = vivify.stored(),
                None => return Err(CacheError::NotStored),
            },
            (StoreMode::Append | StoreMode::Prepend, Some(found)) => {
                if options.compare_cas.is_some_and(|cas| cas != found.cas) {
                    return Err(CacheError::Exists);
                }
                cache.check_size(self.key_len, found.header.value_len + self.value.len())?;
                client_flags = found.header.client_flags;
                expiry = found.header.expiry_unix_secs;
                value = if self.mode == StoreMode::Append {
                    [Part::Current, Part::Bytes(self.value)]
                } else {
                    [Part::Bytes(self.value), Part::Current]
                };
            }
        }
        if options.keep_ttl
            && matches!(
                self.mode,
                StoreMode::Set | StoreMode::Replace | StoreMode::Add
            )
        {
            expiry = current.map_or(0, |found| found.header.expiry_unix_secs);
        }
        // An append or prepend is a new item in memcached and does not carry the
        // binary-key mark; the other modes take it from this store.
        if options.key_binary && !matches!(self.mode, StoreMode::Append | StoreMode::Prepend) {
            bits |= item::BIT_KEY_BINARY;
        }
        Ok(Plan::Write(NewItem {
            meta_bits: bits,
            client_flags,
            expiry_unix_secs: expiry,
            cas: options.new_cas.map_or(NewCas::Fresh, NewCas::Given),
            value,
            freq: Freq::Zero,
        }))
    }

    fn finish(self, applied: Applied) -> ItemMeta {
        // A store always writes (Plan::Write), so the item after it exists.
        applied.after.unwrap_or(ItemMeta {
            client_flags: self.options.client_flags,
            value_len: self.value.len(),
            ..ItemMeta::default()
        })
    }
}

/// delete and meta `md` (with compare, invalidate, drop value).
struct Delete {
    options: DeleteOptions,
}

impl Mutation for Delete {
    type Output = ();

    fn decide(
        &mut self,
        _cache: &Cache,
        current: Option<&Found>,
        now: &Now<'_>,
    ) -> Result<Plan<'_>, CacheError> {
        let options = &self.options;
        let found = current.ok_or(CacheError::NotFound)?;
        if options.compare_cas.is_some_and(|cas| cas != found.cas) {
            return Err(CacheError::Exists);
        }
        if !options.invalidate && !options.drop_value {
            return Ok(Plan::Remove);
        }
        let mut bits = found.header.bits & item::META_BITS;
        let mut expiry = found.header.expiry_unix_secs;
        if options.invalidate {
            // Stale, with a new CAS, and the next reader wins the right to recache.
            bits = (bits | item::BIT_STALE) & !item::BIT_WIN;
            if let Some(new_expiry) = options.invalidate_expiry {
                expiry = new_expiry.stored();
            }
        }
        if expiry != 0 && expiry::has_expired(expiry, now.get()) {
            return Ok(Plan::Remove);
        }
        let value = if options.drop_value {
            Part::None
        } else {
            Part::Current
        };
        Ok(Plan::Write(NewItem {
            meta_bits: bits,
            client_flags: found.header.client_flags,
            expiry_unix_secs: expiry,
            cas: options.new_cas.map_or(NewCas::Fresh, NewCas::Given),
            value: [value, Part::None],
            freq: Freq::Keep { bump: false },
        }))
    }

    fn finish(self, _applied: Applied) {}
}

/// incr, decr and meta `ma`.
struct Arith {
    arithmetic: Arithmetic,
    digits: [u8; decimal::MAX_DIGITS],
    /// Padding past `SPACES` (a long number rewritten shorter).
    long_padding: Vec<u8>,
    outcome: ArithOutcome,
}

impl Mutation for Arith {
    type Output = Result<ArithOutcome, CacheError>;

    fn decide(
        &mut self,
        cache: &Cache,
        current: Option<&Found>,
        _now: &Now<'_>,
    ) -> Result<Plan<'_>, CacheError> {
        let arithmetic = &self.arithmetic;
        let (value, client_flags, expiry, freq) = match current {
            None => {
                let (initial, expiry) = arithmetic.vivify.ok_or(CacheError::NotFound)?;
                self.outcome.created = true;
                self.outcome.expiry_before = Expiry::Never;
                (initial, 0, expiry.stored(), Freq::Zero)
            }
            Some(found) => {
                // memcached's order: an empty value is not a number before any CAS
                // check; the CAS before the digits.
                if found.header.value_len == 0 {
                    return Err(CacheError::NonNumeric);
                }
                if arithmetic.compare_cas.is_some_and(|cas| cas != found.cas) {
                    return Err(CacheError::Exists);
                }
                let old = read_number(cache, found)?;
                self.outcome.expiry_before = Expiry::from_stored(found.header.expiry_unix_secs);
                let new = if arithmetic.decrement {
                    old.saturating_sub(arithmetic.delta)
                } else {
                    old.wrapping_add(arithmetic.delta)
                };
                let expiry = arithmetic
                    .touch
                    .map_or(found.header.expiry_unix_secs, Expiry::stored);
                self.outcome.created = false;
                (
                    new,
                    found.header.client_flags,
                    expiry,
                    Freq::Keep { bump: false },
                )
            }
        };
        self.outcome.value = value;
        let mut digits = [0u8; decimal::MAX_DIGITS];
        let len = decimal::format(value, &mut digits).len();
        self.digits = [0; decimal::MAX_DIGITS];
        self.digits[..len].copy_from_slice(&digits[decimal::MAX_DIGITS - len..]);
        // memcached rewrites a number that got no longer in place, padded with
        // spaces to the old length, keeping the item's marks (stale, win token,
        // binary key); a longer one is a new item without them.
        let old_len = current.map_or(0, |found| found.header.value_len);
        let (pad, meta_bits) = match current {
            Some(found) if len <= old_len => (old_len - len, found.header.bits & item::META_BITS),
            _ => (0, 0),
        };
        Ok(Plan::Write(NewItem {
            meta_bits,
            client_flags,
            expiry_unix_secs: expiry,
            cas: arithmetic.new_cas.map_or(NewCas::Fresh, NewCas::Given),
            value: [
                Part::Bytes(&self.digits[..len]),
                Part::Bytes(if pad <= SPACES.len() {
                    &SPACES[..pad]
                } else {
                    self.long_padding.resize(pad, b' ');
                    &self.long_padding
                }),
            ],
            freq,
        }))
    }

    fn finish(self, applied: Applied) -> Result<ArithOutcome, CacheError> {
        let meta = applied.after.ok_or(CacheError::NotFound)?;
        Ok(ArithOutcome {
            meta,
            ..self.outcome
        })
    }
}

/// The current value as a memcached number.
fn read_number(cache: &Cache, found: &Found) -> Result<u64, CacheError> {
    let len = found.header.value_len;
    let at = cache.addr(found.segment, found.offset + found.header.value_start());
    if len <= MAX_NUMBER_TEXT_BYTES {
        let mut text = [0u8; MAX_NUMBER_TEXT_BYTES];
        cache.heap.read(at, &mut text[..len]);
        return decimal::parse(&text[..len]).ok_or(CacheError::NonNumeric);
    }
    // Leading white space or zeros can make a number long (memcached's strtoull
    // reads any of them); the value is at most the item limit.
    let mut text = Vec::with_capacity(len);
    cache.heap.append_to(at, len, &mut text);
    decimal::parse(&text).ok_or(CacheError::NonNumeric)
}
