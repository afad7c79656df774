//! Shards of one run (`asb replay --shard K/N`) merged into one run: `asb report -i
//! 'shard-*.json' -o merged.html`.
//!
//! Exact by construction: every shard's JSON holds the compact rows its own figures were
//! concluded from (TTFT, E2E, TPOT, rates, tokens, windows; [`crate::replay::run_columns`])
//! and its sessions' rows, so the merged run is those rows put on one time axis and
//! concluded by the same function a single run uses ([`conclude`]): its percentiles are
//! the percentiles of the union, equal to what one process would report for the same
//! requests. Nothing is averaged across shards. Inter-token gaps: the raw gaps of every
//! shard while they number at most the raw-gap cap one process keeps (exact), else each
//! shard's HDR histograms merged bucket by bucket (the bound is stated, as for one run).
//!
//! Fast: a shard file is read only up to its rows ([`super::shard_file`]); the rows
//! themselves are read, one at a time and in start order across the shards, only when the
//! merged output lists every request (`-o merged.json`, `.csv`).
//!
//! Refused: a file that is not a shard, shards of different runs (their `must_match`
//! settings differ: the flag is named), two files claiming the same shard. Said: shards
//! missing from 0..N, and shards that started far apart (they are aligned on their hosts'
//! wall clocks; `--start-at` makes them start together).

use std::cmp::Ordering;
use std::collections::{BTreeSet, BinaryHeap};

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use super::shard_file::{RowsOnDisk, ShardRows};
use crate::replay::conclude::conclude;
use crate::replay::itl_histogram::{self, ItlHistogram};
use crate::replay::measure::BUCKETS;
use crate::replay::results::{
    MergedRows, RequestSample, Requests, RunResults, SampleSource, SessionList, SessionSample,
};
use crate::replay::run_columns::Decoded;
use crate::replay::sample_row::Sample;
use crate::replay::slo::Slo;

/// Shards that started further apart than this are reported: their time axes then rest on
/// their hosts' clocks more than on a common start.
const START_SPREAD_WARNING_MS: f64 = 1000.0;

/// What a merged run says of its shards.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MergeInfo {
    /// N of `--shard K/N`.
    pub shards: u32,
    pub present: Vec<u32>,
    pub missing: Vec<u32>,
    pub hosts: Vec<String>,
    /// The largest gap between two shards' start times, ms (their hosts' clocks).
    pub start_spread_ms: f64,
    /// Which figures are exact, in words.
    pub exactness: String,
}

const EXACTNESS: &str =
    "exact: every per-request figure (TTFT, E2E, TPOT, decode and prefill rates, tokens) and every percentile is \
     computed from the union of the shards' raw samples, as one process would";

/// What the merged report says is exact, with or without every raw gap.
fn exactness(gaps_dropped: bool) -> String {
    if gaps_dropped {
        format!(
            "{EXACTNESS}; inter-token latency from the shards' HDR histograms merged bucket by bucket (see itl_bound)"
        )
    } else {
        format!("{EXACTNESS}; inter-token latency from every raw gap of every shard, exact too")
    }
}

/// One shard as the merge takes it: its fields, its columns, and where its rows are.
#[derive(Debug)]
pub(crate) struct Shard {
    /// The file it came from, as named in messages.
    pub file: String,
    /// Its fields, without requests or sessions.
    pub run: RunResults,
    pub columns: Decoded,
    pub rows: ShardRowsAt,
}

/// Where a shard's full rows are.
#[derive(Debug, Clone)]
pub(crate) enum ShardRowsAt {
    /// Its file, after its columns.
    Disk(RowsOnDisk),
    /// Held (a file read whole: no columns in it).
    Held(std::sync::Arc<HeldRows>),
}

/// A shard's requests and sessions, held.
pub(crate) type HeldRows = (Vec<RequestSample>, Vec<SessionSample>);

impl Shard {
    /// A shard read whole (a file without columns).
    pub(crate) fn of_run(file: String, mut run: RunResults) -> Shard {
        let columns = Decoded::of_run(&run);
        let requests = std::mem::take(&mut *run.requests);
        let sessions = std::mem::take(&mut *run.sessions);
        Shard { file, run, columns, rows: ShardRowsAt::Held(std::sync::Arc::new((requests, sessions))) }
    }
}

