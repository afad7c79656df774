//! The space-doubling cache poison of AgenticSwarmBench (the original asb), which defeats a
//! server's prefix cache, on UTF-8 bytes.
//!
//! A doubled space adds a token and shifts every later one, so a server's prefix cache
//! misses from that point on. AgenticSwarmBench doubles a per-execution random subset of
//! the first 64 isolated spaces found after the scenario's longest common prefix:
//! repetitions share the prefix and nothing after it, while turns of one execution (one
//! mask, same start) keep extending each other and stay cacheable among themselves.
//!
//! Positions are byte offsets. Only U+0020 counts as a space; it is ASCII, so byte-level
//! scanning finds the same spaces as AgenticSwarmBench's code-point scanning, and inserting
//! right after one can never split a character. Lengths that AgenticSwarmBench reports or
//! compares (the LCP against `min_lcp_length`) are in code points: convert them with
//! [`chars_in`].

use super::python_random::PythonRandom;

/// Number of mask bits, and the most spaces one request can gain.
pub(crate) const MASK_BITS: usize = 64;

/// The doubling mask of one execution: 64 × `randint(0, 1)` from CPython's
/// `random.Random(f"poison-{task_id}-exec-{execution}")`, bit for bit as AgenticSwarmBench
/// draws it.
pub(crate) fn execution_mask(task_id: &str, execution: u32) -> [bool; MASK_BITS] {
    let mut rng = PythonRandom::from_str_seed(&format!("poison-{task_id}-exec-{execution}"));
    let mut mask = [false; MASK_BITS];
    for bit in &mut mask {
        *bit = rng.randint(0, 1) == Some(1);
    }
    mask
}

/// [`isolated_spaces_in`] one slice.
#[cfg(test)]
fn isolated_spaces(text: &[u8], start: usize, max: usize) -> Vec<usize> {
    isolated_spaces_in(text.iter().copied(), start, max)
}

/// Byte offsets `i ≥ start` where byte `i` is a space and neither neighbour is one (a
/// neighbour outside the sequence counts as a non-space), the first `max` of them, over any
/// byte sequence (such as segments read one after another).
fn isolated_spaces_in(bytes: impl Iterator<Item = u8>, start: usize, max: usize) -> Vec<usize> {
    let mut found = Vec::new();
    if max == 0 {
        return found;
    }
    let mut previous = None;
    let mut bytes = bytes.enumerate().peekable();
    while let Some((i, byte)) = bytes.next() {
        let next = bytes.peek().map(|&(_, next)| next);
        if i >= start && byte == b' ' && previous != Some(b' ') && next != Some(b' ') {
            found.push(i);
            if found.len() >= max {
                break;
            }
        }
        previous = Some(byte);
    }
    found
}

/// Poisons a request whose text is split over `segments` (message contents in order),
/// read as their concatenation `S` with no separator: finds the first 64 isolated spaces
/// of `S` from byte offset `start` and, for each k with `mask[k]`, inserts one more space
/// right after the k-th of them, inside the segment that holds it (a space at the end of
/// a segment gets its twin at the end of that segment). Isolation is judged on `S`, so a
/// space ending one segment next to a space starting the next is not isolated.
///
/// Returns the number of spaces inserted (at most 64).
pub(crate) fn poison_segments(segments: &mut [&mut String], start: usize, mask: &[bool; MASK_BITS]) -> usize {
    let slots = twin_slots(&segments.iter().map(|s| s.as_str()).collect::<Vec<_>>(), start);
    let mut inserted = 0;
    // Right to left, so the segments and offsets of earlier slots never move.
    for slot in slots.iter().rev().filter(|slot| mask[slot.bit]) {
        if let Some(segment) = segments.get_mut(slot.segment) {
            segment.insert(slot.offset, ' ');
            inserted += 1;
        }
    }
    inserted
}

/// Where [`poison_segments`] puts the twin of the `bit`-th isolated space, whatever the
/// mask: inside segment `segment`, at byte `offset` (right after the space).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TwinSlot {
    pub bit: usize,
    pub segment: usize,
    pub offset: usize,
}

