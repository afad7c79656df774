//! Memory the canonical writers reuse from one document to the next on a thread: the fields
//! of the objects being written, and room to write an unsorted object's fields back in
//! key order. Both writers ([`super::canonical_scan`], [`super::canonical_visitor`]) share it.

/// Memory reused from one document to the next on a thread.
#[derive(Default)]
pub(super) struct Scratch {
    /// The fields of the objects being written, innermost last: where each starts in the
    /// output, where its key (quoted, escaped) ends, where its value ends.
    pub(super) fields: Vec<(usize, usize, usize)>,
    /// An unsorted object's fields while they are written back in order.
    pub(super) reorder: Vec<u8>,
}

impl Scratch {
    /// Writes an object's fields (`fields[base..]`, written to `out` from `start` on) again,
    /// in the order `fields[base..]` now has.
    pub(super) fn rewrite_in_order(&mut self, out: &mut Vec<u8>, start: usize, base: usize) {
        let Scratch { fields, reorder } = self;
        reorder.clear();
        reorder.extend_from_slice(&out[start..]);
        out.truncate(start);
        for (n, &(field, _, end)) in fields[base..].iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&reorder[field - start..end - start]);
        }
    }
}