/// Merges `shards` into one run, with warnings to print.
pub(crate) fn merge(mut shards: Vec<Shard>) -> Result<(RunResults, Vec<String>)> {
    let mut warnings = Vec::new();
    for s in &shards {
        if s.run.shard.is_none() {
            bail!("{} is not a shard (it was run without --shard): only the shards of one run can be merged", s.file);
        }
    }
    shards.sort_by_key(|s| s.run.shard.as_ref().map(|s| s.index));
    let (first_file, first_shard) = (&shards[0].file, shards[0].run.shard.as_ref().expect("checked above"));
    let count = first_shard.count;
    let mut seen = BTreeSet::new();
    for Shard { file, run, .. } in &shards {
        let shard = run.shard.as_ref().expect("checked above");
        if shard.count != count {
            bail!(
                "{first_file} is shard {}/{count} but {file} is shard {}/{}: not the same run",
                first_shard.index,
                shard.index,
                shard.count
            );
        }
        if !seen.insert(shard.index) {
            bail!("two files are shard {}/{count} ({file} is one): give each shard once", shard.index);
        }
        for (key, value) in &first_shard.must_match {
            let other = shard.must_match.get(key);
            if other != Some(value) {
                bail!(
                    "{first_file} and {file} are shards of different runs: `{key}` is {value} in one and {} in the other",
                    other.map_or("not set", String::as_str)
                );
            }
        }
    }
    let missing: Vec<u32> = (0..count).filter(|i| !seen.contains(i)).collect();
    if !missing.is_empty() {
        warnings.push(format!(
            "shard(s) {} of {count} missing: the merged report covers {} of {count} shards' work",
            missing.iter().map(u32::to_string).collect::<Vec<_>>().join(", "),
            seen.len()
        ));
    }

    // One time axis: each shard's offsets moved by how much later than the first it started.
    let starts: Vec<jiff::Timestamp> = shards
        .iter()
        .map(|s| {
            s.run
                .started_at
                .parse::<jiff::Timestamp>()
                .map_err(|e| anyhow::anyhow!("{}: started_at {:?}: {e}", s.file, s.run.started_at))
        })
        .collect::<Result<_>>()?;
    let t0 = *starts.iter().min().expect("at least one run");
    let offsets: Vec<f64> = starts.iter().map(|t| t.duration_since(t0).as_secs_f64() * 1000.0).collect();
    let spread = offsets.iter().copied().fold(0.0, f64::max);
    if spread > START_SPREAD_WARNING_MS {
        warnings.push(format!(
            "the shards started up to {spread:.0} ms apart (by their hosts' clocks): the merged run's time axis holds only \
             as far as those clocks agree; start shards together with --start-at"
        ));
    }
    for s in &shards {
        if let Some(late) = s.run.shard.as_ref().and_then(|s| s.started_late_ms).filter(|&l| l > 100.0) {
            warnings.push(format!("{} started {late:.0} ms after --start-at", s.file));
        }
    }

    let slo: Option<Slo> = match &shards[0].run.slo {
        Some(report) => Some(report.slo.parse().map_err(|e: String| anyhow::anyhow!("{first_file}: its SLO: {e}"))?),
        None => None,
    };
    let mut merged = shards[0].run.clone();
    merged.started_at = t0.to_string();
    let mut aborted = Vec::new();
    let mut checks: Option<crate::replay::answer_checks::AnswerChecks> = None;
    // Sums over the shards' requests; the server's own series are the first shard's scrape
    // (every shard watched the same server).
    let mut prefix = merged.prefix_cache.clone();
    let mut loads = Vec::new();
    let (mut window_from, mut window_to) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut rows = Vec::with_capacity(shards.iter().map(|s| s.columns.rows.len()).sum());
    let mut sessions = Vec::with_capacity(shards.iter().map(|s| s.columns.sessions.len()).sum());
    let mut shown = Vec::new();
    let mut itl: Vec<ItlHistogram> = BUCKETS.iter().map(|_| ItlHistogram::default()).collect();
    let mut sources = Vec::with_capacity(shards.len());
    for (i, (shard, &offset)) in shards.iter_mut().zip(&offsets).enumerate() {
        let is_first = i == 0;
        let run = &shard.run;
        let place = Placement { offset_ms: offset, index: run.shard.as_ref().expect("checked above").index, count };
        // Moved, not copied: a shard's rows are held once.
        let columns = std::mem::take(&mut shard.columns);
        rows.extend(columns.rows.into_iter().map(|mut r| {
            if offset != 0.0 {
                r.shift(offset);
            }
            r
        }));
        sessions.extend(columns.sessions.into_iter().map(|mut s| {
            s.shift(offset);
            s
        }));
        shown.extend(columns.shown.into_iter().map(|mut r| {
            place.request(&mut r);
            r
        }));
        for (all, h) in itl.iter_mut().zip(&columns.itl) {
            all.merge(h);
        }
        sources.push((shard.rows.clone(), place, columns.gaps_held));
        if let Some(why) = &run.aborted {
            aborted.push(format!("shard {}: {why}", place.index));
        }
        if !is_first {
            if let (Some(all), Some(p)) = (prefix.as_mut(), &run.prefix_cache) {
                all.requests_with_usage += p.requests_with_usage;
                all.prompt_tokens += p.prompt_tokens;
                all.cached_tokens += p.cached_tokens;
                all.expected_cached_tokens += p.expected_cached_tokens;
                all.below_expected += p.below_expected;
                all.above_expected += p.above_expected;
                all.sessions.extend(p.sessions.iter().cloned());
                all.warnings.extend(p.warnings.iter().map(|w| format!("shard {}: {w}", place.index)));
            }
        }
        if let Some(c) = &run.answer_checks {
            let all = checks.get_or_insert_with(Default::default);
            all.passed += c.passed;
            all.judged += c.judged;
            all.executions.extend(c.executions.iter().cloned());
        }
        if let Some(load) = &run.load {
            window_from = window_from.min(load.window.from_ms + offset);
            window_to = window_to.max(load.window.to_ms + offset);
            if !loads.contains(&load.model) {
                loads.push(load.model.clone());
            }
        }
        if !is_first {
            merged.settings.max_concurrent += run.settings.max_concurrent;
            merged.settings.executions += run.settings.executions;
            merged.settings.scheduled_requests += run.settings.scheduled_requests;
        }
    }
    shown.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
    if let Some(c) = checks.as_mut() {
        c.executions.sort_by(|a, b| (&a.task_id, a.execution).cmp(&(&b.task_id, b.execution)));
    }
    merged.answer_checks = checks;
    if let Some(p) = prefix.as_mut() {
        let rate = |n: u64| (p.prompt_tokens > 0).then(|| n as f64 / p.prompt_tokens as f64);
        (p.reported_hit_rate, p.expected_hit_rate) = (rate(p.cached_tokens), rate(p.expected_cached_tokens));
        p.sessions.sort_by_key(|s| s.session);
    }
    merged.prefix_cache = prefix;
    merged.clock_check = crate::replay::server_metrics::timings::ClockCheck::of(&rows);
    merged.aborted = (!aborted.is_empty()).then(|| aborted.join("; "));
    let description = format!("merged from {} shard(s) of {count}; per shard: {}", shards.len(), loads.join(" | "));
    merged.settings.load = description.clone();

    // Raw gaps while every shard kept them and one process would have (or the SLO judges
    // each request's own gaps); else the shards' histograms, merged bucket by bucket.
    let gap_cap = crate::replay::sample_store::StoreOptions::from_env(None, false).gap_cap;
    let raw_gaps: usize = rows.iter().map(|r| r.itl_ms().len()).sum();
    let gaps_dropped = !(sources.iter().all(|(_, _, held)| *held)
        && (raw_gaps <= gap_cap || slo.as_ref().is_some_and(Slo::needs_gaps)));
    if gaps_dropped {
        rows.iter_mut().for_each(|r| r.drop_gaps());
        merged.itl_bound = Some(format!(
            "ITL figures from the shards' HDR histograms of every gap, merged bucket by bucket (more gaps than the {gap_cap} \
             held raw, or a shard that held none): count, mean, min and max exact; percentiles {}",
            itl_histogram::BOUND
        ));
    } else {
        merged.itl_bound = None;
    }

    if let Some(load) = merged.load.as_mut() {
        load.model = description;
        load.window.from_ms = window_from;
        load.window.to_ms = window_to.max(window_from);
        load.window.requests_total = rows.len();
        load.window.requests_in = rows.iter().filter(|r| r.in_window()).count();
    }
    let mut load = merged.load.take().unwrap_or_default();
    let conclusion =
        conclude(&rows, || sessions.iter(), &mut load, slo.as_ref(), gaps_dropped.then_some(itl.as_slice()));
    merged.load = Some(load);
    merged.summary = conclusion.summary;
    merged.buckets = conclusion.buckets;
    merged.slo = conclusion.slo;
    merged.shard = None;
    merged.merged = Some(MergeInfo {
        shards: count,
        present: seen.into_iter().collect(),
        missing,
        hosts: shards.iter().filter_map(|s| s.run.shard.as_ref().map(|s| s.host.clone())).collect(),
        start_spread_ms: spread,
        exactness: exactness(gaps_dropped),
    });
    let source: std::sync::Arc<dyn SampleSource> = std::sync::Arc::new(ShardsSource {
        shards: sources.into_iter().map(|(rows, place, _)| (rows, place)).collect(),
    });
    merged.sessions = SessionList::from_merged(sessions, source.clone());
    merged.requests = Requests::from_merged(shown, MergedRows { rows, itl, gaps_dropped, source });
    Ok((merged, warnings))
}