/// The twin slots of `segments` read from `start`, in increasing position (and bit)
/// order. They do not depend on the execution, so a request's slots are found once and
/// each execution's mask only picks among them ([`super::body_template`]).
pub(crate) fn twin_slots(segments: &[&str], start: usize) -> Vec<TwinSlot> {
    let concatenated = segments.iter().flat_map(|segment| segment.as_bytes().iter().copied());
    let positions = isolated_spaces_in(concatenated, start, MASK_BITS);
    if positions.is_empty() {
        return Vec::new();
    }
    // Where each segment starts in S.
    let mut segment_starts = Vec::with_capacity(segments.len());
    let mut offset = 0;
    for segment in segments {
        segment_starts.push(offset);
        offset += segment.len();
    }
    let mut slots = Vec::with_capacity(positions.len());
    for (bit, position) in positions.into_iter().enumerate() {
        // The last segment starting at or before `position` that is long enough to hold
        // it (empty segments share their start with the next one).
        let holder = segment_starts.partition_point(|&segment_start| segment_start <= position);
        let Some(index) = holder.checked_sub(1) else { continue };
        let (Some(segment), Some(&segment_start)) = (segments.get(index), segment_starts.get(index)) else {
            continue;
        };
        let after_space = position - segment_start + 1;
        if after_space <= segment.len() && segment.is_char_boundary(after_space) {
            slots.push(TwinSlot { bit, segment: index, offset: after_space });
        }
    }
    slots
}

/// The length in bytes of the longest common prefix of `a` and `b`, backed off to a
/// character boundary (which is then a boundary in both strings).
pub(crate) fn common_prefix_len(a: &str, b: &str) -> usize {
    let mut len = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    while !a.is_char_boundary(len) {
        len -= 1;
    }
    len
}

/// AgenticSwarmBench's scenario LCP, in bytes: the longest common prefix of each task's
/// first request text. No requests → 0; one request → its whole length. AgenticSwarmBench
/// also gives 0 when some task has no entries: pass `""` for such a task.
pub(crate) fn scenario_lcp<'a>(first_requests: impl IntoIterator<Item = &'a str>) -> usize {
    let mut requests = first_requests.into_iter();
    let Some(mut prefix) = requests.next() else {
        return 0;
    };
    for request in requests {
        prefix = &prefix[..common_prefix_len(prefix, request)];
        if prefix.is_empty() {
            break;
        }
    }
    prefix.len()
}

