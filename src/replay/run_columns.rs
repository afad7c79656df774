//! A run's samples once more, as columns, in its run JSON just before `requests`: what the
//! figures are computed from ([`SampleRow`]s, [`SessionRow`]s, the ITL histograms) as
//! little-endian bytes in base64, and a few hundred whole samples for the plots.
//!
//! Why: merging shards means reading every shard's samples, and JSON rows are slow to
//! parse — 16 shards × 100,000 requests are 2.1 GB of rows, 7.7 s to merge into a report
//! with every core parsing. The columns are 78 bytes a request (104 in base64, +8 % on
//! the file), and the merge reads a file only up to its `requests` (`asb report` of
//! several shards; [`super::report::shard_file`]). Nothing is rounded: a row decoded is
//! the row the shard concluded from, bit for bit, so the merged figures are the ones the
//! rows give, as before.
//!
//! Layout (`version` 1): `rows` and `session_rows` are arrays of base64 strings, each
//! [`CHUNK_ROWS`] rows of [`ROW_LEN`] / [`SESSION_LEN`] bytes (the last one shorter);
//! `gap_counts` (u32 per row) and `gaps_ms` (f64s, in row order), chunked the same way, are
//! there when the rows hold their raw inter-token gaps; `rare` lists the rows
//! with llama.cpp timings or derived figures held as they were; `itl` is one HDR histogram
//! per context bucket of the window's successful requests' gaps; `names` maps the rows'
//! interned ids (task, thread, error) to their text.

use anyhow::{anyhow, bail, Result};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::ser::{Error as _, SerializeMap, SerializeSeq};
use serde::{Deserialize, Serialize, Serializer};

use super::itl_histogram::{ItlHistogram, SavedHistogram};
use super::measure::BUCKETS;
use super::results::{RequestSample, Requests, RunResults, SessionList};
use super::sample_row::{Sample, SampleRow, ENCODED_LEN as ROW_LEN};
use super::server_metrics::timings::ServerTimings;
use super::session_row::{SessionRow, ENCODED_LEN as SESSION_LEN};

/// The columns' layout version; a file with another is read whole instead.
pub(crate) const VERSION: u32 = 1;
/// Rows per base64 string: 426 KB of text for requests, small enough to hold twice.
pub(crate) const CHUNK_ROWS: usize = 4096;
/// Whole samples for the plots, over all shards together (each shard keeps its share).
const SHOWN: usize = 2_000;

/// The columns of a run, as they are written: borrowed from its results.
pub(crate) struct ColumnsOf<'a> {
    pub requests: &'a Requests,
    pub sessions: &'a SessionList,
    /// Shards of the run (1 unsharded): each keeps `SHOWN / shards` plot samples.
    pub shards: u32,
}

/// A column written as it is read from its source: a base64 string per [`CHUNK_ROWS`]
/// items, each item encoded by the function.
struct Chunks<I, E>(std::cell::RefCell<Option<(I, E)>>);

impl<I, E> Chunks<I, E> {
    fn new(items: I, encode: E) -> Self {
        Chunks(std::cell::RefCell::new(Some((items, encode))))
    }
}

impl<T, I: Iterator<Item = T>, E: FnMut(&T, &mut Vec<u8>)> Serialize for Chunks<I, E> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (items, mut encode) =
            self.0.borrow_mut().take().ok_or_else(|| S::Error::custom("a column written twice"))?;
        let mut seq = serializer.serialize_seq(None)?;
        let mut bytes = Vec::new();
        let mut in_chunk = 0;
        for item in items {
            encode(&item, &mut bytes);
            in_chunk += 1;
            if in_chunk == CHUNK_ROWS {
                seq.serialize_element(&BASE64.encode(&bytes))?;
                (bytes, in_chunk) = (Vec::new(), 0);
            }
        }
        if in_chunk > 0 {
            seq.serialize_element(&BASE64.encode(&bytes))?;
        }
        seq.end()
    }
}

/// A row with llama.cpp timings or held derived figures.
#[derive(Debug, Serialize, Deserialize)]
struct Rare {
    row: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    server_timings: Option<ServerTimings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    derived: Option<[Option<f64>; 8]>,
}