/// Where a shard's samples go on the merged run: its time offset and its slots' numbers.
#[derive(Debug, Clone, Copy)]
struct Placement {
    offset_ms: f64,
    index: u32,
    count: u32,
}

impl Placement {
    /// Slot `s` of shard K of N is slot `s·N + K` of the merged run.
    fn slot(&self, s: usize) -> usize {
        s * self.count as usize + self.index as usize
    }

    fn request(&self, r: &mut RequestSample) {
        r.scheduled_ms += self.offset_ms;
        r.start_ms += self.offset_ms;
        r.first_send_ms = r.first_send_ms.map(|t| t + self.offset_ms);
        r.slot = self.slot(r.slot);
    }

    fn session(&self, s: &mut SessionSample) {
        s.due_ms += self.offset_ms;
        s.start_ms = s.start_ms.map(|t| t + self.offset_ms);
        s.end_ms = s.end_ms.map(|t| t + self.offset_ms);
        s.slot = self.slot(s.slot);
    }
}

/// The merged run's full samples: read from the shards as they are written out.
#[derive(Debug)]
struct ShardsSource {
    shards: Vec<(ShardRowsAt, Placement)>,
}

/// One shard's rows (requests or sessions) in its own order.
type Stream<T> = Box<dyn Iterator<Item = Result<T>>>;

