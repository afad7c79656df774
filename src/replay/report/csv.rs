//! `asb report -f csv` / `-o run.csv` (and `asb replay -o run.csv`): one row per request,
//! every scalar field of the run JSON's `requests[]` in its order, for a spreadsheet or
//! pandas. `itl_ms` (a list) becomes `itl_count` and `itl_mean_ms`; `label` is the run's.

use serde_json::Value;

use crate::replay::results::RunResults;

/// The requests of `r` as CSV (RFC 4180: comma-separated, quoted where needed, CRLF-free).
pub(crate) fn render(r: &RunResults) -> String {
    let mut rows: Vec<serde_json::Map<String, Value>> = Vec::with_capacity(r.requests.total());
    // Every request, a spilled run's read back from its spill file; an unreadable spill
    // ends the rows early and says so on stderr.
    let read = r.requests.for_each(|q| {
        if let Ok(Value::Object(map)) = serde_json::to_value(q) {
            rows.push(map);
        }
        Ok(())
    });
    if let Err(e) = read {
        crate::errors::note("asb", format!("the CSV holds {} requests: {e:#}", rows.len()));
    }
    let mut header: Vec<String> = vec!["label".into()];
    for row in &rows {
        for key in row.keys() {
            let key = if key == "itl_ms" { "itl_count" } else { key.as_str() };
            if !header.iter().any(|h| h == key) {
                header.push(key.to_string());
                if key == "itl_count" {
                    header.push("itl_mean_ms".into());
                }
            }
        }
    }
    if rows.is_empty() {
        header.extend(["task_id", "ok"].map(String::from));
    }
    let mut out = header.iter().map(|h| field(h)).collect::<Vec<_>>().join(",");
    out.push('\n');
    let label = r.label.clone().unwrap_or_default();
    for row in &rows {
        let itl: Vec<f64> = row
            .get("itl_ms")
            .and_then(Value::as_array)
            .map_or_else(Vec::new, |a| a.iter().filter_map(Value::as_f64).collect());
        let cells: Vec<String> = header
            .iter()
            .map(|h| match h.as_str() {
                "label" => field(&label),
                "itl_count" => itl.len().to_string(),
                "itl_mean_ms" if itl.is_empty() => String::new(),
                "itl_mean_ms" => (itl.iter().sum::<f64>() / itl.len() as f64).to_string(),
                key => match row.get(key) {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => field(s),
                    Some(other) => field(&other.to_string()),
                },
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// One CSV field, quoted when it holds a comma, quote or line break, or could be read as a
/// spreadsheet formula.
fn field(s: &str) -> String {
    let formula = s.starts_with(['=', '+', '@']) || (s.starts_with('-') && s.parse::<f64>().is_err());
    if formula || s.contains([',', '"', '\n', '\r']) {
        let quoted = s.replace('"', "\"\"");
        if formula {
            format!("\"'{quoted}\"")
        } else {
            format!("\"{quoted}\"")
        }
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::sample_run;
    use super::*;

    #[test]
    fn one_row_per_request_with_the_run_label() {
        let mut run = sample_run();
        run.label = Some("gpu, a".into());
        let csv = render(&run);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 1 + run.requests.len());
        let header: Vec<&str> = lines[0].split(',').collect();
        for key in ["label", "task_id", "ttft_ms", "itl_count", "itl_mean_ms", "prompt_tokens", "ok", "error"] {
            assert!(header.contains(&key), "{key}: {}", lines[0]);
        }
        assert!(lines[1].starts_with("\"gpu, a\",build-api,"), "{}", lines[1]);
        let ttft = header.iter().position(|h| *h == "ttft_ms").unwrap();
        assert_eq!(lines[1].split(',').nth(ttft + 1), Some("100.0"));
        // The error with a pipe and markup stays one field.
        assert!(csv.contains("HTTP 500: upstream | <b>overloaded</b>"));
        assert_eq!(field("=1+1"), "\"'=1+1\"");
        assert_eq!(field("-3.5"), "-3.5");
    }
}
