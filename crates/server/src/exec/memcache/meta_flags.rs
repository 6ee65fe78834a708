//! What meta replies say about an item: return-flag values from the engine's
//! metadata. The encoder in tailcache-protocol writes them in memcached's order;
//! which of `W`, `X`, `Z` apply is the engine's decision (`ReadOutcome`).

use tailcache_protocol::memcache::meta_encode::MetaItem;
use tailcache_storage::ItemMeta;

use crate::exec::ttl;

/// Return-flag values for a live item; `l` is the seconds since its last access as
/// the engine kept it (memcached's item time: set by writes and bumping reads).
pub fn item_flags(meta: &ItemMeta, now_unix_secs: u32) -> MetaItem {
    MetaItem {
        cas: Some(meta.cas),
        client_flags: Some(meta.client_flags),
        hit_before: Some(meta.hit_before),
        last_access_secs: Some(u64::from(
            now_unix_secs.saturating_sub(meta.last_access_unix_secs),
        )),
        size_bytes: Some(meta.value_len as u64),
        ttl_remaining_secs: Some(ttl::remaining_secs(meta.expiry, now_unix_secs)),
        ..MetaItem::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tailcache_storage::Expiry;

    #[test]
    fn flags_carry_the_item_and_its_remaining_ttl() {
        let meta = ItemMeta {
            client_flags: 7,
            cas: 99,
            expiry: Expiry::At(130),
            value_len: 5,
            hit_before: true,
            ..ItemMeta::default()
        };
        let item = item_flags(&meta, 100);
        assert_eq!(
            (
                item.cas,
                item.client_flags,
                item.hit_before,
                item.size_bytes,
                item.ttl_remaining_secs
            ),
            (Some(99), Some(7), Some(true), Some(5), Some(30))
        );
        let never = item_flags(&ItemMeta::default(), 100);
        assert_eq!(never.ttl_remaining_secs, Some(-1));
        assert!(!never.won && !never.stale && !never.win_token_sent);
    }
}