/// A row waiting in the merge of the shards' ordered streams: its key, its shard, itself.
struct Next<T>(f64, usize, T);

impl<T> PartialEq for Next<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<T> Eq for Next<T> {}
impl<T> PartialOrd for Next<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Next<T> {
    /// Reversed: the heap's top is the smallest key (then the lowest shard).
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0).then(other.1.cmp(&self.1))
    }
}

/// The shards' streams, each ordered by `key`, as one ordered stream into `each`: every
/// row placed on the merged run by its shard's [`Placement`] first. One row per shard is
/// held at a time.
fn in_order<T>(
    mut streams: Vec<Stream<T>>,
    places: &[Placement],
    place: fn(&Placement, &mut T),
    key: fn(&T) -> f64,
    each: &mut dyn FnMut(&T) -> anyhow::Result<()>,
) -> Result<()> {
    let mut pull = |k: usize| -> Result<Option<Next<T>>> {
        let Some(mut row) = streams[k].next().transpose()? else { return Ok(None) };
        place(&places[k], &mut row);
        Ok(Some(Next(key(&row), k, row)))
    };
    let mut heap = BinaryHeap::new();
    for k in 0..places.len() {
        heap.extend(pull(k)?);
    }
    while let Some(Next(_, k, row)) = heap.pop() {
        each(&row)?;
        heap.extend(pull(k)?);
    }
    Ok(())
}

