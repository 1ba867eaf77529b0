//! `thermoq tau` — integrated autocorrelation time of a recorded series, with the
//! doubling-stability verdict.
//!
//! Input: a text file with one number per line (one chain), or CSV with one column per chain
//! (an optional header line of non-numeric names is skipped; `#` starts a comment). Output: one
//! JSON object with `tau` (pooled Sokal, c = 5, in samples), `window`, `ess` (ArviZ's
//! `ess(method="mean")`), `rhat` (split-R̂), `resolved` and the τ̂-vs-L table of the doubling rule
//! evaluated on prefixes L = n/2^k of the series. A series whose τ̂ is not stable under doubling is
//! reported with `resolved: false`: its `tau` is then only a lower bound.

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;
use thermoq_snr::tau::{self, ChainSet, DoublingReport};

/// Arguments of `thermoq tau`.
#[derive(Debug, Args)]
pub struct TauArgs {
    /// Series file: one number per line, or CSV with one column per chain.
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Print the JSON on one line.
    #[arg(long)]
    pub compact: bool,
}

/// What `thermoq tau` prints.
#[derive(Debug, Serialize)]
pub struct TauOutput {
    /// Pooled Sokal τ̂ (samples); a lower bound when `resolved` is false.
    pub tau: f64,
    /// Sokal window W.
    pub window: usize,
    /// Effective sample size (ArviZ `ess(method="mean")`).
    pub ess: f64,
    /// Split-R̂.
    pub rhat: f64,
    /// Whether τ̂ passed the doubling-stability rule.
    pub resolved: bool,
    /// Chains read.
    pub chains: usize,
    /// Samples per chain.
    pub samples: usize,
    /// Sokal's standard error of τ̂.
    pub std_err: f64,
    /// The τ̂-vs-L table on prefixes of the series.
    pub doubling: DoublingReport,
}

impl TauArgs {
    /// Runs the command.
    pub fn run(&self) -> Result<()> {
        let out = self.compute()?;
        let s = if self.compact {
            serde_json::to_string(&out)?
        } else {
            serde_json::to_string_pretty(&out)?
        };
        println!("{s}");
        Ok(())
    }

    /// Reads the file and computes the output.
    pub fn compute(&self) -> Result<TauOutput> {
        let text = std::fs::read_to_string(&self.input)
            .with_context(|| format!("reading {}", self.input.display()))?;
        let chains =
            parse_columns(&text).with_context(|| format!("parsing {}", self.input.display()))?;
        let n = chains[0].len();
        let refs: Vec<&[f64]> = chains.iter().map(Vec::as_slice).collect();
        let set = ChainSet::new(&refs)?;
        let est = tau::sokal_pooled(&set)?;
        let ess = tau::ess(&set)?;
        let rhat = tau::split_rhat(&set)?;
        // Doubling on prefixes: L₀ = n/2^k ≥ 16 (at most 6 doublings), ending at the full series.
        let mut l0 = n;
        let mut k = 0;
        while l0 / 2 >= 16 && k < 6 {
            l0 /= 2;
            k += 1;
        }
        let doubling = tau::doubling_run_multi(l0.max(4).min(n), n, chains.len(), |bufs, len| {
            for (b, c) in bufs.iter_mut().zip(&chains) {
                b.clear();
                b.extend_from_slice(&c[..len.min(c.len())]);
            }
        })?;
        Ok(TauOutput {
            tau: est.tau,
            window: est.window,
            ess,
            rhat,
            resolved: doubling.verdict.is_resolved(),
            chains: chains.len(),
            samples: n,
            std_err: est.std_err,
            doubling,
        })
    }
}

/// Parses one column per chain; all rows must have the same number of finite values.
fn parse_columns(text: &str) -> Result<Vec<Vec<f64>>> {
    let mut cols: Vec<Vec<f64>> = Vec::new();
    let mut first_data = true;
    for (ln, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line
            .split([',', ';', '\t', ' '])
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .collect();
        let parsed: Vec<Result<f64, _>> = fields.iter().map(|f| f.parse::<f64>()).collect();
        if first_data && parsed.iter().all(|p| p.is_err()) {
            continue; // a header of column names
        }
        let row: Vec<f64> = parsed
            .into_iter()
            .zip(&fields)
            .enumerate()
            .map(|(c, (p, f))| {
                p.map_err(|_| {
                    anyhow::anyhow!("line {}, column {}: {f:?} is not a number", ln + 1, c + 1)
                })
            })
            .collect::<Result<_>>()?;
        if let Some(c) = row.iter().position(|v| !v.is_finite()) {
            bail!(
                "line {}, column {}: value {} is not finite",
                ln + 1,
                c + 1,
                row[c]
            );
        }
        if first_data {
            cols = vec![Vec::new(); row.len()];
            first_data = false;
        } else if row.len() != cols.len() {
            bail!(
                "line {}: has {} columns, expected {} (one per chain, as on the first data line)",
                ln + 1,
                row.len(),
                cols.len()
            );
        }
        for (c, v) in cols.iter_mut().zip(row) {
            c.push(v);
        }
    }
    if cols.is_empty() || cols[0].len() < 8 {
        bail!(
            "input: expected at least 8 numbers per chain, found {}",
            cols.first().map_or(0, Vec::len)
        );
    }
    Ok(cols)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_columns_and_rejects_bad_rows() {
        let c = parse_columns("a,b\n1,2\n3,4\n5,6\n7,8\n9,1\n2,3\n4,5\n6,7\n").unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[1][0], 2.0);
        assert!(parse_columns("1,2\n3\n").is_err());
        assert!(parse_columns("1\nx\n").is_err());
        assert!(parse_columns("1\nNaN\n").is_err());
        assert!(parse_columns("1\n2\n").is_err());
    }
}
