//! No committed report counts a bound as a value.
//!
//! Walks every `docs/reproductions/*/results.json`. A τ̂ object is any JSON object with a
//! `"status"` of `"resolved" | "lower_bound" | "no_window"` (every object with a `"tau_hat"` key must
//! carry one). For each unresolved τ̂ its τ-like numbers (keys starting with `tau` or `rel_err`)
//! must not appear anywhere in `summary` outside objects that carry an unresolved status
//! themselves (lists of bounds), and a summary over a file with unresolved τ̂ must count them
//! (some key containing `bound` or `unresolved`). Files that carry no statuses yet are skipped,
//! except the ones listed in `MUST_CARRY_STATUS`.

use serde_json::Value;
use std::path::PathBuf;

const STATUSES: [&str; 3] = ["resolved", "lower_bound", "no_window"];
/// Reports with sampled τ̂ that must carry statuses.
const MUST_CARRY_STATUS: [&str; 5] = ["exp2", "exp2-paper", "dtm", "dtm-paper", "dtm-paper-full"];

fn status(o: &serde_json::Map<String, Value>) -> Option<&str> {
    o.get("status")
        .and_then(Value::as_str)
        .filter(|s| STATUSES.contains(s))
}

/// Visits every object; collects (status, τ-like numbers) and checks `tau_hat` ⇒ status.
fn collect(v: &Value, path: &str, out: &mut Vec<(String, Vec<f64>)>, errors: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            if o.contains_key("tau_hat") && status(o).is_none() {
                errors.push(format!("{path}: tau_hat without a status"));
            }
            if let Some(s) = status(o) {
                let nums = o
                    .iter()
                    .filter(|(k, _)| {
                        (k.starts_with("tau") && !k.ends_with("exact")) || k.starts_with("rel_err")
                    })
                    .filter_map(|(_, v)| v.as_f64())
                    .collect();
                out.push((s.to_string(), nums));
            }
            for (k, x) in o {
                collect(x, &format!("{path}.{k}"), out, errors);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                collect(x, &format!("{path}[{i}]"), out, errors);
            }
        }
        _ => {}
    }
}

/// Numbers of `summary`, skipping objects that are themselves unresolved τ̂ (lists of bounds).
fn summary_numbers(v: &Value, path: &str, out: &mut Vec<(String, f64)>, keys: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            if status(o).is_some_and(|s| s != "resolved") {
                return;
            }
            for (k, x) in o {
                keys.push(k.clone());
                summary_numbers(x, &format!("{path}.{k}"), out, keys);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                summary_numbers(x, &format!("{path}[{i}]"), out, keys);
            }
        }
        Value::Number(n) => out.extend(n.as_f64().map(|f| (path.to_string(), f))),
        _ => {}
    }
}

#[test]
fn no_committed_report_counts_a_bound_as_a_value() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/reproductions");
    let mut checked = 0;
    let mut errors = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("docs/reproductions exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    dirs.sort();
    for dir in dirs {
        let file = dir.join("results.json");
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let v: Value = serde_json::from_str(&text).expect("results.json parses");
        let mut taus = Vec::new();
        collect(&v, &name, &mut taus, &mut errors);
        if taus.is_empty() {
            assert!(
                !MUST_CARRY_STATUS.contains(&name.as_str()),
                "{name}: its sampled τ̂ carry no status"
            );
            continue;
        }
        checked += 1;
        let bounds: Vec<f64> = taus
            .iter()
            .filter(|(s, _)| s != "resolved")
            .flat_map(|(_, n)| n.iter().copied())
            .collect();
        let (mut nums, mut keys) = (Vec::new(), Vec::new());
        if let Some(s) = v.get("summary") {
            summary_numbers(s, &format!("{name}.summary"), &mut nums, &mut keys);
        }
        for (path, x) in &nums {
            // τ = 1 (up to rounding) is the floor of every τ_int, reached by any near-independent
            // series; a summary number equal to it (e.g. a cosine of 1.0000000000000002) is a
            // coincidence of value, not a bound passed off as a measurement.
            if (x - 1.0).abs() < 1e-9 {
                continue;
            }
            if bounds.contains(x) {
                errors.push(format!("{path} = {x} is the value of an unresolved τ̂"));
            }
        }
        let unresolved = taus.iter().filter(|(s, _)| s != "resolved").count();
        // A summary counts its bounds (a `…bound…` / `…unresolved…` field) or states the status
        // of each τ̂-derived value beside it (a `status` field, as the DTM study's `tau_over_L`).
        if unresolved > 0
            && !keys
                .iter()
                .any(|k| k.contains("bound") || k.contains("unresolved") || k.contains("status"))
        {
            errors.push(format!(
                "{name}: {unresolved} unresolved τ̂ but the summary does not count bounds"
            ));
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert!(checked >= 1, "no committed report carries τ̂ statuses");
}