impl ShardsSource {
    /// Each shard's rows of one kind: read from its file by `on_disk`, or from its held lists.
    fn streams<T: Clone + serde::de::DeserializeOwned + 'static>(
        &self,
        on_disk: fn(&RowsOnDisk) -> Result<ShardRows<T>>,
        held: fn(&HeldRows) -> &Vec<T>,
    ) -> Result<Vec<Stream<T>>> {
        let stream = |rows: &ShardRowsAt| -> Result<Stream<T>> {
            Ok(match rows {
                ShardRowsAt::Disk(disk) => {
                    let mut rows = on_disk(disk)?;
                    Box::new(std::iter::from_fn(move || rows.next_row().transpose()))
                }
                ShardRowsAt::Held(lists) => {
                    let lists = lists.clone();
                    Box::new((0..held(&lists).len()).map(move |i| Ok(held(&lists)[i].clone())))
                }
            })
        };
        self.shards.iter().map(|(rows, _)| stream(rows)).collect()
    }

    fn places(&self) -> Vec<Placement> {
        self.shards.iter().map(|(_, p)| *p).collect()
    }
}

impl SampleSource for ShardsSource {
    fn requests(&self, each: &mut dyn FnMut(&RequestSample) -> anyhow::Result<()>) -> anyhow::Result<()> {
        let streams = self.streams(RowsOnDisk::requests, |lists| &lists.0)?;
        in_order(streams, &self.places(), Placement::request, |r| r.start_ms, each)
    }

