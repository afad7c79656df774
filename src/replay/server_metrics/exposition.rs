//! One scrape's text (Prometheus text format 0.0.4, or OpenMetrics) read into flat
//! samples: name, labels, value, and the family's type. The parsing is `nom-openmetrics`'s;
//! here the text is only tidied first (blank lines and free comments dropped, a final
//! newline added, as servers differ there) and the samples a time series cannot use are
//! left out: histogram buckets, summary quantiles and `_created` timestamps (their `_sum`
//! and `_count` stay).
//!
//! Bounds: the caller caps the body's size; at most [`MAX_SAMPLES`] samples are read.

use nom_openmetrics::{parser, MetricDescriptor, MetricType};

/// Samples read from one scrape, at most (a vLLM server exposes a few hundred).
pub(crate) const MAX_SAMPLES: usize = 20_000;

/// What a sample's family says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Counter,
    Gauge,
    /// Untyped, or a histogram's / summary's `_sum` and `_count`.
    Other,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Other => "untyped",
        }
    }
}

/// One sample of a scrape.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Point {
    pub name: String,
    /// `{a="x",b="y"}` sorted by label name, or empty.
    pub labels: String,
    pub kind: Kind,
    pub value: f64,
}

impl Point {
    /// The series key: name and labels.
    pub(crate) fn key(&self) -> String {
        format!("{}{}", self.name, self.labels)
    }
}

/// Reads a scrape. An error names what was wrong and where (line number, the text there).
pub(crate) fn parse(text: &str) -> Result<Vec<Point>, String> {
    let mut tidy = String::with_capacity(text.len() + 1);
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        let descriptor = ["# HELP ", "# TYPE ", "# UNIT "].iter().any(|p| line.starts_with(p));
        if line.trim().is_empty() || (line.starts_with('#') && !descriptor) {
            continue; // blank lines, free comments, OpenMetrics' `# EOF`
        }
        tidy.push_str(line);
        tidy.push('\n');
    }
    let mut out = Vec::new();
    let mut rest = tidy.as_str();
    while !rest.is_empty() && out.len() < MAX_SAMPLES {
        match parser::family(rest) {
            Ok((after, family)) => {
                read_family(&family, &mut out);
                rest = after;
            }
            // A family declared with no samples yet (a labelled metric nothing has
            // touched): its descriptor lines are skipped.
            Err(_) if rest.starts_with("# ") => rest = rest.split_once('\n').map_or("", |(_, r)| r),
            Err(_) => {
                let line_no = tidy[..tidy.len() - rest.len()].matches('\n').count() + 1;
                let line: String = rest.lines().next().unwrap_or("").chars().take(80).collect();
                return Err(format!("not in Prometheus text format (line {line_no} of the metrics lines: {line:?})"));
            }
        }
    }
    out.truncate(MAX_SAMPLES);
    Ok(out)
}

