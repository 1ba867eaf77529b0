//! `thermoq tau` — integrated autocorrelation time of a recorded series, with the
//! doubling-stability verdict.
//!
//! Input: a text file with one number per line (one chain), or CSV with one column per chain
//! (an optional header line of non-numeric names is skipped; `#` starts a comment). Output: one
//! JSON object with `tau` (pooled Sokal, c = 5, in samples), `window`, `ess` (ArviZ's
//! `ess(method="mean")`), `rhat` (split-R̂), `resolved` and the τ̂-vs-L table of the doubling rule
//! evaluated on prefixes L = n/2^k of the series. A series whose τ̂ is not stable under doubling is
//! reported with `resolved: false`: its `tau` is then only a lower bound.
//!
//! Values of extreme magnitude (largest |x| above 2^256 or below 2^-256, e.g. near ±1e308) are
//! first multiplied by a power of two that brings the largest |x| into [1, 2): the product is
//! exact, and τ̂, ESS and R̂ do not depend on the scale, but squares and sums of the raw values
//! would overflow (or underflow) f64. Ordinary inputs are used exactly as read. Any estimate that
//! is still not finite is an error naming it, never a JSON `null`. The ESS is at most
//! `M·N·log10(M·N)` (τ̂ is floored at 1/log10(M·N), as in ArviZ); it exceeds the sample count
//! `M·N` only for anti-correlated chains.

use crate::output::{Format, print};
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
    #[serde(serialize_with = "doubling_without_nulls")]
    pub doubling: DoublingReport,
}

impl TauArgs {
    /// Runs the command.
    pub fn run(&self) -> Result<()> {
        let format = if self.compact {
            Format::JsonLine
        } else {
            Format::Json
        };
        print(&self.compute()?, format, |_| {})
    }

    /// Reads the file and computes the output.
    pub fn compute(&self) -> Result<TauOutput> {
        let text = std::fs::read_to_string(&self.input)
            .with_context(|| format!("reading {}", self.input.display()))?;
        let mut chains =
            parse_columns(&text).with_context(|| format!("parsing {}", self.input.display()))?;
        thermoq_data::columns::rescale_extreme(&mut chains);
        let n = chains[0].len();
        let refs: Vec<&[f64]> = chains.iter().map(Vec::as_slice).collect();
        let set = ChainSet::new(&refs)?;
        let est = tau::sokal_pooled(&set)?;
        let ess = tau::ess(&set)?;
        let rhat = tau::split_rhat(&set)?;
        // Doubling on prefixes: L₀ = n/2^k ≥ 16 (at most 6 doublings), ending at the full series.
        let doubling = tau::doubling_prefixes(&chains)?;
        for (field, v) in [
            ("tau", est.tau),
            ("ess", ess),
            ("rhat", rhat),
            ("std_err", est.std_err),
        ] {
            if !v.is_finite() {
                bail!("{field}: is {v}, not representable as a finite number");
            }
        }
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

/// Writes the doubling report with absent values (the first row's `ratio_to_prev`) left out
/// instead of written as `null`: every number in the output is a finite number.
fn doubling_without_nulls<S: serde::Serializer>(
    d: &DoublingReport,
    s: S,
) -> Result<S::Ok, S::Error> {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(o) => {
                o.retain(|_, x| !x.is_null());
                o.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(d).map_err(serde::ser::Error::custom)?;
    strip(&mut v);
    serde::Serialize::serialize(&v, s)
}

/// Parses one column per chain; all rows must have the same number of finite values.
fn parse_columns(text: &str) -> Result<Vec<Vec<f64>>> {
    Ok(thermoq_data::columns::parse_columns(text)?)
}
