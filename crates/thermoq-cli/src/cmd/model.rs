//! `thermoq model <family>`: write a `thermoq-ising-v1` model file from one of the builders, so the
//! other subcommands (`sample`, `spectrum`, `snr`, `inspect`) have something to read without writing
//! JSON by hand.
//!
//! Every family's parameters are checked here before the builder runs (sizes, probabilities,
//! finite β and standard deviations), so bad arguments end in an error naming the option. The file is
//! JSON unless `--out` ends in `.bin`, written atomically; a one-line summary goes to stderr.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use thermoq_core::format::IsingFile;
use thermoq_models::{EnergyModel, IsingModel, Rbm, builders};

/// Largest spin count of the dense families (Curie–Weiss, SK, Hopfield): `N(N−1)/2` couplings, so
/// 4,096 spins is about 8.4 million edges (≈ 200 MB as `(i, j, J)` triples).
const MAX_DENSE_SPINS: usize = 4096;
/// Largest spin count of the sparse families (lattice, Erdős–Rényi, RBM units).
const MAX_SPARSE_SPINS: usize = 1 << 22;

/// Arguments of `thermoq model`.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// The model family.
    #[command(subcommand)]
    pub family: Family,
    /// Output file: JSON, or the binary form when the name ends in `.bin`.
    #[arg(
        long,
        short,
        value_name = "FILE",
        global = true,
        default_value = "model.json"
    )]
    pub out: PathBuf,
}

