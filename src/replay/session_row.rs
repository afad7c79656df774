//! What the session figures read from one session ([`SessionFigures`]), and a compact row
//! of it ([`SessionRow`], 64 bytes instead of a [`SessionSample`]'s ≈ 170 with its task id).
//! The full sessions of a big run are spilled beside its requests
//! ([`super::sample_store`]) and not held: the figures read them back a pass at a time,
//! as rows (a million one-call sessions' rows held were 64 MB, a quarter of the run's peak).

use super::results::SessionSample;

/// What `load::session_stats`, the window and the SLO's session goodput read.
pub(crate) trait SessionFigures {
    fn session(&self) -> u64;
    fn due_ms(&self) -> f64;
    fn start_ms(&self) -> Option<f64>;
    fn end_ms(&self) -> Option<f64>;
    fn sent(&self) -> usize;
    fn completed(&self) -> bool;
    fn think_scheduled_ms(&self) -> f64;
    fn think_measured_ms(&self) -> f64;
    fn cache_hit_rate(&self) -> Option<f64>;
}

impl SessionFigures for SessionSample {
    fn session(&self) -> u64 {
        self.session
    }
    fn due_ms(&self) -> f64 {
        self.due_ms
    }
    fn start_ms(&self) -> Option<f64> {
        self.start_ms
    }
    fn end_ms(&self) -> Option<f64> {
        self.end_ms
    }
    fn sent(&self) -> usize {
        self.sent
    }
    fn completed(&self) -> bool {
        self.completed
    }
    fn think_scheduled_ms(&self) -> f64 {
        self.think_scheduled_ms
    }
    fn think_measured_ms(&self) -> f64 {
        self.think_measured_ms
    }
    fn cache_hit_rate(&self) -> Option<f64> {
        self.cache_hit_rate
    }
}

impl<T: SessionFigures + ?Sized> SessionFigures for &T {
    fn session(&self) -> u64 {
        (**self).session()
    }
    fn due_ms(&self) -> f64 {
        (**self).due_ms()
    }
    fn start_ms(&self) -> Option<f64> {
        (**self).start_ms()
    }
    fn end_ms(&self) -> Option<f64> {
        (**self).end_ms()
    }
    fn sent(&self) -> usize {
        (**self).sent()
    }
    fn completed(&self) -> bool {
        (**self).completed()
    }
    fn think_scheduled_ms(&self) -> f64 {
        (**self).think_scheduled_ms()
    }
    fn think_measured_ms(&self) -> f64 {
        (**self).think_measured_ms()
    }
    fn cache_hit_rate(&self) -> Option<f64> {
        (**self).cache_hit_rate()
    }
}

fn opt(v: f64) -> Option<f64> {
    (!v.is_nan()).then_some(v)
}

/// One session, as its figures need it (`None` as NaN).
#[derive(Debug, Clone, Default)]
pub(crate) struct SessionRow {
    due_ms: f64,
    start_ms: f64,
    end_ms: f64,
    think_scheduled_ms: f64,
    think_measured_ms: f64,
    cache_hit_rate: f64,
    session: u64,
    sent: u32,
    completed: bool,
}

impl SessionRow {
    pub(crate) fn of(s: &SessionSample) -> SessionRow {
        SessionRow {
            due_ms: s.due_ms,
            start_ms: s.start_ms.unwrap_or(f64::NAN),
            end_ms: s.end_ms.unwrap_or(f64::NAN),
            think_scheduled_ms: s.think_scheduled_ms,
            think_measured_ms: s.think_measured_ms,
            cache_hit_rate: s.cache_hit_rate.unwrap_or(f64::NAN),
            session: s.session,
            sent: s.sent.min(u32::MAX as usize) as u32,
            completed: s.completed,
        }
    }
}

/// Bytes of a session row in a run JSON's columns ([`SessionRow::encode`]).
pub(crate) const ENCODED_LEN: usize = 6 * 8 + 8 + 4 + 1;

/// A session row as its run JSON's columns hold it ([`super::run_columns`]).
impl SessionRow {
    /// Little-endian, [`ENCODED_LEN`] bytes.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        for v in [
            self.due_ms,
            self.start_ms,
            self.end_ms,
            self.think_scheduled_ms,
            self.think_measured_ms,
            self.cache_hit_rate,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&self.session.to_le_bytes());
        out.extend_from_slice(&self.sent.to_le_bytes());
        out.push(u8::from(self.completed));
    }

    pub(crate) fn decode(b: &[u8; ENCODED_LEN]) -> SessionRow {
        let f = |i: usize| f64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        SessionRow {
            due_ms: f(0),
            start_ms: f(1),
            end_ms: f(2),
            think_scheduled_ms: f(3),
            think_measured_ms: f(4),
            cache_hit_rate: f(5),
            session: u64::from_le_bytes(b[48..56].try_into().expect("8 bytes")),
            sent: u32::from_le_bytes(b[56..60].try_into().expect("4 bytes")),
            completed: b[60] != 0,
        }
    }

    /// Moves the session's times by `by_ms` (a shard placed on a merged run's time axis).
    pub(crate) fn shift(&mut self, by_ms: f64) {
        self.due_ms += by_ms;
        self.start_ms += by_ms;
        self.end_ms += by_ms;
    }
}

impl SessionFigures for SessionRow {
    fn session(&self) -> u64 {
        self.session
    }
    fn due_ms(&self) -> f64 {
        self.due_ms
    }
    fn start_ms(&self) -> Option<f64> {
        opt(self.start_ms)
    }
    fn end_ms(&self) -> Option<f64> {
        opt(self.end_ms)
    }
    fn sent(&self) -> usize {
        self.sent as usize
    }
    fn completed(&self) -> bool {
        self.completed
    }
    fn think_scheduled_ms(&self) -> f64 {
        self.think_scheduled_ms
    }
    fn think_measured_ms(&self) -> f64 {
        self.think_measured_ms
    }
    fn cache_hit_rate(&self) -> Option<f64> {
        opt(self.cache_hit_rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_answers_as_its_session() {
        let s = SessionSample {
            session: 9,
            task_id: "t".into(),
            due_ms: 1.25,
            start_ms: Some(1.5),
            end_ms: None,
            sent: 3,
            completed: true,
            think_scheduled_ms: 10.0,
            think_measured_ms: 10.5,
            cache_hit_rate: Some(0.5),
            ..Default::default()
        };
        let r = SessionRow::of(&s);
        assert_eq!((r.session(), r.due_ms(), r.start_ms(), r.end_ms()), (9, 1.25, Some(1.5), None));
        assert_eq!((r.sent(), r.completed(), r.think_measured_ms(), r.cache_hit_rate()), (3, true, 10.5, Some(0.5)));
        assert_eq!(std::mem::size_of::<SessionRow>(), 64);
        let mut bytes = Vec::new();
        r.encode(&mut bytes);
        let mut back = SessionRow::decode(bytes.as_slice().try_into().unwrap());
        assert_eq!(format!("{back:?}"), format!("{r:?}"));
        back.shift(1000.0);
        assert_eq!((back.due_ms(), back.start_ms(), back.end_ms()), (1001.25, Some(1001.5), None));
    }
}
