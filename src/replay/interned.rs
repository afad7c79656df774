//! Short repeated strings of a big run's samples (task ids, thread ids, error messages)
//! stored once, so a compact per-request row ([`super::sample_row::SampleRow`]) holds a
//! 4-byte id instead of a 24-byte `String` and its heap block.
//!
//! The table lives for the process (a CLI run, or `asb capacity`'s steps), so an id
//! resolves to a `&'static str` without a lock held by the caller. It is bounded: after
//! [`MAX_NAMES`] distinct strings every new one maps to one shared overflow name, so a
//! server that puts a request id in every error message cannot grow it without limit.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// Distinct strings kept; beyond them [`OVERFLOW`] stands for any new one.
pub(crate) const MAX_NAMES: usize = 65_536;
pub(crate) const OVERFLOW: &str = "(one of more than 65,536 distinct values: see the run JSON's requests)";

#[derive(Default)]
struct Table {
    ids: HashMap<&'static str, u32>,
    names: Vec<&'static str>,
}

fn table() -> &'static Mutex<Table> {
    static TABLE: OnceLock<Mutex<Table>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Table::default();
        t.names.push(OVERFLOW);
        t.ids.insert(OVERFLOW, 0);
        Mutex::new(t)
    })
}

/// The id of `text` (the same id for the same text, process-wide).
pub(crate) fn intern(text: &str) -> u32 {
    let mut t = table().lock().unwrap_or_else(|p| p.into_inner());
    if let Some(&id) = t.ids.get(text) {
        return id;
    }
    if t.names.len() >= MAX_NAMES {
        return 0;
    }
    let name: &'static str = Box::leak(text.to_owned().into_boxed_str());
    let id = t.names.len() as u32;
    t.names.push(name);
    t.ids.insert(name, id);
    id
}

/// The text of an id from [`intern`].
pub(crate) fn name(id: u32) -> &'static str {
    let t = table().lock().unwrap_or_else(|p| p.into_inner());
    t.names.get(id as usize).copied().unwrap_or(OVERFLOW)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_text_gets_the_same_id() {
        let a = intern("task-a");
        assert_eq!(intern("task-a"), a);
        assert_ne!(intern("task-b"), a);
        assert_eq!(name(a), "task-a");
        assert_eq!(name(u32::MAX), OVERFLOW);
    }
}
