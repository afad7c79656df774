//! `--slice-tokens N`, the slicing of a task by a token budget: how many leading entries of
//! a task to replay so that the sum of their prompt sizes (total prefill work, not context
//! size) stays within a budget. It lets a long recording be replayed in part, as
//! AgenticSwarmBench (the original asb) does.

/// The number of leading entries to keep: entries are taken in order while the running
/// total plus the entry's size stays ≤ `budget`, stopping at the first entry that would
/// exceed it (later, smaller entries are not taken). The first entry is always kept, even
/// when it alone exceeds the budget; an empty task keeps 0.
///
/// AgenticSwarmBench's size of an entry is
/// `max(recorded prompt_tokens or 0, Σ len(content) // 4)`; the caller computes it.
pub(crate) fn sliced_len(prompt_sizes: &[u64], budget: u64) -> usize {
    // u128: a sum of u64 sizes cannot overflow it.
    let mut total: u128 = 0;
    for (kept, &size) in prompt_sizes.iter().enumerate() {
        let with_entry = total + u128::from(size);
        if kept > 0 && with_entry > u128::from(budget) {
            return kept;
        }
        total = with_entry;
    }
    prompt_sizes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_asb_tests_it() {
        assert_eq!(sliced_len(&[1000; 5], 2500), 2);
        assert_eq!(sliced_len(&[5000; 3], 100), 1);
        assert_eq!(sliced_len(&[100; 6], 250), 2);
        assert_eq!(sliced_len(&[], 250), 0);
    }

    #[test]
    fn the_budget_is_inclusive() {
        assert_eq!(sliced_len(&[100, 100, 100], 200), 2);
        assert_eq!(sliced_len(&[100, 100, 100], 300), 3);
        assert_eq!(sliced_len(&[100, 100, 100], u64::MAX), 3);
    }

    #[test]
    fn stops_at_the_first_entry_over_budget() {
        assert_eq!(sliced_len(&[100, 1000, 1, 1], 500), 1);
        assert_eq!(sliced_len(&[0, 0, 0], 0), 3);
        // build-rest-api in v3.4.3: 4 entries fit in 200,000.
        assert_eq!(sliced_len(&[42_883, 43_213, 44_462, 44_713, 45_000], 200_000), 4);
    }

    #[test]
    fn huge_sizes_do_not_overflow() {
        assert_eq!(sliced_len(&[u64::MAX, u64::MAX], u64::MAX), 1);
        assert_eq!(sliced_len(&[1, u64::MAX], u64::MAX), 1);
    }
}
