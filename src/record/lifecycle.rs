//! One recorded call's life: begun with its capture, fed its answer's head and frames,
//! ended exactly once with a typed [`Ending`] — whichever path forwards it (the
//! hand-written passthrough, hyper's passthrough, translation) and however it ends.
//!
//! Why one guard: "a line for every call, exactly once" is the recorder's promise, and a
//! call can end in many places (its answer's last frame, an upstream error, the client's
//! hang-up, the proxy's own refusal, its task dropped at a stop). [`CallGuard`] is the one
//! owner of an open call: it moves with the answer (into the response body that streams
//! it) and ends the call when told, or when dropped unended. What each ending records is
//! [`super::ending`]'s table.

use std::sync::{Arc, MutexGuard};

use bytes::Bytes;
use http::HeaderMap;

use super::capture::{lock, CallCapture, CallHandle, Recorder};
use super::ending::Ending;

/// The one owner of an open call: ends it exactly once, and with [`Ending::Dropped`] if
/// dropped unended.
pub(crate) struct CallGuard {
    handle: CallHandle,
    recorder: Arc<Recorder>,
    ended: bool,
}

impl CallGuard {
    /// Starts recording a call.
    pub(crate) fn begin(recorder: &Arc<Recorder>, capture: CallCapture) -> Self {
        CallGuard { handle: recorder.begin(capture), recorder: Arc::clone(recorder), ended: false }
    }