fn read_family(family: &nom_openmetrics::Family<'_>, out: &mut Vec<Point>) {
    // The TYPE line that names the sample: the same name (a gauge; a counter in text
    // format 0.0.4), else the longest that starts it (`x` for `x_total`, `x_sum`).
    let types: Vec<(&str, &MetricType<'_>)> = family
        .descriptors
        .iter()
        .filter_map(|d| match d {
            MetricDescriptor::Type { metric, r#type } => Some((*metric, r#type)),
            _ => None,
        })
        .collect();
    for sample in &family.samples {
        let name = sample.name();
        let labels = sample.labels();
        if name.ends_with("_created") || name.ends_with("_bucket") || labels.iter().any(|l| l.name == "quantile") {
            continue;
        }
        let declared = types.iter().filter(|(m, _)| name.starts_with(m)).max_by_key(|(m, _)| m.len());
        let kind = match declared {
            Some((_, MetricType::Counter)) => Kind::Counter,
            Some((metric, MetricType::Gauge)) if *metric == name => Kind::Gauge,
            _ => Kind::Other,
        };
        let mut pairs: Vec<(&str, &str)> = labels.iter().map(|l| (l.name, l.value.as_str())).collect();
        pairs.sort_unstable();
        let labels = if pairs.is_empty() {
            String::new()
        } else {
            let inner: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
            format!("{{{}}}", inner.join(","))
        };
        out.push(Point { name: name.to_string(), labels, kind, value: sample.number() });
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As vLLM's prometheus_client writes it (abridged), with a histogram.
    const VLLM: &str = r#"# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} 3.0
# HELP vllm:prefix_cache_queries_total Prefix cache queries, in terms of number of queried tokens.
# TYPE vllm:prefix_cache_queries_total counter
vllm:prefix_cache_queries_total{engine="0",model_name="m"} 1234.0
# HELP vllm:prefix_cache_queries_created Prefix cache queries, in terms of number of queried tokens.
# TYPE vllm:prefix_cache_queries_created gauge
vllm:prefix_cache_queries_created{engine="0",model_name="m"} 1.7e+09
# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.001",model_name="m"} 0.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="m"} 7.0
vllm:time_to_first_token_seconds_count{engine="0",model_name="m"} 7.0
vllm:time_to_first_token_seconds_sum{engine="0",model_name="m"} 0.5
"#;

    #[test]
    fn reads_vllm_names_with_colons_and_keeps_what_a_series_can_use() {
        let points = parse(VLLM).unwrap();
        let keys: Vec<String> = points.iter().map(Point::key).collect();
        assert_eq!(
            keys,
            [
                r#"vllm:num_requests_running{engine="0",model_name="m"}"#,
                r#"vllm:prefix_cache_queries_total{engine="0",model_name="m"}"#,
                r#"vllm:time_to_first_token_seconds_count{engine="0",model_name="m"}"#,
                r#"vllm:time_to_first_token_seconds_sum{engine="0",model_name="m"}"#,
            ]
        );
        assert_eq!((points[0].kind, points[0].value), (Kind::Gauge, 3.0));
        assert_eq!((points[1].kind, points[1].value), (Kind::Counter, 1234.0));
        assert_eq!(points[2].kind, Kind::Other);
    }

    #[test]
    fn reads_llama_cpp_and_untidy_text() {
        let text = "# HELP llamacpp:requests_processing Number of requests processing\r\n\
                    # TYPE llamacpp:requests_processing gauge\r\n\n# a free comment\n\
                    llamacpp:requests_processing 2\nplain_untyped 5";
        let points = parse(text).unwrap();
        assert_eq!(points.len(), 2);
        assert_eq!(
            (points[0].name.as_str(), points[0].kind, points[0].value),
            ("llamacpp:requests_processing", Kind::Gauge, 2.0)
        );
        assert_eq!((points[1].kind, points[1].value), (Kind::Other, 5.0));
    }

    #[test]
    fn openmetrics_with_eof_is_read() {
        let points = parse("# TYPE a counter\na_total 3\n# EOF\n").unwrap();
        assert_eq!(points[0].value, 3.0);
    }

    #[test]
    fn a_family_with_no_samples_is_skipped() {
        let text = "# HELP x_total x\n# TYPE x_total counter\n# HELP y y\n# TYPE y gauge\ny 4\n# TYPE z gauge\n";
        let points = parse(text).unwrap();
        assert_eq!((points.len(), points[0].kind, points[0].value), (1, Kind::Gauge, 4.0));
    }

    #[test]
    fn garbage_is_an_error_naming_the_line() {
        let e = parse("# TYPE a gauge\na 1\n<html><body>oops</body></html>\n").unwrap_err();
        assert!(e.contains("not in Prometheus text format"), "{e}");
        assert!(e.contains("line 3") && e.contains("<html>"), "{e}");
        assert!(parse("{\"json\": true}").is_err());
    }
}
