//! What meta replies say about an item: return-flag values from the
//! engine's metadata, and the recache flags (`W` won, `X` stale, `Z` token
//! already sent) in memcached's order.

use tailcache_protocol::memcache::meta_encode::{self, MetaItem, MetaStatus};
use tailcache_protocol::memcache::{MetaCommand, MetaFlags, MetaKey};
use tailcache_storage::ItemMeta;

use super::ttl;

/// The recache flags of one reply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recache {
    /// `W`: this client won the right to recache.
    pub won: bool,
    /// `X`: the item is stale.
    pub stale: bool,
    /// `Z`: a win token was already handed out for this item.
    pub token_already_sent: bool,
}

impl Recache {
    /// The flags an `mg` hit gets: a stale item, a recache-due item (`R`)
    /// or a freshly vivified one is won by the first client to see it.
    pub fn for_hit(meta: &ItemMeta, recache_due: bool, vivified: bool) -> Recache {
        let token_already_sent = meta.win_token_issued && !vivified;
        Recache {
            won: !token_already_sent && (meta.stale || recache_due || vivified),
            stale: meta.stale,
            token_already_sent,
        }
    }

    /// Appends ` Z`, ` X`, ` W` as they apply, in the order memcached 1.6
    /// writes them (after the return flags).
    fn encode(self, out: &mut Vec<u8>) {
        for (set, text) in [
            (self.token_already_sent, b" Z"),
            (self.stale, b" X"),
            (self.won, b" W"),
        ] {
            if set {
                out.extend_from_slice(text);
            }
        }
    }
}

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

/// Appends `<CD> <flags>*[ Z][ X][ W]\r\n` unless `q` hides it.
pub fn encode_status(
    out: &mut Vec<u8>,
    command: MetaCommand,
    status: MetaStatus,
    key: &MetaKey<'_>,
    flags: &MetaFlags<'_>,
    item: &MetaItem,
    recache: Recache,
) {
    if meta_encode::encode_meta_status(out, command, status, key, flags, item) {
        reopen_line(out);
        recache.encode(out);
        out.extend_from_slice(b"\r\n");
    }
}

/// Appends `VA <bytes> <flags>*[ Z][ X][ W]\r\n`.
pub fn encode_value_header(
    out: &mut Vec<u8>,
    value_bytes: usize,
    key: &MetaKey<'_>,
    flags: &MetaFlags<'_>,
    item: &MetaItem,
    recache: Recache,
) {
    meta_encode::encode_meta_value_header(out, value_bytes, key, flags, item);
    reopen_line(out);
    recache.encode(out);
    out.extend_from_slice(b"\r\n");
}

/// Removes the `\r\n` the encoder just wrote, so the recache flags can
/// follow the return flags on the same line.
fn reopen_line(out: &mut Vec<u8>) {
    debug_assert!(out.ends_with(b"\r\n"));
    out.truncate(out.len() - 2);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_item_is_won_once_then_reported_taken() {
        let mut meta = ItemMeta {
            stale: true,
            ..ItemMeta::default()
        };
        let first = Recache::for_hit(&meta, false, false);
        assert!(first.won && first.stale && !first.token_already_sent);
        meta.win_token_issued = true;
        let second = Recache::for_hit(&meta, false, false);
        assert!(!second.won && second.stale && second.token_already_sent);
        let mut out = Vec::new();
        second.encode(&mut out);
        assert_eq!(out, b" Z X");
        out.clear();
        first.encode(&mut out);
        assert_eq!(out, b" X W");
    }

    #[test]
    fn fresh_item_is_not_won_unless_recache_is_due() {
        let meta = ItemMeta::default();
        assert_eq!(Recache::for_hit(&meta, false, false), Recache::default());
        assert!(Recache::for_hit(&meta, true, false).won);
        assert!(Recache::for_hit(&meta, false, true).won);
    }
}