impl Serialize for ColumnsOf<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // A held run's rows are made here (a held run is small: 2,000 requests by default).
        let made: Vec<SampleRow>;
        let (rows, shown, itl): (&[SampleRow], Vec<RequestSample>, Vec<SavedHistogram>) = match self.requests.rows() {
            Some(held) => {
                let itl = if held.gaps_dropped {
                    held.itl.iter().map(SavedHistogram::from).collect()
                } else {
                    window_histograms(held.rows)
                };
                (held.rows, thinned(self.requests.iter(), self.shards), itl)
            }
            None => {
                made = self.requests.iter().map(|s| SampleRow::of(s, true)).collect();
                let itl = window_histograms(&made);
                (&made, thinned(self.requests.iter(), self.shards), itl)
            }
        };
        let gaps_held = self.requests.rows().is_none_or(|r| !r.gaps_dropped);
        let rare: Vec<Rare> = rows
            .iter()
            .enumerate()
            .filter_map(|(row, r)| {
                let (timings, derived) = r.rare_parts();
                (timings.is_some() || derived.is_some()).then(|| Rare {
                    row,
                    server_timings: timings.cloned(),
                    derived,
                })
            })
            .collect();
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("version", &VERSION)?;
        map.serialize_entry("requests", &rows.len())?;
        map.serialize_entry("rows", &Chunks::new(rows.iter(), |r: &&SampleRow, b: &mut Vec<u8>| r.encode(b)))?;
        if gaps_held {
            let count = |r: &&SampleRow, b: &mut Vec<u8>| b.extend_from_slice(&(r.itl_ms().len() as u32).to_le_bytes());
            map.serialize_entry("gap_counts", &Chunks::new(rows.iter(), count))?;
            let gap = |g: &f64, b: &mut Vec<u8>| b.extend_from_slice(&g.to_le_bytes());
            map.serialize_entry("gaps_ms", &Chunks::new(rows.iter().flat_map(|r| r.itl_ms().iter().copied()), gap))?;
        }
        map.serialize_entry("rare", &rare)?;
        map.serialize_entry("itl", &itl)?;
        let session = |r: &SessionRow, b: &mut Vec<u8>| r.encode(b);
        match self.sessions.rows() {
            Some(rows) => {
                map.serialize_entry("sessions", &self.sessions.total())?;
                map.serialize_entry("session_rows", &Chunks::new(rows, session))?;
                self.sessions.check().map_err(|e| S::Error::custom(format!("{e:#}")))?;
            }
            None => {
                map.serialize_entry("sessions", &self.sessions.len())?;
                map.serialize_entry("session_rows", &Chunks::new(self.sessions.iter().map(SessionRow::of), session))?;
            }
        }
        map.serialize_entry("shown", &shown)?;
        // Last: every id the rows use is interned by now (a held run's rows were made above).
        let max_id = rows.iter().flat_map(|r| r.name_ids()).max().unwrap_or(0);
        let names: Vec<&str> = (0..=u32::from(max_id)).map(super::interned::name).collect();
        map.serialize_entry("names", &names)?;
        map.end()
    }
}

/// Per bucket, the gaps of the successful requests in the window, from rows that hold them.
fn window_itl(rows: &[SampleRow]) -> Vec<ItlHistogram> {
    let mut itl: Vec<ItlHistogram> = BUCKETS.iter().map(|_| ItlHistogram::default()).collect();
    for r in rows.iter().filter(|r| r.ok() && r.in_window()) {
        let h = &mut itl[r.bucket_index()];
        r.itl_ms().iter().for_each(|&g| h.record(g));
    }
    itl
}

fn window_histograms(rows: &[SampleRow]) -> Vec<SavedHistogram> {
    window_itl(rows).iter().map(SavedHistogram::from).collect()
}

/// At most `SHOWN / shards` of `samples`, evenly spaced, without their gaps.
fn thinned<'a>(samples: impl ExactSizeIterator<Item = &'a RequestSample>, shards: u32) -> Vec<RequestSample> {
    let keep = (SHOWN / shards.max(1) as usize).max(1);
    let stride = samples.len().div_ceil(keep).max(1);
    samples.step_by(stride).map(|s| RequestSample { itl_ms: Vec::new(), ..s.clone() }).collect()
}

impl Decoded {
    /// What the columns of `run` (read whole: a file without columns) would have held.
    pub(crate) fn of_run(run: &RunResults) -> Decoded {
        let rows: Vec<SampleRow> = run.requests.iter().map(|s| SampleRow::of(s, true)).collect();
        let itl = window_itl(&rows);
        let shards = run.shard.as_ref().map_or(1, |s| s.count);
        Decoded {
            rows,
            gaps_held: true,
            itl,
            sessions: run.sessions.iter().map(SessionRow::of).collect(),
            shown: thinned(run.requests.iter(), shards),
        }
    }
}

/// The columns as a reader finds them in a run JSON.
#[derive(Debug, Deserialize)]
pub(crate) struct RunColumns {
    version: u32,
    requests: usize,
    rows: Vec<String>,
    #[serde(default)]
    gap_counts: Option<Vec<String>>,
    #[serde(default)]
    gaps_ms: Option<Vec<String>>,
    #[serde(default)]
    rare: Vec<Rare>,
    itl: Vec<SavedHistogram>,
    sessions: usize,
    session_rows: Vec<String>,
    #[serde(default)]
    shown: Vec<RequestSample>,
    names: Vec<String>,
}