/// The families `thermoq model` can write.
#[derive(Debug, Subcommand)]
pub enum Family {
    /// Periodic 2D square lattice `lx × ly` with uniform coupling and bias.
    Lattice {
        /// Columns (≥ 3).
        #[arg(long, default_value_t = 8)]
        lx: usize,
        /// Rows (≥ 3).
        #[arg(long, default_value_t = 8)]
        ly: usize,
        /// Coupling on every edge.
        #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
        j: f64,
        /// Bias on every spin.
        #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
        h: f64,
        /// Inverse temperature β.
        #[arg(long, default_value_t = 0.4)]
        beta: f64,
    },
    /// Curie–Weiss: `J_ij = 1/N` on all pairs, no bias.
    CurieWeiss {
        /// Spins.
        #[arg(long, default_value_t = 10)]
        n: usize,
        /// Inverse temperature β.
        #[arg(long, default_value_t = 1.0)]
        beta: f64,
    },
    /// Sherrington–Kirkpatrick: `J_ij ~ N(0, 1/N)` on all pairs, no bias.
    Sk {
        /// Spins.
        #[arg(long, default_value_t = 10)]
        n: usize,
        /// Inverse temperature β.
        #[arg(long, default_value_t = 1.0)]
        beta: f64,
        /// Seed of the couplings.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Planted Hopfield: `J_ij = (1/N) Σ_μ ξ_i^μ ξ_j^μ` for random patterns, no bias.
    Hopfield {
        /// Spins.
        #[arg(long, default_value_t = 10)]
        n: usize,
        /// Planted patterns.
        #[arg(long, default_value_t = 3)]
        patterns: usize,
        /// Inverse temperature β.
        #[arg(long, default_value_t = 1.0)]
        beta: f64,
        /// Seed of the patterns.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Restricted Boltzmann machine with `W ~ N(0, std²)` (or planted patterns), zero biases.
    /// Visible units are spins `0..visible`, hidden units follow.
    Rbm {
        /// Visible units.
        #[arg(long, default_value_t = 6)]
        visible: usize,
        /// Hidden units.
        #[arg(long, default_value_t = 4)]
        hidden: usize,
        /// Standard deviation of the random weights (ignored with `--planted`).
        #[arg(long, default_value_t = 0.5)]
        std: f64,
        /// Plant this many patterns instead (`W_ij = (s/√m) Σ_μ ξ_i^μ ζ_j^μ`).
        #[arg(long)]
        planted: Option<usize>,
        /// Pattern strength `s` of `--planted`.
        #[arg(long, default_value_t = 1.0)]
        strength: f64,
        /// Inverse temperature β.
        #[arg(long, default_value_t = 1.0)]
        beta: f64,
        /// Seed of the weights or patterns.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Erdős–Rényi graph with edge probability `p`, couplings `N(0, j_std²)`, biases `N(0, h_std²)`.
    Sparse {
        /// Spins.
        #[arg(long, default_value_t = 20)]
        n: usize,
        /// Edge probability.
        #[arg(long, default_value_t = 0.2)]
        p: f64,
        /// Standard deviation of the couplings.
        #[arg(long, default_value_t = 0.5)]
        j_std: f64,
        /// Standard deviation of the biases (0 gives a flip-symmetric model).
        #[arg(long, default_value_t = 0.0)]
        h_std: f64,
        /// Inverse temperature β.
        #[arg(long, default_value_t = 1.0)]
        beta: f64,
        /// Seed of the graph and parameters.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// The learned Ising model (grid couplings and biases) of one layer of a trained DTM checkpoint
    /// (`checkpoint.json` of `cargo xtask train dtm`).
    DtmLayer {
        /// The checkpoint file.
        #[arg(long, value_name = "FILE")]
        checkpoint: PathBuf,
        /// Which denoising step's layer (0-based).
        #[arg(long, default_value_t = 0)]
        layer: usize,
    },
}

fn check_beta(beta: f64) -> Result<()> {
    if !beta.is_finite() || beta < 0.0 {
        bail!("--beta {beta}: expected a finite number ≥ 0");
    }
    Ok(())
}

fn check_finite(name: &str, v: f64) -> Result<()> {
    if !v.is_finite() {
        bail!("--{name} {v}: expected a finite number");
    }
    Ok(())
}

fn check_std(name: &str, v: f64) -> Result<()> {
    if !v.is_finite() || v < 0.0 {
        bail!("--{name} {v}: expected a finite number ≥ 0");
    }
    Ok(())
}

fn check_count(name: &str, v: usize, min: usize, max: usize) -> Result<()> {
    if v < min || v > max {
        bail!("--{name} {v}: expected a whole number in {min}..={max}");
    }
    Ok(())
}

impl Family {
    /// Builds the model after checking every argument.
    pub fn build(&self) -> Result<IsingModel> {
        Ok(match *self {
            Self::Lattice { lx, ly, j, h, beta } => {
                check_count("lx", lx, 3, MAX_SPARSE_SPINS)?;
                check_count("ly", ly, 3, MAX_SPARSE_SPINS)?;
                lx.checked_mul(ly)
                    .filter(|&n| n <= MAX_SPARSE_SPINS)
                    .with_context(|| {
                        format!("--lx {lx} --ly {ly}: at most {MAX_SPARSE_SPINS} spins")
                    })?;
                check_finite("j", j)?;
                check_finite("h", h)?;
                check_beta(beta)?;
                builders::lattice_2d(lx, ly, j, h, beta)?
            }
            Self::CurieWeiss { n, beta } => {
                check_count("n", n, 2, MAX_DENSE_SPINS)?;
                check_beta(beta)?;
                builders::curie_weiss(n, beta)
            }
            Self::Sk { n, beta, seed } => {
                check_count("n", n, 2, MAX_DENSE_SPINS)?;
                check_beta(beta)?;
                builders::sherrington_kirkpatrick(n, beta, seed)
            }
            Self::Hopfield {
                n,
                patterns,
                beta,
                seed,
            } => {
                check_count("n", n, 2, MAX_DENSE_SPINS)?;
                check_count("patterns", patterns, 1, n)?;
                check_beta(beta)?;
                builders::hopfield(n, patterns, beta, seed).0
            }
            Self::Rbm {
                visible,
                hidden,
                std,
                planted,
                strength,
                beta,
                seed,
            } => {
                check_count("visible", visible, 1, MAX_SPARSE_SPINS)?;
                check_count("hidden", hidden, 1, MAX_SPARSE_SPINS)?;
                visible
                    .checked_mul(hidden)
                    .filter(|&e| e <= MAX_SPARSE_SPINS * 4)
                    .with_context(|| {
                        format!(
                            "--visible {visible} --hidden {hidden}: at most {} weights",
                            MAX_SPARSE_SPINS * 4
                        )
                    })?;
                check_beta(beta)?;
                let rbm = match planted {
                    Some(k) => {
                        check_count("planted", k, 1, visible.min(hidden))?;
                        check_finite("strength", strength)?;
                        Rbm::planted(visible, hidden, k, strength, beta, seed)?
                    }
                    None => {
                        check_std("std", std)?;
                        Rbm::random(visible, hidden, std, beta, seed)?
                    }
                };
                rbm.as_ising().clone()
            }
            Self::Sparse {
                n,
                p,
                j_std,
                h_std,
                beta,
                seed,
            } => {
                check_count("n", n, 1, MAX_DENSE_SPINS)?;
                if !(0.0..=1.0).contains(&p) {
                    bail!("--p {p}: expected a probability in [0, 1]");
                }
                check_std("j-std", j_std)?;
                check_std("h-std", h_std)?;
                check_beta(beta)?;
                builders::random_sparse(n, p, j_std, h_std, beta, seed)
            }
            Self::DtmLayer {
                ref checkpoint,
                layer,
            } => {
                let run = thermoq_train::dtm::DtmRun::load(checkpoint)
                    .with_context(|| format!("loading --checkpoint {}", checkpoint.display()))?;
                let layers = run.layers();
                let l = layers.get(layer).with_context(|| {
                    format!(
                        "--layer {layer}: the checkpoint has {} layer(s), 0..={}",
                        layers.len(),
                        layers.len().saturating_sub(1)
                    )
                })?;
                l.learned().clone()
            }
        })
    }
}

impl ModelArgs {
    /// Runs the command.
    pub fn run(&self) -> Result<()> {
        let model = self.family.build()?;
        let file: IsingFile = model.to_file();
        file.save(&self.out)
            .with_context(|| format!("writing --out {}", self.out.display()))?;
        eprintln!(
            "wrote {}: {} spins, {} edges, β = {}",
            self.out.display(),
            model.n_spins(),
            model.graph().n_edges(),
            file.beta
        );
        Ok(())
    }
}