    /// The call's capture, locked.
    pub(crate) fn capture(&self) -> MutexGuard<'_, CallCapture> {
        lock(&self.handle)
    }

    /// Records the head of the answer the client gets (now).
    pub(crate) fn note_client_head(&self, status: u16, headers: HeaderMap) {
        self.capture().note_client_head(status, headers);
    }

    /// Records a frame the client got (now).
    pub(crate) fn keep_client_frame(&self, frame: &Bytes) {
        self.capture().keep_client_frame_now(frame);
    }

    /// Records a frame the upstream sent (now), on a translated call's upstream side.
    pub(crate) fn keep_upstream_frame(&self, frame: &Bytes) {
        self.capture().keep_upstream_frame_now(frame);
    }

    /// Ends a call the proxy answered itself with `response` (an error of its own), which
    /// is recorded as what the client received.
    pub(crate) fn end_answered(&mut self, response: &http::Response<String>, ending: Ending) {
        self.capture().answered_by_proxy(response);
        self.end(ending);
    }

    /// Ends the call: only the first ending counts (a call the recorder interrupted
    /// meanwhile stays interrupted).
    pub(crate) fn end(&mut self, ending: Ending) {
        if !self.ended {
            self.ended = true;
            self.recorder.finish(&self.handle, ending);
        }
    }

    pub(crate) fn is_ended(&self) -> bool {
        self.ended
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.end(Ending::Dropped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::redact::Secrets;
    use crate::recording::writer::RecordingWriter;
    use serde_json::Value;
    use std::time::Instant;

    use super::super::capture::{new_capture, RawRequest};
    use super::super::ending::UpstreamError;
    use crate::wire::Api;

    /// A recorder writing to a temporary file, keeping `keep_limit` bytes of an answer.
    fn recorder(dir: &tempfile::TempDir, keep_limit: usize) -> Arc<Recorder> {
        let writer = RecordingWriter::open(&dir.path().join("r.jsonl"), Secrets::default()).unwrap();
        Arc::new(Recorder::new(writer, Secrets::default(), "e".into(), keep_limit, None))
    }

    fn call(recorder: &Arc<Recorder>) -> CallGuard {
        let request = RawRequest {
            method: "POST".into(),
            path: "/v1/chat/completions".into(),
            body: Bytes::from_static(br#"{"model":"m","messages":[]}"#),
            ..RawRequest::default()
        };
        CallGuard::begin(
            recorder,
            new_capture(recorder, Instant::now(), (Api::OpenAi, Api::OpenAi), "m".into(), request),
        )
    }

    /// The lines written, once the recorder is closed.
    fn lines(dir: &tempfile::TempDir, recorder: &Recorder) -> Vec<Value> {
        recorder.writer.close().unwrap();
        let text = std::fs::read_to_string(dir.path().join("r.jsonl")).unwrap();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    fn outcome_and_error(line: &Value) -> (&str, Option<&str>) {
        (line["outcome"].as_str().unwrap(), line["error"].as_str())
    }

    /// Ends one call with `ending` (after an answer head `status`) and returns its line.
    fn line_of(status: Option<u16>, ending: Ending) -> Value {
        let dir = tempfile::tempdir().unwrap();
        let recorder = recorder(&dir, 1 << 20);
        let mut guard = call(&recorder);
        if let Some(status) = status {
            guard.note_client_head(status, HeaderMap::new());
            guard.keep_client_frame(&Bytes::from_static(b"{}"));
        }
        guard.end(ending);
        drop(guard);
        let mut lines = lines(&dir, &recorder);
        assert_eq!(lines.len(), 1);
        lines.remove(0)
    }

    #[test]
    fn completed() {
        assert_eq!(outcome_and_error(&line_of(Some(200), Ending::Completed)), ("completed", None));
    }

    #[test]
    fn completed_with_an_error_status_is_an_upstream_error() {
        let line = line_of(Some(404), Ending::Completed);
        assert_eq!(line["outcome"], "upstream_error");
        assert!(line["error"].as_str().unwrap().starts_with("upstream returned HTTP 404"));
    }

    #[test]
    fn client_gone() {
        let line = line_of(Some(200), Ending::ClientGone);
        let expected = Some("the client closed the connection before the answer ended");
        assert_eq!(outcome_and_error(&line), ("client_disconnected", expected));
    }

    #[test]
    fn a_client_gone_after_its_stream_s_end_marker_had_the_whole_answer() {
        let gone_after = |frame: &'static [u8]| {
            let dir = tempfile::tempdir().unwrap();
            let recorder = recorder(&dir, 1 << 20);
            let mut guard = call(&recorder);
            let mut headers = HeaderMap::new();
            headers.insert("content-type", http::HeaderValue::from_static("text/event-stream"));
            guard.note_client_head(200, headers);
            guard.keep_client_frame(&Bytes::from_static(frame));
            guard.end(Ending::ClientGone);
            drop(guard);
            lines(&dir, &recorder).remove(0)
        };
        let done = gone_after(b"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n");
        assert_eq!(outcome_and_error(&done), ("completed", None));
        let midway = gone_after(b"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n");
        assert_eq!(outcome_and_error(&midway).0, "client_disconnected");
    }

    #[test]
    fn upstream_errors_by_kind() {
        let cases = [
            (
                UpstreamError::Unreachable { url: "http://h/v1".into(), why: "refused".into() },
                "upstream_unreachable",
                "upstream http://h/v1 unreachable: refused",
            ),
            (
                UpstreamError::Silent { url: "http://h/v1".into(), secs: 7 },
                "upstream_unreachable",
                "upstream http://h/v1 sent no answer within 7 s",
            ),
            (UpstreamError::Cut("reset".into()), "upstream_cut", "the upstream's answer broke off: reset"),
            (
                UpstreamError::Reported("overloaded".into()),
                "upstream_cut",
                "the upstream reported an error mid-stream: overloaded",
            ),
            (
                UpstreamError::TooLong { limit_mib: 3 },
                "upstream_cut",
                "the upstream's answer is longer than 3 MiB, more than the recorder holds to translate \
                 (--max-response-mib)",
            ),
        ];
        for (error, outcome, message) in cases {
            assert_eq!(error.status(), 502);
            let line = line_of(None, Ending::Upstream(error));
            assert_eq!(outcome_and_error(&line), (outcome, Some(message)));
        }
    }

    #[test]
    fn proxy_rejected() {
        let line = line_of(Some(413), Ending::Rejected("too big".into()));
        assert_eq!(outcome_and_error(&line), ("proxy_rejected", Some("too big")));
    }

    #[test]
    fn truncated_is_a_completed_call_whose_answer_overflowed() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = recorder(&dir, 4);
        let mut guard = call(&recorder);
        guard.note_client_head(200, HeaderMap::new());
        guard.keep_client_frame(&Bytes::from_static(b"{\"a\""));
        guard.keep_client_frame(&Bytes::from_static(b":1}"));
        guard.end(Ending::Completed);
        drop(guard);
        let lines = lines(&dir, &recorder);
        assert_eq!(lines[0]["outcome"], "truncated");
        assert!(lines[0]["error"].as_str().unwrap().contains("3 more bytes reached the client unrecorded"));
    }

    #[test]
    fn dropped_without_an_ending_is_still_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = recorder(&dir, 1 << 20);
        drop(call(&recorder));
        assert_eq!(recorder.in_flight(), 0);
        let lines = lines(&dir, &recorder);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["outcome"], "interrupted");
        assert!(lines[0]["error"].as_str().unwrap().starts_with("the call was dropped before it ended"));
    }

    #[test]
    fn only_the_first_ending_counts() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = recorder(&dir, 1 << 20);
        let mut guard = call(&recorder);
        guard.end(Ending::ClientGone);
        guard.end(Ending::Completed);
        assert!(guard.is_ended());
        drop(guard);
        // A call the recorder interrupted (it is stopping) stays interrupted.
        let mut guard = call(&recorder);
        recorder.interrupt_all();
        guard.end(Ending::Completed);
        drop(guard);
        let lines = lines(&dir, &recorder);
        let outcomes: Vec<_> = lines.iter().map(outcome_and_error).collect();
        assert_eq!(
            outcomes,
            [
                ("client_disconnected", Some("the client closed the connection before the answer ended")),
                ("interrupted", Some("the recorder was stopped while this call was in flight")),
            ]
        );
    }
}
