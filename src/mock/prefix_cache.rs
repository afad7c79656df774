//! The mock's prefix cache: a model of vLLM-style automatic prefix caching.
//!
//! A prompt's tokens are cut into fixed-size blocks; each full block is keyed by a hash
//! chained over every block before it, so a block only hits when the *whole* prefix up to
//! it matches. Keys live in an LRU of bounded size. Cached tokens skip prefill (lower TTFT)
//! and are reported in usage; blocks seen for the first time are reported as cache writes.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::num::NonZeroUsize;

use lru::LruCache;

/// What one lookup found and changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct CacheOutcome {
    /// Leading prompt tokens already in the cache (a multiple of the block size).
    pub cached_tokens: usize,
    /// Tokens of full blocks this prompt added to the cache.
    pub written_tokens: usize,
}

pub(crate) struct PrefixCache {
    block_tokens: usize,
    blocks: Option<LruCache<u64, ()>>,
}

impl PrefixCache {
    /// `capacity_blocks == 0` turns caching off.
    pub(crate) fn new(block_tokens: usize, capacity_blocks: usize) -> Self {
        let blocks = NonZeroUsize::new(capacity_blocks).map(LruCache::new);
        PrefixCache { block_tokens: block_tokens.max(1), blocks }
    }

    /// Blocks held now, and the most it holds (0 with caching off).
    pub(crate) fn blocks_used(&self) -> (usize, usize) {
        self.blocks.as_ref().map_or((0, 0), |lru| (lru.len(), lru.cap().get()))
    }

    /// Forgets every block (`POST /reset_prefix_cache`).
    pub(crate) fn clear(&mut self) {
        if let Some(lru) = self.blocks.as_mut() {
            lru.clear();
        }
    }

    /// Looks the prompt up and then admits all its full blocks (touching the ones that hit).
    pub(crate) fn lookup_and_insert(&mut self, tokens: &[&str]) -> CacheOutcome {
        let Some(lru) = self.blocks.as_mut() else {
            return CacheOutcome::default();
        };
        let mut outcome = CacheOutcome::default();
        let mut chain = DefaultHasher::new();
        let mut still_hitting = true;
        for block in tokens.chunks_exact(self.block_tokens) {
            for t in block {
                t.hash(&mut chain);
            }
            let key = chain.finish();
            let hit = lru.get(&key).is_some();
            if hit && still_hitting {
                outcome.cached_tokens += self.block_tokens;
            } else {
                still_hitting = false;
                if !hit {
                    lru.put(key, ());
                    outcome.written_tokens += self.block_tokens;
                }
            }
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(n: usize, tag: &str) -> Vec<String> {
        (0..n).map(|i| format!("{tag}{i}")).collect()
    }

    fn refs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }

    #[test]
    fn shared_prefix_hits_block_granular() {
        let mut cache = PrefixCache::new(4, 100);
        let a = toks(10, "a");
        assert_eq!(cache.lookup_and_insert(&refs(&a)), CacheOutcome { cached_tokens: 0, written_tokens: 8 });
        // Same first 6 tokens, then different: only the first full block (4) matches.
        let mut b = toks(6, "a");
        b.extend(toks(6, "b"));
        assert_eq!(cache.lookup_and_insert(&refs(&b)), CacheOutcome { cached_tokens: 4, written_tokens: 8 });
        // Identical prompt: every full block hits.
        assert_eq!(cache.lookup_and_insert(&refs(&a)).cached_tokens, 8);
    }

    #[test]
    fn prefix_must_match_from_the_start() {
        let mut cache = PrefixCache::new(2, 100);
        let a = toks(4, "a");
        cache.lookup_and_insert(&refs(&a));
        let mut shifted = vec!["x".to_string(), "y".to_string()];
        shifted.extend(a.clone());
        assert_eq!(cache.lookup_and_insert(&refs(&shifted)).cached_tokens, 0);
    }

    #[test]
    fn lru_evicts_oldest_and_zero_capacity_disables() {
        let mut cache = PrefixCache::new(1, 2);
        cache.lookup_and_insert(&["a"]);
        cache.lookup_and_insert(&["b"]);
        cache.lookup_and_insert(&["c"]); // evicts "a"
        assert_eq!(cache.lookup_and_insert(&["a"]).cached_tokens, 0);
        assert_eq!(cache.lookup_and_insert(&["c"]).cached_tokens, 1);
        let mut off = PrefixCache::new(16, 0);
        assert_eq!(off.lookup_and_insert(&["a"; 64]), CacheOutcome::default());
        assert_eq!(off.lookup_and_insert(&["a"; 64]), CacheOutcome::default());
        assert_eq!(off.blocks_used(), (0, 0));
    }

    #[test]
    fn clear_forgets_every_block() {
        let mut cache = PrefixCache::new(1, 4);
        cache.lookup_and_insert(&["a", "b"]);
        assert_eq!(cache.blocks_used(), (2, 4));
        cache.clear();
        assert_eq!(cache.blocks_used(), (0, 4));
        assert_eq!(cache.lookup_and_insert(&["a", "b"]).cached_tokens, 0);
    }
}