/// The number of characters (code points) that start in the first `bytes` bytes of `s`:
/// converts a byte length such as the LCP into the code-point length AgenticSwarmBench
/// reports.
pub(crate) fn chars_in(s: &str, bytes: usize) -> usize {
    // Every byte that is not a UTF-8 continuation byte (10xx_xxxx) starts a character.
    s.as_bytes().iter().take(bytes).filter(|&&byte| byte & 0xC0 != 0x80).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn mask_string(mask: &[bool; MASK_BITS]) -> String {
        mask.iter().map(|&bit| if bit { '1' } else { '0' }).collect()
    }

    fn all_ones() -> [bool; MASK_BITS] {
        [true; MASK_BITS]
    }

    /// Poisons a copy of `segments` and returns the poisoned segments and the count.
    fn poison(segments: &[&str], start: usize, mask: &[bool; MASK_BITS]) -> (Vec<String>, usize) {
        let mut owned: Vec<String> = segments.iter().map(|s| s.to_string()).collect();
        let mut refs: Vec<&mut String> = owned.iter_mut().collect();
        let inserted = poison_segments(&mut refs, start, mask);
        (owned, inserted)
    }

    /// Deletes from `poisoned` the spaces that are not in `original`, checking that each
    /// deleted space follows a space; returns the text left and how many were deleted.
    fn remove_inserted_spaces(poisoned: &str, original: &str) -> (String, usize) {
        let poisoned = poisoned.as_bytes();
        let original = original.as_bytes();
        let mut kept = Vec::new();
        let mut removed = 0;
        let mut o = 0;
        for (p, &byte) in poisoned.iter().enumerate() {
            if original.get(o) == Some(&byte) {
                kept.push(byte);
                o += 1;
            } else {
                assert_eq!(byte, b' ', "only spaces are inserted");
                assert_eq!(poisoned.get(p.wrapping_sub(1)), Some(&b' '), "an inserted space follows a space");
                removed += 1;
            }
        }
        (String::from_utf8(kept).expect("utf-8"), removed)
    }

    #[test]
    fn masks_match_asb_bit_for_bit() {
        let cases = [
            ("build-rest-api", 0, 35, "1111110000011011001111000110001111000011111100111001010110010001"),
            ("build-rest-api", 1, 37, "0110011100101100110001001010011100000111111100011101010111111111"),
            ("csv-parser-cli", 0, 37, "1000111011011100110111101100100111111011100111100100110001001001"),
            ("markdown-renderer", 0, 30, "0100001001111010010011100111000110000011011110110111000100000011"),
            ("state-machine", 0, 34, "0011100100100000111001101010110001110111100001011111101101101010"),
            ("default", 0, 32, "1100100101111110111100011001100010111010010010000001100101110100"),
        ];
        for (task, execution, ones, expected) in cases {
            let mask = execution_mask(task, execution);
            assert_eq!(mask_string(&mask), expected, "{task} exec {execution}");
            assert_eq!(mask.iter().filter(|&&bit| bit).count(), ones);
        }
    }

    #[test]
    fn masks_are_deterministic_and_differ_between_executions() {
        assert_eq!(execution_mask("t", 3), execution_mask("t", 3));
        assert_ne!(execution_mask("t", 0), execution_mask("t", 1));
        assert_ne!(execution_mask("a", 0), execution_mask("b", 0));
        let ones = execution_mask("t", 0).iter().filter(|&&bit| bit).count();
        assert!(10 < ones && ones < 54, "roughly balanced: {ones}");
    }

    #[test]
    fn isolated_spaces_as_asb_tests_them() {
        assert_eq!(isolated_spaces(b"hello world foo bar", 0, 64), [5, 11, 15]);
        assert_eq!(isolated_spaces(b"hello  world foo", 0, 64), [12]);
        assert_eq!(isolated_spaces(b"hello world", 100, 64), Vec::<usize>::new());
        assert_eq!(isolated_spaces(b"hello world foo bar", 6, 64), [11, 15]);
        assert_eq!(isolated_spaces(b"hello world foo bar", 0, 2), [5, 11]);
        assert_eq!(isolated_spaces(b"hello world", 0, 0), Vec::<usize>::new());
        assert_eq!(isolated_spaces(b" a ", 0, 64), [0, 2], "out-of-range neighbours are non-spaces");
        assert_eq!(isolated_spaces(b"a\tb\nc d", 0, 64), [5], "only U+0020 counts");
        assert_eq!(isolated_spaces(b"", 0, 64), Vec::<usize>::new());
    }

    #[test]
    fn doubles_the_masked_spaces_right_to_left() {
        let mut mask = [false; MASK_BITS];
        mask[0] = true;
        mask[2] = true;
        let (poisoned, inserted) = poison(&["hello world foo bar"], 0, &mask);
        assert_eq!(poisoned, ["hello  world foo  bar"]);
        assert_eq!(inserted, 2);
        let (poisoned, inserted) = poison(&["hello world foo bar"], 0, &all_ones());
        assert_eq!(poisoned, ["hello  world  foo  bar"]);
        assert_eq!(inserted, 3);
    }

    #[test]
    fn isolation_is_judged_on_the_concatenation() {
        // "a " ‖ " b" has a double space across the boundary: neither space is isolated.
        let (poisoned, inserted) = poison(&["a ", " b c"], 0, &all_ones());
        assert_eq!(poisoned, ["a ", " b  c"]);
        assert_eq!(inserted, 1);
        // A space ending a segment keeps its twin in that segment.
        let (poisoned, _) = poison(&["a ", "b"], 0, &all_ones());
        assert_eq!(poisoned, ["a  ", "b"]);
        // A space starting a segment gets its twin right after it.
        let (poisoned, _) = poison(&["a", " b"], 0, &all_ones());
        assert_eq!(poisoned, ["a", "  b"]);
    }

    #[test]
    fn a_position_in_the_middle_segment_lands_there() {
        let (poisoned, inserted) = poison(&["system", "user says hi", "tail"], 0, &all_ones());
        assert_eq!(poisoned, ["system", "user  says  hi", "tail"]);
        assert_eq!(inserted, 2);
        let (poisoned, _) = poison(&["", "x y", "", "z w"], 0, &all_ones());
        assert_eq!(poisoned, ["", "x  y", "", "z  w"], "empty segments are skipped over");
    }

    #[test]
    fn bytes_before_start_are_unchanged() {
        let text = "one two three four five";
        let (poisoned, inserted) = poison(&[text], 8, &all_ones());
        assert_eq!(poisoned, ["one two three  four  five"]);
        assert_eq!(inserted, 2);
        assert_eq!(&poisoned[0][..8], &text[..8]);
        let (poisoned, inserted) = poison(&[text], text.len(), &all_ones());
        assert_eq!((poisoned[0].as_str(), inserted), (text, 0));
    }

    #[test]
    fn text_without_spaces_is_unchanged() {
        let (poisoned, inserted) = poison(&["no_spaces_here", "", "nor\there"], 0, &all_ones());
        assert_eq!(poisoned, ["no_spaces_here", "", "nor\there"]);
        assert_eq!(inserted, 0);
        let (poisoned, inserted) = poison(&[], 0, &all_ones());
        assert!(poisoned.is_empty());
        assert_eq!(inserted, 0);
    }

    #[test]
    fn at_most_64_spaces_are_inserted() {
        let text = "w ".repeat(200);
        let (poisoned, inserted) = poison(&[&text], 0, &all_ones());
        assert_eq!(inserted, MASK_BITS);
        assert_eq!(poisoned[0].len(), text.len() + MASK_BITS);
        let (restored, removed) = remove_inserted_spaces(&poisoned[0], &text);
        assert_eq!((restored.as_str(), removed), (text.as_str(), MASK_BITS));
    }

    #[test]
    fn removing_the_doubled_spaces_restores_the_original() {
        let segments = ["You are a helpful assistant.", "Please write  a parser for CSV files.", " Sure, here it is "];
        let mask = execution_mask("csv-parser-cli", 0);
        let (poisoned, inserted) = poison(&segments, 4, &mask);
        assert!(inserted > 0);
        let mut total_removed = 0;
        for (poisoned, original) in poisoned.iter().zip(segments) {
            let (restored, removed) = remove_inserted_spaces(poisoned, original);
            assert_eq!(restored, original);
            total_removed += removed;
        }
        assert_eq!(total_removed, inserted);
    }

    #[test]
    fn same_execution_same_bytes_different_executions_differ() {
        let segments = ["shared system prompt. ", "the task at hand is to write a small web server with routes"];
        let lcp = segments[0].len();
        let first = poison(&segments, lcp, &execution_mask("build-rest-api", 0));
        let again = poison(&segments, lcp, &execution_mask("build-rest-api", 0));
        let other = poison(&segments, lcp, &execution_mask("build-rest-api", 1));
        assert_eq!(first, again);
        assert_ne!(first.0, other.0);
        assert_eq!(first.0[0], segments[0]);
        assert_eq!(other.0[0], segments[0]);
    }

    #[test]
    fn a_growing_conversation_stays_a_prefix() {
        let turn_1 = ["You are a coding agent. Be brief.", "Write a function that adds two numbers."];
        let turn_2 = [
            turn_1[0],
            turn_1[1],
            "Here is the function you asked for.",
            "Now add tests for it and make them pass please.",
        ];
        let mask = execution_mask("build-rest-api", 0);
        let start = 12;
        let (poisoned_1, _) = poison(&turn_1, start, &mask);
        let (poisoned_2, _) = poison(&turn_2, start, &mask);
        assert!(poisoned_2.concat().starts_with(&poisoned_1.concat()));
        assert_eq!(poisoned_1[..], poisoned_2[..2]);
    }

    #[test]
    fn multi_byte_text_stays_valid() {
        let segments = ["héllo wörld ✓ ok", "日本語 テキスト 😀 end"];
        let (poisoned, inserted) = poison(&segments, 0, &all_ones());
        assert_eq!(poisoned, ["héllo  wörld  ✓  ok", "日本語  テキスト  😀  end"]);
        assert_eq!(inserted, 6);
    }

    #[test]
    fn common_prefixes() {
        assert_eq!(common_prefix_len("hello world", "hello there"), "hello ".len());
        assert_eq!(common_prefix_len("abc", "xyz"), 0);
        assert_eq!(common_prefix_len("", "abc"), 0);
        assert_eq!(common_prefix_len("abc", "abcdef"), 3);
        // "é" (C3 A9) and "ã" (C3 A3) share a byte but no character.
        assert_eq!(common_prefix_len("xé", "xã"), 1);
    }

    #[test]
    fn scenario_lcp_as_asb_tests_it() {
        assert_eq!(scenario_lcp(["hello world", "hello there"]), "hello ".len());
        assert_eq!(scenario_lcp(Vec::<&str>::new()), 0);
        assert_eq!(scenario_lcp(["abc", "xyz"]), 0);
        assert_eq!(scenario_lcp(["turn one", "turn one and two"]), "turn one".len());
        assert_eq!(scenario_lcp(["only one request"]), "only one request".len());
        assert_eq!(
            scenario_lcp(["Shared prompt.Task one: parse", "Shared prompt.Task two: render"]),
            "Shared prompt.Task ".len()
        );
        assert_eq!(scenario_lcp(["abc", "abd", "xbc"]), 0);
        assert_eq!(scenario_lcp(["abc", ""]), 0, "a task with no entries");
    }

    #[test]
    fn lengths_in_code_points() {
        assert_eq!(chars_in("héllo", "hé".len()), 2);
        assert_eq!(chars_in("héllo", 100), 5);
        assert_eq!(chars_in("😀x", 4), 1);
        assert_eq!(chars_in("", 3), 0);
        let lcp = scenario_lcp(["日本 one", "日本 two"]);
        assert_eq!(chars_in("日本 one", lcp), 3);
    }

    proptest! {
        #[test]
        fn invariants_hold_for_any_split(
            pieces in proptest::collection::vec(prop_oneof![Just("a"), Just(" "), Just("é"), Just("\n")], 0..300),
            cuts in proptest::collection::vec(0usize..300, 0..4),
            start in 0usize..400,
            execution in 0u32..4,
        ) {
            let text: String = pieces.concat();
            let mut bounds: Vec<usize> =
                cuts.into_iter().map(|cut| cut.min(text.len())).filter(|&cut| text.is_char_boundary(cut)).collect();
            bounds.push(0);
            bounds.push(text.len());
            bounds.sort_unstable();
            let segments: Vec<&str> = bounds.windows(2).map(|w| &text[w[0]..w[1]]).collect();
            let mask = execution_mask("prop", execution);
            let (poisoned, inserted) = poison(&segments, start, &mask);

            let expected = isolated_spaces(text.as_bytes(), start, MASK_BITS)
                .iter()
                .zip(mask)
                .filter(|(_, bit)| *bit)
                .count();
            prop_assert_eq!(inserted, expected);
            prop_assert!(inserted <= MASK_BITS);
            let joined = poisoned.concat();
            prop_assert_eq!(joined.len(), text.len() + inserted);
            let keep = start.min(text.len());
            prop_assert_eq!(&joined.as_bytes()[..keep], &text.as_bytes()[..keep]);
            prop_assert!(!joined.contains("   ") || text.contains("   "));
            for (poisoned, original) in poisoned.iter().zip(&segments) {
                let (restored, _) = remove_inserted_spaces(poisoned, original);
                prop_assert_eq!(restored.as_str(), *original);
            }
        }
    }
}
