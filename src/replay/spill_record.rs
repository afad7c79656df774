//! How a spilled sample is laid out in the spill file ([`super::spill`]): its fields in
//! declaration order, fixed-width little-endian numbers (an `f64` as its 8 bytes, so every
//! value, NaN payloads included, comes back bit for bit), a tag byte before each `Option`,
//! a `u32` length before each string and gap list. No field names, no framing: the spill
//! keeps each record's length beside it.
//!
//! Why not JSON: serde_json cost ≈ 2.4 µs to write and ≈ 2.7 µs to read back a
//! 64-gap request, on the one task that collects a run's samples (`perf record`, 2026-12-03),
//! and a big run's sessions are read back once per session figure. This encoding is a
//! copy of the fields. The file is private to the run and read by the same binary that
//! wrote it, so its layout may change with any commit.
//!
//! Each encoder destructures its struct without `..` and each decoder builds it field by
//! field, so a field added to [`RequestSample`] or [`SessionSample`] is a compile error
//! here until it is spilled too. [`RequestSample::answer_text`] is the one field left out,
//! as the run JSON leaves it out (`#[serde(skip)]`): a spilled run keeps the answers of
//! tasks with answer checks beside its rows; read back, it is `None`.

use anyhow::{anyhow, bail, Result};

use super::results::{RequestSample, SessionSample};
use super::server_metrics::timings::ServerTimings;

/// A record of a spill file.
pub(crate) trait SpillRecord: Sized {
    /// Appends the record's bytes to `out`.
    fn encode(&self, out: &mut Vec<u8>);
    /// The record of exactly `bytes` (an error if they are cut short, malformed, or longer).
    fn decode(bytes: &[u8]) -> Result<Self>;
}

/// The bytes of a record not read yet.
struct Input<'a> {
    bytes: &'a [u8],
}

impl<'a> Input<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.bytes.len() {
            bail!("cut short: {n} bytes wanted, {} left", self.bytes.len());
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn done(&self) -> Result<()> {
        match self.bytes.len() {
            0 => Ok(()),
            n => Err(anyhow!("{n} bytes left over after the last field")),
        }
    }
}