    fn sessions(&self, each: &mut dyn FnMut(&SessionSample) -> anyhow::Result<()>) -> anyhow::Result<()> {
        // Each shard lists its sessions in due order, as a run writes them.
        let streams = self.streams(RowsOnDisk::sessions, |lists| &lists.1)?;
        in_order(streams, &self.places(), Placement::session, |s| s.due_ms, each)
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::run_of;
    use super::*;
    use crate::replay::results::RequestSample;
    use crate::replay::shard::ShardInfo;

    fn request(start_ms: f64, ttft: f64) -> RequestSample {
        RequestSample {
            task_id: "t".into(),
            bucket: "fresh".into(),
            start_ms,
            scheduled_ms: start_ms,
            ttft_ms: Some(ttft),
            e2e_ms: Some(ttft + 100.0),
            total_ms: Some(ttft + 100.0),
            completion_tokens: 10,
            decode_tok_per_s: Some(50.0),
            ok: true,
            in_window: true,
            ..Default::default()
        }
    }

    fn shard(index: u32, count: u32, started_at: &str, ttfts: &[f64]) -> (String, RunResults) {
        let mut run = run_of(ttfts.iter().enumerate().map(|(i, &t)| request(i as f64 * 10.0, t)).collect());
        run.started_at = started_at.into();
        run.shard = Some(ShardInfo {
            index,
            count,
            host: format!("pod-{index}"),
            start_at: None,
            started_late_ms: None,
            must_match: [("cache_mode".to_string(), "Realistic".to_string())].into(),
        });
        (format!("shard-{index}.json"), run)
    }

    fn merged(runs: Vec<(String, RunResults)>) -> Result<(RunResults, Vec<String>)> {
        merge(runs.into_iter().map(|(file, run)| Shard::of_run(file, run)).collect())
    }

    #[test]
    fn percentiles_are_those_of_the_union_on_one_time_axis() {
        let a = shard(0, 2, "2026-12-03T10:00:00Z", &[100.0, 300.0, 500.0]);
        let b = shard(1, 2, "2026-12-03T10:00:00.250Z", &[200.0, 400.0]);
        let (merged, warnings) = merged(vec![b, a]).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let union = run_of(vec![
            request(0.0, 100.0),
            request(10.0, 300.0),
            request(20.0, 500.0),
            request(250.0, 200.0),
            request(260.0, 400.0),
        ]);
        assert_eq!(merged.requests.iter().map(|r| r.start_ms).collect::<Vec<_>>(), [0.0, 10.0, 20.0, 250.0, 260.0]);
        let ttft = |r: &RunResults| r.summary.metrics.ttft_ms.clone().map(|d| (d.p50, d.p90, d.p99, d.count));
        assert_eq!(ttft(&merged), ttft(&union));
        let info = merged.merged.unwrap();
        assert_eq!((info.shards, info.present, info.start_spread_ms), (2, vec![0, 1], 250.0));
    }

    #[test]
    fn refuses_what_is_not_one_run_and_says_what_is_missing() {
        let a = shard(0, 3, "2026-12-03T10:00:00Z", &[100.0]);
        let mut b = shard(1, 3, "2026-12-03T10:00:00Z", &[100.0]);
        let (_, warnings) = merged(vec![a.clone(), b.clone()]).unwrap();
        assert!(warnings[0].starts_with("shard(s) 2 of 3 missing"), "{warnings:?}");
        let e = merged(vec![a.clone(), a.clone()]).unwrap_err().to_string();
        assert!(e.contains("two files are shard 0/3"), "{e}");
        b.1.shard.as_mut().unwrap().must_match.insert("cache_mode".into(), "Allcold".into());
        let e = merged(vec![a.clone(), b]).unwrap_err().to_string();
        assert!(e.contains("`cache_mode` is Realistic in one and Allcold in the other"), "{e}");
        let mut whole = a.clone();
        whole.1.shard = None;
        assert!(merged(vec![a, whole]).unwrap_err().to_string().contains("is not a shard"));
    }

    /// A shard with sessions and inter-token gaps, written as `asb replay` writes it.
    fn written(dir: &std::path::Path, index: u32, started_at: &str, n: usize) -> (std::path::PathBuf, RunResults) {
        let (_, mut run) =
            shard(index, 2, started_at, &(0..n).map(|i| 50.0 + (i * 37 % 101) as f64).collect::<Vec<_>>());
        for (i, r) in run.requests.iter_mut().enumerate() {
            r.itl_ms = vec![1.0 + i as f64 / 7.0, 2.5];
            r.slot = i % 3;
            r.session = i as u64;
            r.start_ms += 0.1 * (index + 1) as f64; // a start no shift leaves exact
        }
        *run.sessions = (0..n)
            .map(|i| SessionSample {
                session: i as u64,
                task_id: "t".into(),
                slot: i % 3,
                due_ms: i as f64 * 20.0, // in due order, as a run writes them; the shards interleave
                start_ms: Some(i as f64),
                end_ms: Some(i as f64 + 300.0),
                sent: 1,
                completed: true,
                ..Default::default()
            })
            .collect();
        let path = dir.join(format!("shard-{index}.json"));
        let mut out = Vec::new();
        crate::replay::run_json::write(&mut out, &run).unwrap();
        std::fs::write(&path, out).unwrap();
        (path, run)
    }

    #[test]
    fn read_up_to_the_columns_the_merge_is_the_merge_of_the_whole_files() {
        let dir = tempfile::tempdir().unwrap();
        let (p0, r0) = written(dir.path(), 0, "2026-12-03T10:00:00Z", 40);
        let (p1, r1) = written(dir.path(), 1, "2026-12-03T10:00:00.333Z", 25);
        let fast: Vec<Shard> = [&p0, &p1]
            .iter()
            .map(|p| {
                let s = super::super::shard_file::read(p).unwrap().expect("written by asb: it has columns");
                Shard { file: p.display().to_string(), run: s.run, columns: s.columns, rows: ShardRowsAt::Disk(s.rows) }
            })
            .collect();
        let (fast, _) = merge(fast).unwrap();
        let (whole, _) = merged(vec![("a".into(), r0), ("b".into(), r1)]).unwrap();
        fn json<T: Serialize>(v: &T) -> String {
            serde_json::to_string(v).unwrap()
        }
        assert_eq!(json(&fast.summary), json(&whole.summary));
        assert_eq!(json(&fast.buckets), json(&whole.buckets));
        assert_eq!(json(&fast.load), json(&whole.load));
        assert_eq!(fast.summary.metrics.itl_ms.as_ref().map(|d| d.count), Some(130), "every raw gap");
        assert!(fast.itl_bound.is_none());

        // Written out, the merged run lists every request in start order, and every session.
        let mut out = Vec::new();
        crate::replay::run_json::write(&mut out, &fast).unwrap();
        let back: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let starts: Vec<f64> =
            back["requests"].as_array().unwrap().iter().map(|r| r["start_ms"].as_f64().unwrap()).collect();
        assert_eq!(starts.len(), 65);
        assert!(starts.windows(2).all(|w| w[0] <= w[1]), "start order across the shards");
        assert!(starts.contains(&(333.0 + 0.2)), "shard 1's first request, moved by its 333 ms later start");
        let slots: BTreeSet<u64> =
            back["requests"].as_array().unwrap().iter().map(|r| r["slot"].as_u64().unwrap()).collect();
        assert_eq!(slots, [0, 1, 2, 3, 4, 5].into(), "slot s of shard k is s·2 + k");
        let due: Vec<f64> =
            back["sessions"].as_array().unwrap().iter().map(|s| s["due_ms"].as_f64().unwrap()).collect();
        assert_eq!(due.len(), 65);
        assert!(due.windows(2).all(|w| w[0] <= w[1]), "sessions in due order");
        assert_eq!(back["columns"]["requests"], 65, "the merged file has columns of its own");
        let again: RunResults = serde_json::from_slice(&out).unwrap();
        assert_eq!(again.requests.len(), 65);
    }

    #[test]
    fn past_the_raw_gap_cap_the_shards_histograms_merge() {
        let dir = tempfile::tempdir().unwrap();
        let (p0, r0) = written(dir.path(), 0, "2026-12-03T10:00:00Z", 40);
        let (p1, r1) = written(dir.path(), 1, "2026-12-03T10:00:00Z", 25);
        let mut gaps: Vec<f64> = r0.requests.iter().chain(r1.requests.iter()).flat_map(|r| r.itl_ms.clone()).collect();
        gaps.sort_by(f64::total_cmp);
        let nearest_rank = |q: f64| gaps[((q * gaps.len() as f64).ceil() as usize).max(1) - 1];
        let mut shards: Vec<Shard> = [&p0, &p1]
            .iter()
            .map(|p| {
                let s = super::super::shard_file::read(p).unwrap().unwrap();
                Shard { file: p.display().to_string(), run: s.run, columns: s.columns, rows: ShardRowsAt::Disk(s.rows) }
            })
            .collect();
        let exact = merge(
            shards
                .iter()
                .map(|s| Shard {
                    file: s.file.clone(),
                    run: s.run.clone(),
                    columns: s.columns.clone(),
                    rows: s.rows.clone(),
                })
                .collect(),
        )
        .unwrap()
        .0;
        shards[1].columns.gaps_held = false; // as a shard past its own cap writes it
        let (bounded, _) = merge(shards).unwrap();
        assert!(bounded.itl_bound.as_deref().is_some_and(|b| b.contains("merged bucket by bucket")));
        let (e, b) = (exact.summary.metrics.itl_ms.unwrap(), bounded.summary.metrics.itl_ms.unwrap());
        assert_eq!((e.count, e.min, e.max), (b.count, b.min, b.max), "count, min, max exact");
        assert!((e.mean - b.mean).abs() < 1e-9, "{} vs {}", e.mean, b.mean);
        for (q, y) in [(0.5, b.p50), (0.9, b.p90), (0.99, b.p99)] {
            let x = nearest_rank(q);
            assert!((x - y).abs() <= x * itl_histogram::RELATIVE_ERROR, "p{q}: {x} vs {y}");
        }
    }
}
