//! What meta replies say about an item: return-flag values from the engine's
//! metadata, and which recache flags (`W` won, `X` stale, `Z` token already
//! sent) an `mg` hit gets. The encoder in tailcache-protocol writes them in
//! memcached's order.

use tailcache_protocol::memcache::meta_encode::MetaItem;
use tailcache_storage::ItemMeta;

use super::ttl;

/// Return-flag values for a live item (`l` is not tracked, so left out).
pub fn item_flags(meta: &ItemMeta, now_unix_secs: i64) -> MetaItem {
    MetaItem {
        cas: Some(meta.cas),
        client_flags: Some(meta.client_flags),
        hit_before: Some(meta.hit_before),
        last_access_secs: None,
        size_bytes: Some(meta.value_len as u64),
        ttl_remaining_secs: Some(ttl::remaining_secs(meta.expiry_unix_secs, now_unix_secs)),
        ..MetaItem::default()
    }
}

/// Sets the recache flags an `mg` hit gets: a stale item, a recache-due item
/// (`R`) or a freshly vivified one is won by the first client to see it.
pub fn set_recache_flags(item: &mut MetaItem, meta: &ItemMeta, recache_due: bool, vivified: bool) {
    item.win_token_sent = meta.win_token_issued && !vivified;
    item.won = !item.win_token_sent && (meta.stale || recache_due || vivified);
    item.stale = meta.stale;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recache_for_hit(meta: &ItemMeta, recache_due: bool, vivified: bool) -> MetaItem {
        let mut item = MetaItem::default();
        set_recache_flags(&mut item, meta, recache_due, vivified);
        item
    }

    #[test]
    fn stale_item_is_won_once_then_reported_taken() {
        let mut meta = ItemMeta {
            stale: true,
            ..ItemMeta::default()
        };
        let first = recache_for_hit(&meta, false, false);
        assert!(first.won && first.stale && !first.win_token_sent);
        meta.win_token_issued = true;
        let second = recache_for_hit(&meta, false, false);
        assert!(!second.won && second.stale && second.win_token_sent);
    }

    #[test]
    fn fresh_item_is_not_won_unless_recache_is_due() {
        let meta = ItemMeta::default();
        assert_eq!(recache_for_hit(&meta, false, false), MetaItem::default());
        assert!(recache_for_hit(&meta, true, false).won);
        assert!(recache_for_hit(&meta, false, true).won);
    }
}
