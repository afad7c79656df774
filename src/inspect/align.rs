//! Aligning two sequences of calls so that an inserted or missing call does not shift every
//! later pair: a longest common subsequence over per-call signatures, as `difflib` and
//! `diff` do.
//!
//! Equal signatures anchor the alignment. Between two anchors, the calls left on both sides
//! are the same calls changed (a prompt edited, a different answer): they are paired in
//! order when the caller asks for it, and the surplus on either side is reported as
//! missing or inserted.

/// One step of an alignment, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// `a[i]` and `b[j]` are the same call (equal signatures, or paired in a gap).
    Pair(usize, usize),
    OnlyA(usize),
    OnlyB(usize),
}

/// Above this many table cells (rows × columns of the part that differs), the middle is
/// not searched for anchors: it is paired in order, which is what a plain zip would do.
const MAX_CELLS: usize = 25_000_000;

/// Aligns `a` with `b`. With `pair_gaps`, unmatched calls between two anchors are paired
/// in order; without, they stay unpaired.
pub(crate) fn align<T: PartialEq>(a: &[T], b: &[T], pair_gaps: bool) -> Vec<Step> {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..].iter().rev().zip(b[prefix..].iter().rev()).take_while(|(x, y)| x == y).count();
    let (a_mid, b_mid) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let anchors = if a_mid.len().saturating_mul(b_mid.len()) <= MAX_CELLS { lcs(a_mid, b_mid) } else { Vec::new() };

    let mut steps: Vec<Step> = (0..prefix).map(|i| Step::Pair(i, i)).collect();
    let (mut i, mut j) = (0, 0);
    for (ai, bj) in anchors.into_iter().chain([(a_mid.len(), b_mid.len())]) {
        gap(&mut steps, (prefix + i)..(prefix + ai), (prefix + j)..(prefix + bj), pair_gaps);
        if ai < a_mid.len() {
            steps.push(Step::Pair(prefix + ai, prefix + bj));
        }
        (i, j) = (ai + 1, bj + 1);
    }
    steps.extend((0..suffix).map(|k| Step::Pair(a.len() - suffix + k, b.len() - suffix + k)));
    steps
}

/// The calls between two anchors.
fn gap(steps: &mut Vec<Step>, a: std::ops::Range<usize>, b: std::ops::Range<usize>, pair: bool) {
    let paired = if pair { a.len().min(b.len()) } else { 0 };
    steps.extend(a.clone().zip(b.clone()).take(paired).map(|(i, j)| Step::Pair(i, j)));
    steps.extend(a.skip(paired).map(Step::OnlyA));
    steps.extend(b.skip(paired).map(Step::OnlyB));
}

/// The index pairs of a longest common subsequence, increasing.
fn lcs<T: PartialEq>(a: &[T], b: &[T]) -> Vec<(usize, usize)> {
    let (n, m) = (a.len(), b.len());
    // len[i][j] = LCS length of a[i..] and b[j..]
    let mut len = vec![0u32; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            len[at(i, j)] =
                if a[i] == b[j] { len[at(i + 1, j + 1)] + 1 } else { len[at(i + 1, j)].max(len[at(i, j + 1)]) };
        }
    }
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if a[i] == b[j] {
            out.push((i, j));
            (i, j) = (i + 1, j + 1);
        } else if len[at(i + 1, j)] >= len[at(i, j + 1)] {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::Step::*;
    use super::*;

    #[test]
    fn identical_sequences_pair_one_to_one() {
        assert_eq!(align(&["a", "b", "c"], &["a", "b", "c"], true), vec![Pair(0, 0), Pair(1, 1), Pair(2, 2)]);
        assert_eq!(align::<&str>(&[], &[], true), vec![]);
    }

    #[test]
    fn an_inserted_call_does_not_shift_the_rest() {
        let steps = align(&["a", "b", "c", "d"], &["a", "x", "b", "c", "d"], true);
        assert_eq!(steps, vec![Pair(0, 0), OnlyB(1), Pair(1, 2), Pair(2, 3), Pair(3, 4)]);
        let steps = align(&["a", "b", "c", "d"], &["a", "c", "d"], true);
        assert_eq!(steps, vec![Pair(0, 0), OnlyA(1), Pair(2, 1), Pair(3, 2)]);
    }

    #[test]
    fn changed_calls_pair_in_their_gap() {
        let steps = align(&["a", "b", "c"], &["a", "B", "c", "e"], true);
        assert_eq!(steps, vec![Pair(0, 0), Pair(1, 1), Pair(2, 2), OnlyB(3)]);
        let steps = align(&["a", "b", "c"], &["a", "B", "c"], false);
        assert_eq!(steps, vec![Pair(0, 0), OnlyA(1), OnlyB(1), Pair(2, 2)]);
    }

    #[test]
    fn repeated_signatures_align_in_order() {
        let steps = align(&["s", "s", "t"], &["s", "s", "s", "t"], true);
        assert_eq!(steps, vec![Pair(0, 0), Pair(1, 1), OnlyB(2), Pair(2, 3)]);
        let steps = align(&["x", "s", "y"], &["s", "z"], true);
        assert_eq!(steps, vec![OnlyA(0), Pair(1, 0), Pair(2, 1)]);
    }

    #[test]
    fn every_index_appears_once_in_order() {
        let a: Vec<u8> = b"abcabbacbcab".to_vec();
        let b: Vec<u8> = b"cbabacbbcaab".to_vec();
        let steps = align(&a, &b, true);
        let (mut seen_a, mut seen_b) = (Vec::new(), Vec::new());
        for s in steps {
            match s {
                Pair(i, j) => {
                    seen_a.push(i);
                    seen_b.push(j);
                }
                OnlyA(i) => seen_a.push(i),
                OnlyB(j) => seen_b.push(j),
            }
        }
        assert_eq!(seen_a, (0..a.len()).collect::<Vec<_>>());
        assert_eq!(seen_b, (0..b.len()).collect::<Vec<_>>());
    }
}
