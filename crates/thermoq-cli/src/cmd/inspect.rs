//! `thermoq inspect`: describe a model file (text, or JSON with `--json`).

use crate::output::{Format, print};
use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;
use thermoq_core::{Coloring, format::BINARY_MAGIC};
use thermoq_models::{EnergyModel, EnergyModelExt, IsingModel};

/// Arguments of `thermoq inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Model file (thermoq-ising-v1, JSON or binary).
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// What `thermoq inspect` reports.
#[derive(Debug, Serialize)]
pub struct ModelSummary {
    /// The file as given.
    pub model: String,
    /// `json` or `binary`.
    pub encoding: String,
    /// Number of spins.
    pub n: usize,
    /// Number of edges (couplings).
    pub edges: usize,
    /// Inverse temperature β.
    pub beta: f64,
    /// Smallest vertex degree.
    pub degree_min: usize,
    /// Largest vertex degree.
    pub degree_max: usize,
    /// Mean vertex degree.
    pub degree_mean: f64,
    /// Number of spins with no coupling.
    pub isolated: usize,
    /// Whether every bias is zero (global flip symmetry).
    pub bias_free: bool,
    /// Largest `|J_ij|`.
    pub max_abs_coupling: f64,
    /// Largest `|h_i|`.
    pub max_abs_bias: f64,
    /// Colours DSATUR uses (the block count of the chromatic kernels).
    pub dsatur_colors: usize,
    /// Colours first-fit greedy uses.
    pub greedy_colors: usize,
}

impl InspectArgs {
    /// Runs the command.
    pub fn run(&self) -> Result<()> {
        print(
            &summarize(&self.model)?,
            Format::json_or_text(self.json, Format::Json),
            print_text,
        )
    }
}

/// The text form of the summary.
fn print_text(s: &ModelSummary) {
    println!("model        {} ({})", s.model, s.encoding);
    println!("spins        {}", s.n);
    println!("edges        {}", s.edges);
    println!("beta         {}", s.beta);
    println!(
        "degree       min {}  max {}  mean {:.3}  isolated {}",
        s.degree_min, s.degree_max, s.degree_mean, s.isolated
    );
    println!("bias-free    {}", if s.bias_free { "yes" } else { "no" });
    println!(
        "max |J|      {}\nmax |h|      {}",
        s.max_abs_coupling, s.max_abs_bias
    );
    println!(
        "colours      DSATUR {}  greedy {}",
        s.dsatur_colors, s.greedy_colors
    );
}

/// Loads `path` and computes its summary.
pub fn summarize(path: &std::path::Path) -> Result<ModelSummary> {
    let model =
        IsingModel::load(path).with_context(|| format!("loading model {}", path.display()))?;
    let binary = std::fs::read(path)
        .map(|b| b.starts_with(BINARY_MAGIC))
        .unwrap_or(false);
    let g = model.graph();
    let n = g.n();
    let degs: Vec<usize> = (0..n).map(|i| g.degree(i)).collect();
    let absmax = |v: &[f64]| v.iter().map(|x| x.abs()).fold(0.0, f64::max);
    Ok(ModelSummary {
        model: path.display().to_string(),
        encoding: if binary { "binary" } else { "json" }.into(),
        n,
        edges: g.n_edges(),
        beta: model.beta(),
        degree_min: degs.iter().copied().min().unwrap_or(0),
        degree_max: degs.iter().copied().max().unwrap_or(0),
        degree_mean: if n > 0 {
            degs.iter().sum::<usize>() as f64 / n as f64
        } else {
            0.0
        },
        isolated: degs.iter().filter(|&&d| d == 0).count(),
        bias_free: model.is_bias_free(),
        max_abs_coupling: absmax(model.couplings()),
        max_abs_bias: absmax(model.biases()),
        dsatur_colors: Coloring::dsatur(g).n_colors(),
        greedy_colors: Coloring::greedy(g).n_colors(),
    })
}