/// A value's bytes in a record.
trait Field: Sized {
    fn put(&self, out: &mut Vec<u8>);
    fn get(input: &mut Input<'_>) -> Result<Self>;
}

macro_rules! le_field {
    ($($t:ty),*) => {$(
        impl Field for $t {
            fn put(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn get(input: &mut Input<'_>) -> Result<Self> {
                Ok(<$t>::from_le_bytes(input.array()?))
            }
        }
    )*};
}
le_field!(u16, u32, u64, f64);

impl Field for usize {
    fn put(&self, out: &mut Vec<u8>) {
        (*self as u64).put(out);
    }
    fn get(input: &mut Input<'_>) -> Result<Self> {
        let n = u64::get(input)?;
        usize::try_from(n).map_err(|_| anyhow!("a count of {n} does not fit this machine"))
    }
}

impl Field for bool {
    fn put(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
    fn get(input: &mut Input<'_>) -> Result<Self> {
        match input.array::<1>()?[0] {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(anyhow!("{b} is not a boolean")),
        }
    }
}

/// A length before a string or a list (no sample has 4 G of either: the spill refuses a
/// record over 4 GB).
fn put_len(n: usize, out: &mut Vec<u8>) {
    (n.min(u32::MAX as usize) as u32).put(out);
}

impl Field for String {
    fn put(&self, out: &mut Vec<u8>) {
        put_len(self.len(), out);
        out.extend_from_slice(self.as_bytes());
    }
    fn get(input: &mut Input<'_>) -> Result<Self> {
        let n = u32::get(input)? as usize;
        let bytes = input.take(n)?;
        Ok(std::str::from_utf8(bytes).map_err(|e| anyhow!("a string that is not UTF-8: {e}"))?.to_owned())
    }
}

impl Field for Vec<f64> {
    fn put(&self, out: &mut Vec<u8>) {
        put_len(self.len(), out);
        out.reserve(8 * self.len());
        for v in self {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    fn get(input: &mut Input<'_>) -> Result<Self> {
        let n = u32::get(input)? as usize;
        // Checked before anything is allocated: a corrupt length cannot ask for more memory
        // than the record has bytes.
        let bytes = input.take(n.checked_mul(8).ok_or_else(|| anyhow!("a list of {n} values"))?)?;
        Ok(bytes
            .chunks_exact(8)
            .map(|c| {
                let mut a = [0u8; 8];
                a.copy_from_slice(c);
                f64::from_le_bytes(a)
            })
            .collect())
    }
}

impl<T: Field> Field for Option<T> {
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                v.put(out);
            }
        }
    }
    fn get(input: &mut Input<'_>) -> Result<Self> {
        match bool::get(input).map_err(|_| anyhow!("a bad option tag"))? {
            false => Ok(None),
            true => T::get(input).map(Some),
        }
    }
}

impl Field for ServerTimings {
    fn put(&self, out: &mut Vec<u8>) {
        let ServerTimings {
            cache_n,
            prompt_n,
            prompt_ms,
            prompt_per_token_ms,
            predicted_n,
            predicted_ms,
            predicted_per_token_ms,
            predicted_per_second,
        } = self;
        cache_n.put(out);
        prompt_n.put(out);
        prompt_ms.put(out);
        prompt_per_token_ms.put(out);
        predicted_n.put(out);
        predicted_ms.put(out);
        predicted_per_token_ms.put(out);
        predicted_per_second.put(out);
    }
    fn get(input: &mut Input<'_>) -> Result<Self> {
        // Fields are evaluated in the order written: the order `put` wrote them.
        Ok(ServerTimings {
            cache_n: Field::get(input)?,
            prompt_n: Field::get(input)?,
            prompt_ms: Field::get(input)?,
            prompt_per_token_ms: Field::get(input)?,
            predicted_n: Field::get(input)?,
            predicted_ms: Field::get(input)?,
            predicted_per_token_ms: Field::get(input)?,
            predicted_per_second: Field::get(input)?,
        })
    }
}

impl SpillRecord for RequestSample {
    fn encode(&self, out: &mut Vec<u8>) {
        let RequestSample {
            task_id,
            execution,
            turn,
            seq,
            thread,
            slot,
            session,
            scheduled_ms,
            first_send_ms,
            lag_ms,
            start_ms,
            attempts,
            connect_ms,
            resent,
            frames,
            kernel_timed_frames,
            status,
            request_id,
            ttft_ms,
            e2e_ms,
            ttft_from_due_ms,
            e2e_from_due_ms,
            in_window,
            total_ms,
            itl_ms,
            content_events,
            events,
            prompt_tokens,
            cached_tokens,
            expected_cached_tokens,
            server_timings,
            completion_tokens,
            completion_source,
            context_tokens_estimate,
            bucket,
            tpot_ms,
            decode_tok_per_s,
            asb_decode_tok_per_s,
            prefill_tok_per_s,
            prefill_total_tok_per_s,
            stop_reason,
            error,
            ok,
            answer_text: _,
        } = self;
        task_id.put(out);
        execution.put(out);
        turn.put(out);
        seq.put(out);
        thread.put(out);
        slot.put(out);
        session.put(out);
        scheduled_ms.put(out);
        first_send_ms.put(out);
        lag_ms.put(out);
        start_ms.put(out);
        attempts.put(out);
        connect_ms.put(out);
        resent.put(out);
        frames.put(out);
        kernel_timed_frames.put(out);
        status.put(out);
        request_id.put(out);
        ttft_ms.put(out);
        e2e_ms.put(out);
        ttft_from_due_ms.put(out);
        e2e_from_due_ms.put(out);
        in_window.put(out);
        total_ms.put(out);
        itl_ms.put(out);
        content_events.put(out);
        events.put(out);
        prompt_tokens.put(out);
        cached_tokens.put(out);
        expected_cached_tokens.put(out);
        server_timings.put(out);
        completion_tokens.put(out);
        completion_source.put(out);
        context_tokens_estimate.put(out);
        bucket.put(out);
        tpot_ms.put(out);
        decode_tok_per_s.put(out);
        asb_decode_tok_per_s.put(out);
        prefill_tok_per_s.put(out);
        prefill_total_tok_per_s.put(out);
        stop_reason.put(out);
        error.put(out);
        ok.put(out);
    }

    fn decode(bytes: &[u8]) -> Result<Self> {
        let input = &mut Input { bytes };
        // Fields are evaluated in the order written: the order `encode` wrote them.
        let sample = RequestSample {
            task_id: Field::get(input)?,
            execution: Field::get(input)?,
            turn: Field::get(input)?,
            seq: Field::get(input)?,
            thread: Field::get(input)?,
            slot: Field::get(input)?,
            session: Field::get(input)?,
            scheduled_ms: Field::get(input)?,
            first_send_ms: Field::get(input)?,
            lag_ms: Field::get(input)?,
            start_ms: Field::get(input)?,
            attempts: Field::get(input)?,
            connect_ms: Field::get(input)?,
            resent: Field::get(input)?,
            frames: Field::get(input)?,
            kernel_timed_frames: Field::get(input)?,
            status: Field::get(input)?,
            request_id: Field::get(input)?,
            ttft_ms: Field::get(input)?,
            e2e_ms: Field::get(input)?,
            ttft_from_due_ms: Field::get(input)?,
            e2e_from_due_ms: Field::get(input)?,
            in_window: Field::get(input)?,
            total_ms: Field::get(input)?,
            itl_ms: Field::get(input)?,
            content_events: Field::get(input)?,
            events: Field::get(input)?,
            prompt_tokens: Field::get(input)?,
            cached_tokens: Field::get(input)?,
            expected_cached_tokens: Field::get(input)?,
            server_timings: Field::get(input)?,
            completion_tokens: Field::get(input)?,
            completion_source: Field::get(input)?,
            context_tokens_estimate: Field::get(input)?,
            bucket: Field::get(input)?,
            tpot_ms: Field::get(input)?,
            decode_tok_per_s: Field::get(input)?,
            asb_decode_tok_per_s: Field::get(input)?,
            prefill_tok_per_s: Field::get(input)?,
            prefill_total_tok_per_s: Field::get(input)?,
            stop_reason: Field::get(input)?,
            error: Field::get(input)?,
            ok: Field::get(input)?,
            answer_text: None,
        };
        input.done()?;
        Ok(sample)
    }
}

impl SpillRecord for SessionSample {
    fn encode(&self, out: &mut Vec<u8>) {
        let SessionSample {
            session,
            task_id,
            execution,
            slot,
            due_ms,
            start_ms,
            end_ms,
            calls,
            sent,
            failed,
            completed,
            think_scheduled_ms,
            think_measured_ms,
            prompt_tokens,
            cached_tokens,
            cache_hit_rate,
        } = self;
        session.put(out);
        task_id.put(out);
        execution.put(out);
        slot.put(out);
        due_ms.put(out);
        start_ms.put(out);
        end_ms.put(out);
        calls.put(out);
        sent.put(out);
        failed.put(out);
        completed.put(out);
        think_scheduled_ms.put(out);
        think_measured_ms.put(out);
        prompt_tokens.put(out);
        cached_tokens.put(out);
        cache_hit_rate.put(out);
    }

    fn decode(bytes: &[u8]) -> Result<Self> {
        let input = &mut Input { bytes };
        let session = SessionSample {
            session: Field::get(input)?,
            task_id: Field::get(input)?,
            execution: Field::get(input)?,
            slot: Field::get(input)?,
            due_ms: Field::get(input)?,
            start_ms: Field::get(input)?,
            end_ms: Field::get(input)?,
            calls: Field::get(input)?,
            sent: Field::get(input)?,
            failed: Field::get(input)?,
            completed: Field::get(input)?,
            think_scheduled_ms: Field::get(input)?,
            think_measured_ms: Field::get(input)?,
            prompt_tokens: Field::get(input)?,
            cached_tokens: Field::get(input)?,
            cache_hit_rate: Field::get(input)?,
        };
        input.done()?;
        Ok(session)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field set, each to a value no other field of its type has, so a field written
    /// in one place and read in another cannot pass.
    fn full_sample() -> RequestSample {
        RequestSample {
            task_id: "tâche-日本".into(),
            execution: 3,
            turn: 7,
            seq: 11,
            thread: Some("sub-agent ✓".into()),
            slot: 13,
            session: 17,
            scheduled_ms: 0.1 + 0.2,
            first_send_ms: Some(19.5),
            lag_ms: Some(-0.0),
            start_ms: 23.25,
            attempts: 29,
            connect_ms: 31.125,
            resent: 37,
            frames: 41,
            kernel_timed_frames: 43,
            status: Some(503),
            request_id: Some("req-47".into()),
            ttft_ms: Some(f64::MIN_POSITIVE),
            e2e_ms: Some(53.0),
            ttft_from_due_ms: Some(59.0),
            e2e_from_due_ms: Some(61.0),
            in_window: false,
            total_ms: Some(f64::MAX),
            itl_ms: vec![1.5, f64::NAN, f64::INFINITY, -0.0, 5e-324],
            content_events: 67,
            events: 71,
            prompt_tokens: Some(73),
            cached_tokens: Some(0),
            expected_cached_tokens: Some(79),
            server_timings: Some(ServerTimings {
                cache_n: Some(83),
                prompt_n: None,
                prompt_ms: Some(89.5),
                prompt_per_token_ms: None,
                predicted_n: Some(97),
                predicted_ms: Some(101.5),
                predicted_per_token_ms: Some(103.5),
                predicted_per_second: None,
            }),
            completion_tokens: 107,
            completion_source: "usage".into(),
            context_tokens_estimate: 109,
            bucket: "medium".into(),
            tpot_ms: Some(113.0),
            decode_tok_per_s: Some(127.0),
            asb_decode_tok_per_s: None,
            prefill_tok_per_s: Some(131.0),
            prefill_total_tok_per_s: Some(137.0),
            stop_reason: Some("length".into()),
            error: Some("HTTP 503: «overloaded» \"quoted\"\n".into()),
            ok: true,
            answer_text: None,
        }
    }

    fn round_trip<T: SpillRecord>(value: &T) -> T {
        let mut bytes = Vec::new();
        value.encode(&mut bytes);
        T::decode(&bytes).unwrap()
    }

    /// The sample's JSON (`float_roundtrip`: a finite `f64` is written so that it reads back
    /// to the same bits, `-0.0` included; NaN and infinities are written as null, so the
    /// gap list is also compared by bits).
    fn json<T: serde::Serialize>(value: &T) -> String {
        serde_json::to_string(value).unwrap()
    }

    #[test]
    fn a_request_with_every_field_set_comes_back_bit_for_bit() {
        let full = full_sample();
        let back = round_trip(&full);
        assert_eq!(json(&back), json(&full));
        let gap_bits = |s: &RequestSample| s.itl_ms.iter().map(|g| g.to_bits()).collect::<Vec<_>>();
        assert_eq!(gap_bits(&back), gap_bits(&full), "NaN, infinity, -0 and subnormal gaps kept");
        assert_eq!(back.lag_ms.map(f64::to_bits), Some((-0.0f64).to_bits()));
        assert_eq!(back.total_ms, Some(f64::MAX));
        assert_eq!(back.server_timings, full.server_timings);

        let bare = RequestSample::default();
        assert_eq!(json(&round_trip(&bare)), json(&bare), "every option None, empty strings and gaps");
        let mut answered = full_sample();
        answered.answer_text = Some("kept beside the rows, not spilled".into());
        assert_eq!(round_trip(&answered).answer_text, None, "as the run JSON leaves it out");
    }

    #[test]
    fn a_session_with_every_field_set_comes_back_bit_for_bit() {
        let full = SessionSample {
            session: 2,
            task_id: "séance-3".into(),
            execution: 5,
            slot: 7,
            due_ms: 11.5,
            start_ms: Some(13.5),
            end_ms: None,
            calls: 17,
            sent: 19,
            failed: 23,
            completed: true,
            think_scheduled_ms: 29.5,
            think_measured_ms: 31.5,
            prompt_tokens: 37,
            cached_tokens: 41,
            cache_hit_rate: Some(1.0 / 3.0),
        };
        assert_eq!(json(&round_trip(&full)), json(&full));
        let bare = SessionSample::default();
        assert_eq!(json(&round_trip(&bare)), json(&bare));
    }

    #[test]
    fn a_cut_short_padded_or_garbled_record_is_an_error_not_a_sample() {
        let mut bytes = Vec::new();
        full_sample().encode(&mut bytes);
        for cut in [0, 1, 4, bytes.len() / 2, bytes.len() - 1] {
            let e = RequestSample::decode(&bytes[..cut]).unwrap_err();
            assert!(format!("{e:#}").contains("cut short"), "{cut}: {e:#}");
        }
        let mut padded = bytes.clone();
        padded.push(0);
        assert!(format!("{:#}", RequestSample::decode(&padded).unwrap_err()).contains("1 bytes left over"));
        // A gap list's length far past the record: refused before any allocation.
        let mut huge = Vec::new();
        put_len(u32::MAX as usize, &mut huge);
        assert!(Vec::<f64>::get(&mut Input { bytes: &huge }).is_err());
        // A task id that is not UTF-8.
        let mut garbled = bytes.clone();
        garbled[4] = 0xff;
        assert!(format!("{:#}", RequestSample::decode(&garbled).unwrap_err()).contains("not UTF-8"));
    }
}