/// What a run's columns hold, decoded.
#[derive(Debug, Clone, Default)]
pub(crate) struct Decoded {
    /// In the order the run wrote them (arrival order for a big run).
    pub rows: Vec<SampleRow>,
    /// The rows hold their raw gaps (else the histograms alone have them).
    pub gaps_held: bool,
    /// Per context bucket, the window's successful requests' gaps.
    pub itl: Vec<ItlHistogram>,
    pub sessions: Vec<SessionRow>,
    /// Whole samples (no gaps) for the plots.
    pub shown: Vec<RequestSample>,
}

/// The bytes of a chunked column, each chunk a whole number of `item` bytes; errors name
/// the column and chunk.
fn bytes_of(column: &str, chunks: &[String], item: usize) -> Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(chunks.iter().map(|c| c.len() / 4 * 3).sum());
    for (i, chunk) in chunks.iter().enumerate() {
        let before = bytes.len();
        BASE64.decode_vec(chunk, &mut bytes).map_err(|e| anyhow!("columns.{column}[{i}]: not base64: {e}"))?;
        if (bytes.len() - before) % item != 0 {
            bail!("columns.{column}[{i}]: {} bytes, not a whole number of {item}-byte items", bytes.len() - before);
        }
    }
    Ok(bytes)
}

impl RunColumns {
    pub(crate) fn version(&self) -> u32 {
        self.version
    }

    /// The rows, sessions and histograms; a column that does not add up is an error naming it.
    pub(crate) fn decode(self) -> Result<Decoded> {
        if self.version != VERSION {
            bail!("columns version {} (this asb reads {VERSION})", self.version);
        }
        if self.names.len() > super::interned::MAX_NAMES {
            bail!("columns.names: {} names (at most {})", self.names.len(), super::interned::MAX_NAMES);
        }
        let ids: Vec<u16> = self.names.iter().map(|n| super::interned::intern(n) as u16).collect();
        let bytes = bytes_of("rows", &self.rows, ROW_LEN)?;
        if bytes.len() / ROW_LEN != self.requests {
            bail!("columns.rows: {} rows for {} requests", bytes.len() / ROW_LEN, self.requests);
        }
        let mut rows = Vec::with_capacity(self.requests);
        for (i, b) in bytes.chunks_exact(ROW_LEN).enumerate() {
            let b: &[u8; ROW_LEN] = b.try_into().expect("chunks_exact");
            rows.push(SampleRow::decode(b, &ids).map_err(|e| anyhow!("columns.rows: row {i}: {e}"))?);
        }
        drop(bytes);
        let mut gaps: Vec<Vec<f64>> = Vec::new();
        let gaps_held = match (&self.gap_counts, &self.gaps_ms) {
            (Some(counts), Some(values)) => {
                let counts = bytes_of("gap_counts", counts, 4)?;
                let values = bytes_of("gaps_ms", values, 8)?;
                if counts.len() / 4 != rows.len() {
                    bail!("columns.gap_counts: {} counts for {} rows", counts.len() / 4, rows.len());
                }
                let mut values = values.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")));
                for (i, n) in counts.chunks_exact(4).enumerate() {
                    let n = u32::from_le_bytes(n.try_into().expect("4 bytes")) as usize;
                    let row: Vec<f64> = values.by_ref().take(n).collect();
                    if row.len() != n {
                        bail!("columns.gaps_ms: row {i} counts {n} gaps past the column's end");
                    }
                    gaps.push(row);
                }
                if values.next().is_some() {
                    bail!("columns.gaps_ms: more gaps than gap_counts adds up to");
                }
                true
            }
            (None, None) => false,
            _ => bail!("columns: gap_counts and gaps_ms come together"),
        };
        let mut rare = self.rare.into_iter().peekable();
        for (i, row) in rows.iter_mut().enumerate() {
            let row_gaps = gaps.get_mut(i).map(std::mem::take).unwrap_or_default();
            let (timings, derived) = match rare.next_if(|r| r.row == i) {
                Some(r) => (r.server_timings, r.derived),
                None => (None, None),
            };
            row.restore(row_gaps, timings, derived);
        }
        if let Some(r) = rare.next() {
            bail!("columns.rare: row {} is out of order or past the {} rows", r.row, rows.len());
        }
        if self.itl.len() != BUCKETS.len() {
            bail!("columns.itl: {} histograms for {} context buckets", self.itl.len(), BUCKETS.len());
        }
        let itl = self
            .itl
            .iter()
            .enumerate()
            .map(|(i, h)| ItlHistogram::try_from(h).map_err(|e| anyhow!("columns.itl[{i}]: {e}")))
            .collect::<Result<_>>()?;
        let bytes = bytes_of("session_rows", &self.session_rows, SESSION_LEN)?;
        if bytes.len() / SESSION_LEN != self.sessions {
            bail!("columns.session_rows: {} rows for {} sessions", bytes.len() / SESSION_LEN, self.sessions);
        }
        let sessions =
            bytes.chunks_exact(SESSION_LEN).map(|b| SessionRow::decode(b.try_into().expect("chunks_exact"))).collect();
        Ok(Decoded { rows, gaps_held, itl, sessions, shown: self.shown })
    }
}
